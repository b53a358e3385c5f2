// The supervisor's and admin's desk: views behind tabs — the live wallboard (the server's
// `wallboard` push), the history (statistics reports as charts and tables), the booth
// fleet, and for an admin the appointments they book for experts. The server scopes everything to the account's agencies (docs/console.md,
// Supervisor and admin); this page only shows what it is given.

import { backToLogin, currentUser, onSignOut } from './auth.js';
import { startBookings } from './bookings.js';
import { connect } from './connection.js';
import { $ } from './dom.js';
import { loadDirectory } from './directory.js';
import { fleetState, renderFleet, startFleet, stopFleet, tickFleet } from './fleet.js';
import { historyState, renderHistory, showHistory } from './history.js';
import { t, translate } from './i18n.js';
import { show } from './screens.js';
import { applyWallboard, renderWallboard, tickWallboard, wallboardState } from './wallboard.js';

const VIEWS = ['wallboard', 'history', 'fleet', 'bookings'];

let started = false;
let view = 'wallboard';

/** Tell whether the account's desk is this one: a supervisor or an admin, nothing else. */
export function isSupervisorAccount(user) {
  const roles = user?.roles ?? [];
  return (roles.includes('supervisor') || roles.includes('admin'))
    && !roles.includes('expert') && !roles.includes('interpreter');
}

/** Start the desk for the signed-in supervisor or admin (once). */
export async function startSupervisorDesk() {
  if (started) return;
  started = true;
  const user = currentUser();
  $('who-name').textContent = user.display_name || user.username;
  $('brand-name').dataset.i18n = 'app.name_supervisor';
  translate($('brand-name').parentElement);
  await loadDirectory();
  $('tab-bookings').hidden = !user.roles?.includes('admin');
  if (user.roles?.includes('admin')) {
    // An admin books for experts: the expert desk's bookings card is the same one.
    $('tab-bookings').hidden = false;
    $('panel-bookings').append($('bookings'));
    startBookings().catch((error) => console.warn('bookings', error));
  }
  wireTabs();
  selectView('wallboard', { focus: false });
  renderWallboard();
  show('supervisor');
  onSignOut(() => {
    stopFleet();
    started = false;
  });
  try {
    await connect({ onMessage: onServerMessage, onWelcome: () => {} });
  } catch (error) {
    if (error.code !== 'unauthenticated') throw error;
    started = false;
    backToLogin(t('login.expired'));
  }
}

let tabsWired = false;

/** The tabs: click, or arrow keys / Home / End between them (the WAI-ARIA tabs pattern). */
function wireTabs() {
  if (tabsWired) return;
  tabsWired = true;
  for (const name of VIEWS) {
    const tab = $(`tab-${name}`);
    tab.addEventListener('click', () => selectView(name));
    tab.addEventListener('keydown', (event) => {
      // The tabs shown now (an admin has one more).
      const names = VIEWS.filter((other) => !$(`tab-${other}`).hidden);
      const i = names.indexOf(name);
      const moves = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: names.length - 1 };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const next = names[(moves[event.key] + names.length) % names.length];
      selectView(next);
      $(`tab-${next}`).focus();
    });
  }
}

/** Show one view; the fleet is polled only while it is shown. */
export function selectView(name, { focus = false } = {}) {
  view = name;
  for (const other of VIEWS) {
    const tab = $(`tab-${other}`);
    const selected = other === name;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(`panel-${other}`).hidden = !selected;
  }
  if (name === 'fleet') startFleet();
  else stopFleet();
  if (name === 'history') showHistory().catch((error) => console.warn('history', error));
  if (focus) $(`tab-${name}`).focus();
}

/** Show the desk in the chosen language. */
export function renderSupervisor() {
  if (!started) return;
  renderWallboard();
  renderHistory();
  renderFleet();
}

/** Move the desk's clocks on by a second. */
export function tickSupervisor() {
  if (!started) return;
  tickWallboard();
  tickFleet();
}

/** The view shown (for diagnostics). */
export function supervisorView() {
  return started ? view : null;
}

/** Hand a server message to the module it concerns. */
function onServerMessage(msg) {
  if (msg.type === 'wallboard') applyWallboard(msg);
  else if (msg.type === 'error') console.warn('server error', msg);
}

/** Technical state for tests and support staff: counts and states only. */
window.supervisorDiagnostics = () => ({
  view: supervisorView(), wallboard: wallboardState(), history: historyState(), fleet: fleetState(),
});
