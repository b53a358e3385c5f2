// Signing in: the login form, the cookie's refresh at half its lifetime, the password asked
// again when the login ends (the call goes on meanwhile), and signing out.

import { api, setCsrfToken } from './api.js';
import { ring } from './bell.js';
import { connection, request } from './connection.js';
import { closeDialog, guarded, openDialog } from './dialog.js';
import { $, announce } from './dom.js';
import { minutesUp } from './format.js';
import { t } from './i18n.js';
import { show } from './screens.js';

const REFRESH_RETRY_MS = 30000;

let user = null;
let expiresAt = null;
let refreshTimer = null;
const signOutHooks = new Set(); // what stops with the login (timers of the desks)

/** Run `stop` when the login ends (sign-out, or back to the sign-in screen). */
export function onSignOut(stop) {
  signOutHooks.add(stop);
}

/** Stop everything that belongs to the login. */
function runSignOutHooks() {
  for (const stop of signOutHooks) {
    try {
      stop();
    } catch (error) {
      console.warn('sign-out', error);
    }
  }
}

/** Return the signed-in user (null before sign-in). */
export function currentUser() {
  return user;
}

/** Plain words for a failed login (the server does not say which field was wrong). */
function loginErrorText({ status, data }) {
  const error = data?.error ?? {};
  if (status === 429 || error.code === 'rate_limited') {
    return t('login.rate_limited', { n: minutesUp(error.retry_after_s) });
  }
  if (status === 401) return t('login.wrong');
  if (status === 400 && error.field === 'username') return t('login.need_username');
  if (status === 400 && error.field === 'password') return t('login.need_password');
  if (status === 403) return t('login.forbidden');
  return t('login.failed');
}

/** Take the login the server answered with, and plan its refresh. */
function acceptLogin(data) {
  user = data.user;
  setCsrfToken(data.csrf_token);
  expiresAt = data.expires_at;
  scheduleRefresh();
}

/** Refresh the login at half its remaining lifetime. */
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  const left = (expiresAt ?? 0) - Date.now() / 1000;
  const afterS = Math.max(2, left / 2);
  refreshTimer = setTimeout(() => refreshLogin(), afterS * 1000);
}

/** Try the refresh again a while later. */
function retryRefresh() {
  refreshTimer = setTimeout(() => refreshLogin(), REFRESH_RETRY_MS);
}

/** Renew the login cookie; when the login is over, ask for the password. */
async function refreshLogin() {
  let reply;
  try {
    reply = await api('POST', '/console/api/refresh');
  } catch (error) {
    console.warn('refresh', error);
    retryRefresh();
    return;
  }
  if (reply.status === 200) {
    acceptLogin(reply.data);
    return;
  }
  if (reply.status === 401 || reply.status === 403) {
    // The login session is over: ask for the password again; the call goes on meanwhile.
    openRelogin();
    return;
  }
  retryRefresh();
}

/** Resolve with whether the login cookie still holds (after a reload). */
export async function restoreLogin() {
  let me = null;
  try {
    me = await api('GET', '/console/api/me');
  } catch (error) {
    console.warn('me', error);
  }
  if (me?.status !== 200) return false;
  acceptLogin(me.data);
  return true;
}

/** Show the sign-in screen with the focus in the username. */
export function showLogin() {
  show('login');
  $('login-username').focus();
}

/** Go back to the sign-in screen with `text` under the fields. */
export function backToLogin(text) {
  runSignOutHooks();
  show('login');
  $('login-error').textContent = text;
}

/** Post a login; resolve with the reply, or null if the service cannot be reached. */
async function postLogin(username, password) {
  try {
    return await api('POST', '/console/api/login', { username, password });
  } catch (failure) {
    console.warn('login', failure);
    return null;
  }
}

/** Say `text` under the login fields and mark the field `id` as the one to fix. */
function refuseLogin(id, text) {
  $('login-error').textContent = text;
  $(id).setAttribute('aria-invalid', 'true');
  $(id).focus();
}

/** Sign in with the form's username and password, then start the desk. */
async function submitLogin(event, onSignedIn) {
  event.preventDefault();
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  const error = $('login-error');
  error.textContent = '';
  for (const id of ['login-username', 'login-password']) $(id).removeAttribute('aria-invalid');
  if (!username) {
    refuseLogin('login-username', t('login.need_username'));
    return;
  }
  if (!password) {
    refuseLogin('login-password', t('login.need_password'));
    return;
  }
  ring.unlock(); // a user gesture: later rings may sound
  const button = $('login-submit');
  button.disabled = true;
  const reply = await postLogin(username, password);
  button.disabled = false;
  if (!reply) {
    error.textContent = t('login.unreachable');
    return;
  }
  $('login-password').value = '';
  if (reply.status !== 200) {
    refuseLogin('login-password', loginErrorText(reply));
    return;
  }
  acceptLogin(reply.data);
  await onSignedIn();
}

/** Ask for the password again, over whatever is on the screen. */
function openRelogin() {
  $('relogin-username').value = user?.username ?? '';
  $('relogin-password').value = '';
  $('relogin-error').textContent = '';
  openDialog($('relogin-dialog'));
  $('relogin-password').focus();
  announce(t('relogin.title'));
}

/** Sign in again with the password dialog's password. */
async function submitRelogin(event) {
  event.preventDefault();
  const password = $('relogin-password').value;
  const error = $('relogin-error');
  if (!password) {
    error.textContent = t('login.need_password');
    return;
  }
  const reply = await postLogin(user.username, password);
  if (!reply) {
    error.textContent = t('login.unreachable');
    return;
  }
  $('relogin-password').value = '';
  if (reply.status !== 200) {
    error.textContent = loginErrorText(reply);
    return;
  }
  acceptLogin(reply.data);
  closeDialog($('relogin-dialog'));
  // A socket that dropped meanwhile retries with the renewed cookie: try at once.
  const signaling = connection();
  if (signaling && signaling.state !== 'open') signaling.reconnect();
}

/** Pause, end the login and start over at the sign-in screen. */
async function logout() {
  // Off the routing first: a closed console must not be rung during its grace period.
  // (A supervisor or an admin is never rung: nothing to pause.)
  const rung = (user?.roles ?? []).some((role) => role === 'expert' || role === 'interpreter');
  if (rung && connection()?.state === 'open') {
    try {
      await request({ type: 'set_availability', status: 'paused', reason: 'signed_out' });
    } catch (error) {
      console.warn('pause on sign-out', error);
    }
  }
  try {
    await api('POST', '/console/api/logout');
  } catch (error) {
    console.warn('logout', error);
  }
  runSignOutHooks();
  connection()?.close();
  location.replace('/console/');
}

/** Wire the login form, the password dialog and Sign out; `onSignedIn` starts the desk. */
export function wireLogin(onSignedIn) {
  $('login-form').addEventListener('submit', guarded((event) => submitLogin(event, onSignedIn)));
  $('relogin-form').addEventListener('submit', guarded(submitRelogin));
  $('relogin-dialog').addEventListener('cancel', (event) => event.preventDefault()); // must log in
  $('logout').addEventListener('click', guarded(logout));
}
