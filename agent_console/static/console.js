// The expert console: log in, say when you are available, answer calls, serve the citizen.
//
// One screen at a time (<section data-screen>): login, home (the desk between calls), offer
// (a call rings) and call. The login is an HttpOnly cookie the page never sees; the
// WebSocket says hello without a token and the server reads the cookie (docs/console.md).
// Everything the server or a person wrote is shown with textContent, never as markup.
// Nothing about the citizen is kept: the chat lives in the page only while the call lasts.

import { Call } from '/client/call.js';
import { describeMediaError, openLocalMedia } from '/client/media.js';
import { Signaling } from '/client/signaling.js';
import { clock, minutesUp, qualityDetails, qualityWord, timeOfDay } from './format.js';
import {
  UI_LANGUAGES, initialLanguage, language, languageName, loadCatalogs, localized, setLanguage, t,
} from './i18n.js';
import { Ring } from './ring.js';

const ICONS = '/console/icons.svg';
const CALL_STATES = new Set(['connecting', 'active']);
const PAUSE_REASONS = ['break', 'meeting', 'training', 'other'];
const CHAT_MAX = 1000;
const NOTE_MAX = 500;
const REFRESH_RETRY_MS = 30000;
const TICK_MS = 1000;
// How long past its ring time an offer stays up waiting for the server's word.
const OFFER_GRACE_S = 5;
// Interpreting languages the dialog offers (the kiosk's list); names come from the catalogue.
const INTERPRETING_LANGUAGES = ['ar', 'so', 'ru', 'uk', 'fa', 'ckb', 'et', 'zh', 'vi', 'th', 'fse', 'fss',
  'fi', 'sv', 'en'];
// Alt+<key> shortcuts (event.code, so that they work on every keyboard layout).
const SHORTCUTS = [
  { code: 'KeyA', keys: 'Alt+A', label: 'shortcuts.accept', run: () => acceptOffer() },
  { code: 'KeyD', keys: 'Alt+D', label: 'shortcuts.decline', run: () => declineOffer() },
  { code: 'KeyM', keys: 'Alt+M', label: 'shortcuts.mute', run: () => toggleMute() },
  { code: 'KeyV', keys: 'Alt+V', label: 'shortcuts.camera', run: () => toggleCamera() },
  { code: 'KeyE', keys: 'Alt+E', label: 'shortcuts.end', run: () => openOutcomes() },
  { code: 'KeyT', keys: 'Alt+T', label: 'shortcuts.transfer', run: () => openTransfer() },
  { code: 'KeyI', keys: 'Alt+I', label: 'shortcuts.interpreter', run: () => openInterpreter() },
  { code: 'KeyC', keys: 'Alt+C', label: 'shortcuts.chat', run: () => focusChat() },
];

const $ = (id) => document.getElementById(id);

const S = {
  screen: 'loading',
  user: null,
  csrf: null,
  expiresAt: null,
  refreshTimer: null,
  config: null,
  signaling: null,
  availability: { status: 'unknown', reason: null, skills: null, canChoose: false, wrapUpEnd: null },
  overview: null, // {queues, colleagues, at}
  offer: null, // {message, at}
  accepting: null, // session id of the offer being accepted
  callNote: null, // the transfer note of the call answered (kept only while it lasts)
  call: null,
  session: null,
  localStream: null,
  callStartedAt: null,
  quality: null,
  endingCall: false,
  homeNotice: null, // {key, vars}
  started: false,
};

const ring = new Ring();

// --- small helpers ---------------------------------------------------------------------

function element(tag, { className, text, attrs } = {}) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  for (const [name, value] of Object.entries(attrs ?? {})) el.setAttribute(name, value);
  return el;
}

function announce(text) {
  const announcer = $('announcer');
  announcer.textContent = '';
  // A fresh text a moment later makes screen readers speak even a repeated message.
  setTimeout(() => { announcer.textContent = text; }, 50);
}

/** Run an event handler; an unexpected failure is logged and shown, never swallowed. */
function guarded(handler) {
  return async (event) => {
    try {
      await handler(event);
    } catch (error) {
      console.error(error);
      message(t('error.title'), t('error.text'));
    }
  };
}

function message(title, text) {
  $('message-title').textContent = title;
  $('message-text').textContent = text;
  openDialog($('message-dialog'));
}

// --- REST ------------------------------------------------------------------------------

/** Call the console API; resolve with {status, data} (data: the JSON body or null). */
async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && S.csrf) headers['x-csrf-token'] = S.csrf;
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch { data = null; }
  }
  return { status: response.status, data };
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

function acceptLogin(data) {
  S.user = data.user;
  S.csrf = data.csrf_token;
  S.expiresAt = data.expires_at;
  scheduleRefresh();
}

function scheduleRefresh() {
  clearTimeout(S.refreshTimer);
  const left = (S.expiresAt ?? 0) - Date.now() / 1000;
  const afterS = Math.max(2, left / 2);
  S.refreshTimer = setTimeout(() => refreshLogin(), afterS * 1000);
}

async function refreshLogin() {
  let reply;
  try {
    reply = await api('POST', '/console/api/refresh');
  } catch (error) {
    console.warn('refresh', error);
    S.refreshTimer = setTimeout(() => refreshLogin(), REFRESH_RETRY_MS);
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
  S.refreshTimer = setTimeout(() => refreshLogin(), REFRESH_RETRY_MS);
}

// --- screens and dialogs ---------------------------------------------------------------

function show(name, { focus = true } = {}) {
  for (const el of document.querySelectorAll('section[data-screen]')) {
    el.hidden = el.dataset.screen !== name;
  }
  S.screen = name;
  document.body.dataset.screen = name;
  const loggedIn = name !== 'login' && name !== 'loading';
  $('availability-bar').hidden = !loggedIn;
  $('ring-mute').hidden = !loggedIn;
  $('who').hidden = !loggedIn;
  $('logout').hidden = !loggedIn || name === 'call';
  if (focus && !document.querySelector('dialog[open]')) {
    const heading = document.querySelector(`section[data-screen="${name}"] h1`);
    heading?.focus({ preventScroll: true });
  }
}

const returnFocus = new WeakMap();

function openDialog(dialog) {
  if (dialog.open) return;
  returnFocus.set(dialog, document.activeElement);
  dialog.showModal();
  const first = dialog.querySelector('[autofocus], input:not([readonly]):not([type=hidden]), select, textarea, button');
  first?.focus();
}

function closeDialog(dialog) {
  if (dialog.open) dialog.close();
}

function onDialogClosed(dialog) {
  const back = returnFocus.get(dialog);
  returnFocus.delete(dialog);
  if (back && document.contains(back) && back.offsetParent !== null) back.focus();
  else document.querySelector(`section[data-screen="${S.screen}"] h1`)?.focus({ preventScroll: true });
}

// --- login -----------------------------------------------------------------------------

async function submitLogin(event) {
  event.preventDefault();
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  const error = $('login-error');
  error.textContent = '';
  for (const id of ['login-username', 'login-password']) $(id).removeAttribute('aria-invalid');
  if (!username) {
    error.textContent = t('login.need_username');
    $('login-username').setAttribute('aria-invalid', 'true');
    $('login-username').focus();
    return;
  }
  if (!password) {
    error.textContent = t('login.need_password');
    $('login-password').setAttribute('aria-invalid', 'true');
    $('login-password').focus();
    return;
  }
  ring.unlock(); // a user gesture: later rings may sound
  const button = $('login-submit');
  button.disabled = true;
  let reply;
  try {
    reply = await api('POST', '/console/api/login', { username, password });
  } catch (failure) {
    console.warn('login', failure);
    error.textContent = t('login.unreachable');
    return;
  } finally {
    button.disabled = false;
  }
  if (reply.status !== 200) {
    error.textContent = loginErrorText(reply);
    $('login-password').value = '';
    $('login-password').setAttribute('aria-invalid', 'true');
    $('login-password').focus();
    return;
  }
  $('login-password').value = '';
  acceptLogin(reply.data);
  await startDesk();
}

function openRelogin() {
  const dialog = $('relogin-dialog');
  $('relogin-username').value = S.user?.username ?? '';
  $('relogin-password').value = '';
  $('relogin-error').textContent = '';
  openDialog(dialog);
  $('relogin-password').focus();
  announce(t('relogin.title'));
}

async function submitRelogin(event) {
  event.preventDefault();
  const password = $('relogin-password').value;
  const error = $('relogin-error');
  if (!password) {
    error.textContent = t('login.need_password');
    return;
  }
  let reply;
  try {
    reply = await api('POST', '/console/api/login', { username: S.user.username, password });
  } catch (failure) {
    console.warn('login', failure);
    error.textContent = t('login.unreachable');
    return;
  }
  if (reply.status !== 200) {
    error.textContent = loginErrorText(reply);
    $('relogin-password').value = '';
    return;
  }
  $('relogin-password').value = '';
  acceptLogin(reply.data);
  closeDialog($('relogin-dialog'));
  // A socket that dropped meanwhile retries with the renewed cookie: try at once.
  if (S.signaling && S.signaling.state !== 'open') S.signaling.reconnect();
}

async function logout() {
  // Off the routing first: a closed console must not be rung during its grace period.
  if (S.signaling?.state === 'open') {
    try {
      await S.signaling.request({ type: 'set_availability', status: 'paused', reason: 'signed_out' });
    } catch (error) {
      console.warn('pause on sign-out', error);
    }
  }
  try {
    await api('POST', '/console/api/logout');
  } catch (error) {
    console.warn('logout', error);
  }
  S.signaling?.close();
  location.replace('/console/');
}

// --- the desk: configuration and signaling ---------------------------------------------

async function startDesk() {
  if (S.started) return;
  S.started = true;
  $('who-name').textContent = S.user.display_name || S.user.username;
  if (!(S.user.roles ?? []).includes('expert')) {
    S.started = false;
    show('login');
    $('login-error').textContent = t('login.not_expert');
    return;
  }
  const config = await api('GET', '/console/api/config');
  if (config.status !== 200) throw new Error(`config: HTTP ${config.status}`);
  S.config = config.data;
  renderOutcomes();
  renderSkills();
  renderAvailability();
  renderOverview();
  show('home');
  await connectSignaling();
}

function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

async function connectSignaling() {
  // getToken returns null: hello goes without a token, the cookie authenticates.
  const signaling = new Signaling({ url: wsUrl(), getToken: async () => null });
  S.signaling = signaling;
  signaling.addEventListener('message', ({ detail }) => onServerMessage(detail));
  signaling.addEventListener('state', ({ detail }) => {
    $('connection').hidden = detail.state !== 'reconnecting';
    if (detail.state === 'closed' && detail.reason === 'replaced') {
      message(t('replaced.title'), t('replaced.text'));
    }
  });
  signaling.addEventListener('welcome', ({ detail }) => onWelcome(detail.welcome));
  try {
    await signaling.connect();
  } catch (error) {
    console.warn('signaling', error);
    if (error.code === 'unauthenticated') {
      S.started = false;
      show('login');
      $('login-error').textContent = t('login.expired');
      return;
    }
    throw error;
  }
}

function onWelcome(welcome) {
  // After a reload the server still counts us in our call: go straight back to it.
  if (S.call || S.accepting) return;
  const live = (welcome.sessions ?? []).find((s) => CALL_STATES.has(s.state));
  if (live) rejoin(live).catch((error) => { console.error(error); message(t('error.title'), t('error.text')); });
}

function onServerMessage(msg) {
  switch (msg.type) {
    case 'availability':
      applyAvailability(msg);
      break;
    case 'queue_overview':
      S.overview = { queues: msg.queues ?? [], colleagues: msg.colleagues ?? [], at: performance.now() };
      renderOverview();
      break;
    case 'offer':
      showOffer(msg);
      break;
    case 'offer_withdrawn':
      offerWithdrawn(msg);
      break;
    case 'session_update':
      // The Call is made from the session_update that makes us a member, not after the
      // accept's reply: the booth's first signal may come in between (docs/browser_client.md).
      if (!S.call && S.accepting === msg.session?.session_id && CALL_STATES.has(msg.session.state)) {
        startCall(msg.session);
      }
      break;
    case 'chat':
      if (S.call && msg.session_id === S.call.sessionId) addChatLine(msg.from, msg.text, msg.at);
      break;
    case 'session_ended':
      if (!S.call && S.accepting === msg.session_id) {
        S.accepting = null;
        stopLocalMedia();
        setHomeNotice('ended.booth_left');
        show('home');
      }
      break;
    case 'error':
      console.warn('server error', msg);
      break;
    default:
      break;
  }
}

// --- availability and skills -----------------------------------------------------------

function applyAvailability(msg) {
  const previous = S.availability;
  S.availability = {
    status: msg.status,
    reason: msg.reason ?? null,
    skills: msg.skills ?? previous.skills,
    canChoose: Boolean(msg.can_choose_skills),
    wrapUpEnd: msg.status === 'wrap_up' && typeof msg.wrap_up_s === 'number'
      ? Date.now() + msg.wrap_up_s * 1000 : null,
  };
  if (msg.status === 'paused' && msg.reason === 'missed_offers' && previous.reason !== 'missed_offers') {
    setHomeNotice('availability.missed_notice');
    announce(t('availability.missed_notice'));
  } else if (msg.status === 'available' && S.homeNotice?.key === 'availability.missed_notice') {
    setHomeNotice(null);
  }
  if (msg.status === 'paused' && PAUSE_REASONS.includes(msg.reason)) $('pause-reason').value = msg.reason;
  renderAvailability();
  renderSkills();
}

function reasonText(reason) {
  if (!reason) return '';
  const key = `reason.${reason}`;
  const text = t(key);
  return text === key ? reason : text; // a reason set elsewhere is shown as it is, as text
}

function renderAvailability() {
  const { status, reason, wrapUpEnd } = S.availability;
  const pill = $('availability');
  pill.dataset.status = status;
  let text;
  if (status === 'available') text = t('availability.is_available');
  else if (status === 'paused') text = reason ? t('availability.is_paused_reason', { reason: reasonText(reason) }) : t('availability.is_paused');
  else if (status === 'wrap_up') {
    const left = wrapUpEnd ? (wrapUpEnd - Date.now()) / 1000 : null;
    text = left !== null && left <= 0 ? t('availability.is_available') : t('availability.is_wrap_up', { time: clock(left) });
    if (left !== null && left <= 0) pill.dataset.status = 'available';
  } else text = t('availability.unknown');
  if (S.call) text = t('availability.in_call');
  pill.dataset.call = String(Boolean(S.call));
  $('availability-text').textContent = text;
  const shown = pill.dataset.status;
  // The reason is asked only while paused: one control less the rest of the day.
  $('pause-reason').hidden = shown !== 'paused';
  $('pause-reason-label').hidden = shown !== 'paused';
  $('go-available').setAttribute('aria-pressed', String(shown === 'available'));
  $('go-paused').setAttribute('aria-pressed', String(shown === 'paused'));
  $('go-available-text').textContent = t(status === 'wrap_up' && shown === 'wrap_up'
    ? 'availability.available_now' : 'availability.available');
}

/** The service ids the expert may serve of `agencyIds` (all of theirs unless limited). */
function servicesOf(agencyIds) {
  const grants = S.user?.grants?.expert ?? {};
  const ids = [];
  for (const agency of S.config?.agencies ?? []) {
    if (!agencyIds.includes(agency.id)) continue;
    for (const service of agency.services) {
      if ((!grants.services || grants.services.includes(service.id)) && !ids.includes(service.id)) ids.push(service.id);
    }
  }
  return ids;
}

function chosenSkills() {
  if (!S.availability.canChoose) return undefined;
  const checked = (group) => [...$(`skills-${group}`).querySelectorAll('input:checked')].map((i) => i.value);
  const skills = { agencies: checked('agencies'), languages: checked('languages') };
  const offered = servicesOf(skills.agencies);
  const services = checked('services').filter((id) => offered.includes(id));
  const grants = S.user?.grants?.expert ?? {};
  // Every service of an unlimited account: send none, which means all (and new ones too).
  const all = !grants.services && offered.every((id) => services.includes(id));
  if (!all) skills.services = services;
  return skills;
}

async function setAvailability(status) {
  const request = { type: 'set_availability', status };
  if (status === 'paused') request.reason = $('pause-reason').value;
  ring.unlock();
  try {
    await S.signaling.request(request);
  } catch (error) {
    console.warn('set_availability', error);
    message(t('error.title'), t('availability.failed'));
  }
}

async function sendSkills() {
  const skills = chosenSkills();
  const error = $('skills-error');
  error.textContent = '';
  if (!skills) return;
  if (!skills.agencies.length || !skills.languages.length || (skills.services && !skills.services.length)) {
    error.textContent = t('skills.need_one');
    return;
  }
  const status = S.availability.status === 'available' ? 'available' : 'paused';
  const request = { type: 'set_availability', status, skills };
  if (status === 'paused') request.reason = S.availability.reason ?? $('pause-reason').value;
  try {
    await S.signaling.request(request);
  } catch (failure) {
    console.warn('skills', failure);
    error.textContent = t('skills.failed');
  }
}

function agencyName(id) {
  return localized(S.config?.agencies?.find((a) => a.id === id)?.name) || id;
}

function serviceName(agencyId, serviceId) {
  const agency = S.config?.agencies?.find((a) => a.id === agencyId);
  return localized(agency?.services?.find((s) => s.id === serviceId)?.name) || serviceId;
}

function renderSkills() {
  // Every availability push re-renders the skills: keep the keyboard focus where it was.
  const focused = document.activeElement?.closest?.('#skills-form') ? document.activeElement.dataset.testid : null;
  fillSkills();
  if (focused) document.querySelector(`[data-testid="${focused}"]`)?.focus();
}

function fillSkills() {
  const grants = S.user?.grants?.expert ?? { agencies: [], languages: [] };
  const skills = S.availability.skills ?? grants;
  const choose = S.availability.canChoose;
  $('skills-help').textContent = t(choose ? 'skills.choose_help' : 'skills.fixed_help');
  const wrapUp = S.availability.status === 'wrap_up';
  const fill = (group, values, selected, name) => {
    const fieldset = $(`skills-${group}`);
    const legend = fieldset.querySelector('legend');
    fieldset.replaceChildren(legend);
    if (!choose) {
      const list = element('ul', { className: 'plain-list' });
      for (const value of selected ?? values) list.append(element('li', { text: name(value) }));
      fieldset.append(list);
      return;
    }
    for (const value of values) {
      const label = element('label', { className: 'choice' });
      const input = element('input', { attrs: { type: 'checkbox', value, 'data-testid': `skill-${group}-${value}` } });
      input.checked = (selected ?? values).includes(value);
      input.disabled = wrapUp;
      input.addEventListener('change', guarded(sendSkills));
      label.append(input, element('span', { text: name(value) }));
      fieldset.append(label);
    }
  };
  fill('agencies', grants.agencies ?? [], skills.agencies, agencyName);
  fill('languages', grants.languages ?? [], skills.languages, (code) => languageName(code));
  // A chooser picks among every service of their agencies; otherwise only a limited
  // account's services are worth listing ("all services" goes without saying).
  const services = choose ? servicesOf(grants.agencies ?? []) : grants.services ?? null;
  $('skills-services').hidden = !services || services.length === 0;
  if (services) {
    const several = (grants.agencies ?? []).length > 1;
    fill('services', services, skills.services ?? services, (id) => {
      const agency = S.config?.agencies?.find((a) => (grants.agencies ?? []).includes(a.id)
        && a.services.some((x) => x.id === id));
      if (!agency) return id;
      const name = localized(agency.services.find((x) => x.id === id).name);
      return several ? `${name} (${localized(agency.name)})` : name;
    });
  }
}

// --- queue overview --------------------------------------------------------------------

function renderOverview() {
  const body = $('queue-rows');
  const queues = S.overview?.queues ?? [];
  $('queues-empty').hidden = queues.length > 0;
  $('queues-empty').textContent = t(S.overview ? 'queues.empty' : 'queues.loading');
  // One agency (the usual case) is named once above the table, not on every row.
  const agencies = [...new Set(queues.map((q) => q.agency))];
  const single = agencies.length === 1;
  $('queues-agency').textContent = single ? agencyName(agencies[0]) : '';
  $('queue-table').classList.toggle('single-agency', single);
  body.replaceChildren(...queues.map((queue) => {
    const row = element('tr', {
      className: queue.waiting > 0 ? 'has-waiting' : '',
      attrs: { 'data-testid': `queue-${queue.queue}` },
    });
    row.append(
      element('td', { className: 'agency-col', text: agencyName(queue.agency) }),
      element('td', { text: serviceName(queue.agency, queue.service) }),
      element('td', { text: languageName(queue.language) }),
      element('td', { className: 'num waiting', text: String(queue.waiting), attrs: { 'data-testid': 'waiting' } }),
      element('td', { className: 'num oldest', attrs: { 'data-testid': 'oldest' } }),
    );
    return row;
  }));
  tickOverview();
  const colleagues = S.overview?.colleagues ?? [];
  $('colleagues').replaceChildren(...(colleagues.length ? colleagues.map((c) => element('li', {
    text: t('colleagues.line', { agency: agencyName(c.agency), n: c.available }),
    attrs: { 'data-testid': `colleagues-${c.agency}` },
  })) : [element('li', { className: 'muted', text: t('colleagues.none') })]));
}

function tickOverview() {
  if (!S.overview) return;
  const elapsed = (performance.now() - S.overview.at) / 1000;
  const rows = $('queue-rows').children;
  S.overview.queues.forEach((queue, i) => {
    const cell = rows[i]?.querySelector('.oldest');
    if (!cell) return;
    const oldest = queue.waiting > 0 && typeof queue.oldest_wait_s === 'number' ? queue.oldest_wait_s + elapsed : null;
    cell.textContent = clock(oldest);
  });
}

function setHomeNotice(key, vars = {}) {
  S.homeNotice = key ? { key, vars } : null;
  renderHomeNotice();
}

function renderHomeNotice() {
  const notice = $('home-notice');
  notice.hidden = !S.homeNotice;
  if (!S.homeNotice) {
    notice.textContent = '';
    return;
  }
  const { key, vars } = S.homeNotice;
  const filled = { ...vars };
  if (vars.outcome) filled.outcome = outcomeName(vars.outcome);
  if (vars.agency) filled.agency = agencyName(vars.agency);
  if (vars.service) filled.service = serviceName(vars.agency, vars.service);
  notice.textContent = t(key, filled);
}

// --- offers ----------------------------------------------------------------------------

function siteOf(site) {
  const known = S.config?.sites?.find((s) => s.id === site?.id);
  return {
    name: localized(known?.name) || site?.id || '',
    municipality: site?.municipality ?? known?.municipality ?? '',
    kind: site?.kind ?? known?.kind ?? 'S',
  };
}

function interpreterText(need) {
  if (!need) return t('offer.no_interpreter');
  const modality = t(`modality.${need.modality}`);
  return need.modality === 'text' ? modality : `${languageName(need.language)} (${modality})`;
}

function showOffer(msg) {
  if (S.call) return; // the server rings only a free desk; never hide a live call
  closeDialog($('message-dialog')); // nothing may stand between the expert and Accept
  S.offer = { message: msg, at: performance.now() };
  S.accepting = null;
  renderOffer();
  for (const id of ['offer-accept', 'offer-decline']) $(id).disabled = false;
  show('offer');
  ring.start(msg.ring_timeout_s);
  // The tab's title says it too, for a console behind other windows.
  document.title = `${t('offer.title')} – ${t('app.title')}`;
  const site = siteOf(msg.site);
  announce(t('offer.announce', {
    agency: agencyName(msg.agency), service: serviceName(msg.agency, msg.service),
    language: languageName(msg.language), place: site.municipality || site.name,
  }));
}

function renderOffer() {
  if (!S.offer) return;
  const msg = S.offer.message;
  const site = siteOf(msg.site);
  $('offer-site').textContent = t('offer.site', {
    site: site.name, municipality: site.municipality, kind: t(`site.kind_${site.kind}`),
  });
  $('offer-agency').textContent = agencyName(msg.agency);
  $('offer-service').textContent = serviceName(msg.agency, msg.service);
  $('offer-language').textContent = languageName(msg.language);
  $('offer-interpreter').textContent = interpreterText(msg.interpreter);
  $('offer-note-box').hidden = !msg.transfer_note;
  $('offer-note').textContent = msg.transfer_note ?? '';
  tickOffer();
}

function tickOffer() {
  if (!S.offer) return;
  const msg = S.offer.message;
  const elapsed = (performance.now() - S.offer.at) / 1000;
  $('offer-waited').textContent = clock(msg.waited_s + elapsed);
  const left = Math.max(0, msg.ring_timeout_s - elapsed);
  if (msg.ring_timeout_s - elapsed < -OFFER_GRACE_S && !S.accepting) {
    // The server's offer_withdrawn never came (a dropped connection): the call is gone.
    clearOffer();
    return;
  }
  $('ring-left').textContent = t('offer.ring_left', { s: Math.ceil(left) });
  $('ring-progress').value = msg.ring_timeout_s > 0 ? Math.round((100 * left) / msg.ring_timeout_s) : 0;
}

function clearOffer() {
  S.offer = null;
  ring.stop();
  document.title = t('app.title');
  if (S.screen === 'offer') show('home');
}

function offerWithdrawn(msg) {
  if (S.offer?.message.session_id !== msg.session_id) return;
  if (S.accepting === msg.session_id) return; // the accept's reply decides
  clearOffer();
  const key = msg.reason === 'timeout' ? 'offer.timed_out' : msg.reason === 'cancelled' ? 'offer.cancelled' : null;
  // Being paused for missed calls says more than "a call rang out": keep that notice.
  if (key && S.homeNotice?.key !== 'availability.missed_notice') {
    setHomeNotice(key);
    announce(t(key));
  }
}

async function acceptOffer() {
  if (!S.offer || S.accepting || S.screen !== 'offer') return;
  const sessionId = S.offer.message.session_id;
  const siteKind = siteOf(S.offer.message.site).kind;
  S.accepting = sessionId;
  S.callNote = S.offer.message.transfer_note ?? null; // the next expert needs it in the call
  ring.stop();
  for (const id of ['offer-accept', 'offer-decline']) $(id).disabled = true;
  await openMedia(siteKind);
  try {
    await S.signaling.request({ type: 'offer_accept', session_id: sessionId });
  } catch (error) {
    console.warn('offer_accept', error);
    if (S.call?.sessionId === sessionId) return;
    S.accepting = null;
    stopLocalMedia();
    clearOffer();
    setHomeNotice(error.code === 'conflict' || error.code === 'not_found' ? 'offer.gone' : 'offer.accept_failed');
    announce(t(S.homeNotice.key));
  }
}

async function declineOffer() {
  if (!S.offer || S.accepting || S.screen !== 'offer') return;
  const sessionId = S.offer.message.session_id;
  clearOffer();
  try {
    await S.signaling.request({ type: 'offer_decline', session_id: sessionId });
  } catch (error) {
    console.warn('offer_decline', error); // already withdrawn: nothing to do
  }
}

// --- the call --------------------------------------------------------------------------

async function openMedia(siteKind) {
  if (S.localStream) return;
  try {
    S.localStream = await openLocalMedia({ siteKind });
  } catch (error) {
    // The citizen still sees and hears nothing from us, but we can see them and chat.
    console.warn('camera or microphone', error);
    S.localStream = null;
    setTimeout(() => message(t('media.title'), t(`media.${describeMediaError(error)}`)), 0);
  }
}

function stopLocalMedia() {
  for (const track of S.localStream?.getTracks() ?? []) track.stop();
  S.localStream = null;
}

/** After a reload: the server still has us in a call; join it again with new media. */
async function rejoin(session) {
  S.accepting = session.session_id;
  S.callNote = null; // not known after a reload; never the note of an offer that failed
  const site = S.config?.sites?.find((s) => s.id === session.site);
  await openMedia(site?.kind ?? 'S');
  if (S.call) return;
  startCall(session);
  announce(t('call.rejoined'));
}

function startCall(session) {
  const site = S.config?.sites?.find((s) => s.id === session.site);
  clearOffer();
  S.accepting = null;
  S.session = session;
  S.quality = null;
  S.callStartedAt = performance.now();
  const call = new Call({
    signaling: S.signaling,
    session,
    localStream: S.localStream,
    iceServers: S.signaling.welcome?.ice_servers ?? [],
    siteKind: site?.kind ?? 'S',
  });
  S.call = call;
  call.addEventListener('remote-stream', ({ detail }) => attachRemote(detail.participant, detail.stream));
  call.addEventListener('participant-left', ({ detail }) => detachRemote(detail.participantId));
  call.addEventListener('session', ({ detail }) => { S.session = detail.session; renderCallHead(); });
  call.addEventListener('participant', ({ detail }) => {
    if (detail.participant.kind === 'booth') renderRemoteWaiting(detail.participant.connected ? null : 'call.citizen_away');
  });
  call.addEventListener('connection', ({ detail }) => {
    const kind = call.participants.get(detail.participantId)?.kind;
    if (kind === 'booth' && detail.state === 'connected') renderRemoteWaiting(null);
  });
  call.addEventListener('quality', ({ detail }) => {
    if (call.participants.get(detail.participantId)?.kind !== 'booth') return;
    S.quality = detail;
    renderQuality();
  });
  call.addEventListener('ended', ({ detail }) => callOver(detail));
  $('self-video').srcObject = S.localStream;
  $('chat-log').replaceChildren();
  $('chat-input').value = '';
  $('chat-error').textContent = '';
  setPressed('mute', false);
  setPressed('camera', false);
  $('doccam-video').hidden = true;
  $('doccam-empty').hidden = false;
  $('interpreter-tile').hidden = true;
  renderRemoteWaiting('call.connecting');
  $('call-note').textContent = S.callNote ?? '';
  $('call-note-box').hidden = !S.callNote;
  renderCallHead();
  renderQuality();
  renderAvailability();
  show('call');
}

// Which participant each video slot shows: booth (large), interpreter, document camera.
const SLOTS = {
  booth: { video: 'remote-video' },
  interpreter: { video: 'interpreter-video', box: 'interpreter-tile' },
  doccam: { video: 'doccam-video', box: 'doccam-video', empty: 'doccam-empty' },
};
const slotOwners = new Map(); // slot name -> participant id

function attachRemote(participant, stream) {
  const slot = SLOTS[participant.kind] ? participant.kind : 'booth';
  slotOwners.set(slot, participant.id);
  $(SLOTS[slot].video).srcObject = stream;
  if (SLOTS[slot].box) $(SLOTS[slot].box).hidden = false;
  if (SLOTS[slot].empty) $(SLOTS[slot].empty).hidden = true;
  if (slot === 'booth') renderRemoteWaiting(null);
}

function detachRemote(participantId) {
  for (const [slot, owner] of slotOwners) {
    if (owner !== participantId) continue;
    slotOwners.delete(slot);
    $(SLOTS[slot].video).srcObject = null;
    if (SLOTS[slot].box) $(SLOTS[slot].box).hidden = true;
    if (SLOTS[slot].empty) $(SLOTS[slot].empty).hidden = false;
  }
}

function renderRemoteWaiting(key) {
  const waiting = $('remote-waiting');
  waiting.hidden = !key;
  waiting.textContent = key ? t(key) : '';
}

function renderCallHead() {
  const session = S.session;
  if (!session) return;
  const known = S.config?.sites?.find((s) => s.id === session.site);
  const site = siteOf({ id: session.site, municipality: known?.municipality, kind: known?.kind });
  $('call-title').textContent = t('call.title', { site: site.name, municipality: site.municipality });
  const facts = [agencyName(session.agency), serviceName(session.agency, session.service), languageName(session.language)];
  if (session.interpreter) facts.push(t('call.interpreter_need', { need: interpreterText(session.interpreter) }));
  $('call-facts').textContent = facts.join(' · ');
  tickCall();
}

function tickCall() {
  if (!S.call || S.callStartedAt === null) return;
  $('call-timer').textContent = clock((performance.now() - S.callStartedAt) / 1000);
}

function renderQuality() {
  const sample = S.quality ?? { level: 'unknown', rttMs: null, lossPct: null, kbps: null, fps: null };
  const word = qualityWord(sample);
  const el = $('quality');
  el.dataset.level = word;
  const iconName = { good: 'signal-good', fair: 'signal-weak', poor: 'signal-bad', bad: 'signal-bad' }[word] ?? 'signal-unknown';
  $('quality-icon').setAttribute('href', `${ICONS}#${iconName}`);
  $('quality-text').textContent = t(`quality.${word}`);
  const details = S.quality ? qualityDetails(sample) : t('quality.measuring');
  el.title = details;
  $('quality-details').textContent = details;
}

function setPressed(id, pressed) {
  const button = $(id);
  button.setAttribute('aria-pressed', String(pressed));
  if (id === 'mute') $('mute-icon').setAttribute('href', `${ICONS}#${pressed ? 'mic-off' : 'mic'}`);
  if (id === 'camera') {
    $('camera-icon').setAttribute('href', `${ICONS}#${pressed ? 'camera-off' : 'camera'}`);
    $('self-caption').textContent = t(pressed ? 'call.camera_is_off' : 'call.you');
  }
}

function toggleMute() {
  if (!S.call || S.screen !== 'call') return;
  const muted = !S.call.muted;
  S.call.setMuted(muted);
  setPressed('mute', muted);
  announce(t(muted ? 'call.muted' : 'call.unmuted'));
}

function toggleCamera() {
  if (!S.call || S.screen !== 'call') return;
  const off = S.call.cameraEnabled;
  S.call.setCameraEnabled(!off);
  setPressed('camera', off);
  announce(t(off ? 'call.camera_turned_off' : 'call.camera_turned_on'));
}

function callOver({ state, reason, outcome }) {
  cleanUpCall();
  if (reason === 'expert_ended') setHomeNotice(outcome ? 'ended.with_outcome' : 'ended.plain', { outcome });
  else if (reason === 'booth_left') setHomeNotice('ended.booth_left');
  else if (reason === 'booth_lost' || state === 'failed') setHomeNotice('ended.booth_lost');
  else if (reason === 'gone') setHomeNotice('ended.gone');
  else setHomeNotice('ended.plain');
  show('home');
  announce($('home-notice').textContent);
}

function cleanUpCall() {
  S.call?.close();
  S.call = null;
  S.session = null;
  S.callNote = null;
  slotOwners.clear();
  $('call-note').textContent = '';
  S.callStartedAt = null;
  S.quality = null;
  S.endingCall = false;
  stopLocalMedia();
  for (const video of document.querySelectorAll('video')) video.srcObject = null;
  // The chat is gone with the call: nothing of it is kept.
  $('chat-log').replaceChildren();
  $('chat-input').value = '';
  $('transfer-note').value = '';
  for (const id of ['outcome-dialog', 'transfer-dialog', 'interpreter-dialog']) closeDialog($(id));
  renderAvailability();
}

// --- chat ------------------------------------------------------------------------------

function whoIs(participantId) {
  if (participantId === null) return t('chat.you');
  const kind = S.call?.participants.get(participantId)?.kind;
  return t(`chat.from_${kind ?? 'other'}`);
}

function addChatLine(from, text, at) {
  const mine = from === null;
  const item = element('div', { className: `line ${mine ? 'mine' : 'theirs'}`, attrs: { 'data-testid': 'chat-line' } });
  const head = element('p', { className: 'chat-meta' });
  head.append(element('span', { className: 'chat-who', text: whoIs(from) }),
    element('span', { className: 'chat-time', text: timeOfDay(at ?? Date.now() / 1000) }));
  item.append(head, element('p', { className: 'chat-text', text }));
  const log = $('chat-log');
  log.append(item);
  log.scrollTop = log.scrollHeight;
}

async function sendChat(event) {
  event.preventDefault();
  const input = $('chat-input');
  const text = input.value.trim();
  const error = $('chat-error');
  error.textContent = '';
  if (!text || !S.call) return;
  if (text.length > CHAT_MAX) {
    error.textContent = t('chat.too_long', { n: CHAT_MAX });
    return;
  }
  try {
    await S.signaling.request({ type: 'chat', session_id: S.call.sessionId, text });
  } catch (failure) {
    console.warn('chat', failure);
    error.textContent = t('chat.failed');
    return;
  }
  input.value = '';
  addChatLine(null, text, Date.now() / 1000);
}

function focusChat() {
  if (S.screen === 'call') $('chat-input').focus();
}

// --- ending, transferring, interpreting ------------------------------------------------

function outcomeName(id) {
  return localized(S.config?.outcomes?.find((o) => o.id === id)?.name) || id || '';
}

function renderOutcomes() {
  const list = $('outcome-list');
  list.replaceChildren(...(S.config?.outcomes ?? []).map((outcome) => {
    const button = element('button', {
      className: 'secondary outcome', text: localized(outcome.name),
      attrs: { type: 'button', 'data-testid': `outcome-${outcome.id}`, 'data-outcome': outcome.id },
    });
    button.addEventListener('click', guarded(() => endCall(outcome.id)));
    return button;
  }));
}

function openOutcomes() {
  if (!S.call || S.screen !== 'call') return;
  $('outcome-error').textContent = '';
  openDialog($('outcome-dialog'));
}

async function endCall(outcome) {
  if (!S.call || S.endingCall) return;
  S.endingCall = true;
  const sessionId = S.call.sessionId;
  try {
    await S.signaling.request({ type: 'session_end', session_id: sessionId, outcome });
  } catch (error) {
    console.warn('session_end', error);
    S.endingCall = false;
    $('outcome-error').textContent = t('outcome.failed');
    return;
  }
  // session_ended came before the ack and ended the Call; if not, end here.
  if (S.call?.sessionId === sessionId) callOver({ state: 'ended', reason: 'expert_ended', outcome });
}

function fillSelect(select, options, selected) {
  select.replaceChildren(...options.map(({ value, text }) => {
    const option = element('option', { text, attrs: { value } });
    option.selected = value === selected;
    return option;
  }));
  if (!options.some((o) => o.value === selected) && options.length) select.value = options[0].value;
}

function agencyLanguages(agency, service) {
  return service?.languages ?? agency?.languages ?? ['fi', 'sv', 'en'];
}

function renderTransferChoices(keep = {}) {
  const agencies = S.config?.agencies ?? [];
  const current = S.session;
  const agencyId = keep.agency ?? $('transfer-agency').value ?? current?.agency;
  fillSelect($('transfer-agency'), agencies.map((a) => ({ value: a.id, text: localized(a.name) })), agencyId);
  const agency = agencies.find((a) => a.id === $('transfer-agency').value);
  const services = agency?.services ?? [];
  fillSelect($('transfer-service'), services.map((s) => ({ value: s.id, text: localized(s.name) })),
    keep.service ?? $('transfer-service').value);
  const service = services.find((s) => s.id === $('transfer-service').value);
  fillSelect($('transfer-language'), agencyLanguages(agency, service).map((code) => ({ value: code, text: languageName(code) })),
    keep.language ?? current?.language);
}

function renderNoteCount() {
  $('transfer-count').textContent = t('transfer.count', { n: $('transfer-note').value.length, max: NOTE_MAX });
}

function openTransfer() {
  if (!S.call || S.screen !== 'call') return;
  const other = (S.config?.agencies ?? []).find((a) => a.id !== S.session?.agency);
  renderTransferChoices({ agency: other?.id, language: S.session?.language });
  $('transfer-error').textContent = '';
  $('transfer-submit').disabled = false;
  renderNoteCount();
  openDialog($('transfer-dialog'));
}

async function submitTransfer(event) {
  event.preventDefault();
  if (!S.call) return;
  const target = {
    agency: $('transfer-agency').value,
    service: $('transfer-service').value,
    language: $('transfer-language').value,
  };
  const note = $('transfer-note').value.trim();
  const error = $('transfer-error');
  error.textContent = '';
  if (note.length > NOTE_MAX) {
    error.textContent = t('transfer.note_too_long', { max: NOTE_MAX });
    return;
  }
  const request = { type: 'transfer', session_id: S.call.sessionId, ...target };
  if (note) request.note = note;
  $('transfer-submit').disabled = true;
  try {
    await S.signaling.request(request);
  } catch (failure) {
    console.warn('transfer', failure);
    $('transfer-submit').disabled = false;
    if (failure.code === 'closed') error.textContent = t('transfer.closed', { agency: agencyName(target.agency) });
    else if (failure.code === 'not_found') error.textContent = t('transfer.not_found');
    else if (failure.code === 'conflict') error.textContent = t('transfer.conflict');
    else error.textContent = t('transfer.failed');
    return;
  }
  // The call is no longer ours: the citizen waits first in the new queue.
  cleanUpCall();
  setHomeNotice('ended.transferred', target);
  show('home');
  announce($('home-notice').textContent);
}

function renderInterpreterLanguages() {
  const current = $('interpreter-language').value || S.session?.interpreter?.language || 'ar';
  fillSelect($('interpreter-language'),
    INTERPRETING_LANGUAGES.map((code) => ({ value: code, text: languageName(code) })), current);
}

function openInterpreter() {
  if (!S.call || S.screen !== 'call') return;
  renderInterpreterLanguages();
  const need = S.session?.interpreter;
  if (need) {
    $('interpreter-language').value = need.language;
    const modality = document.querySelector(`#interpreter-form input[name=modality][value="${need.modality}"]`);
    if (modality) modality.checked = true;
  }
  $('interpreter-result').hidden = true;
  openDialog($('interpreter-dialog'));
}

function submitInterpreter(event) {
  event.preventDefault();
  // Interpreting is not connected yet (it comes with the interpreting service): say so
  // plainly instead of pretending that someone was asked.
  $('interpreter-result').hidden = false;
  announce(t('interpreter.not_connected'));
}

// --- keyboard --------------------------------------------------------------------------

function onKey(event) {
  if (!event.altKey || event.ctrlKey || event.metaKey) return;
  if (document.querySelector('dialog[open]')) return;
  const shortcut = SHORTCUTS.find((s) => s.code === event.code);
  if (!shortcut) return;
  event.preventDefault();
  Promise.resolve(shortcut.run()).catch((error) => console.error(error));
}

function renderShortcuts() {
  $('shortcuts-list').replaceChildren(...SHORTCUTS.map((s) => {
    const row = element('div');
    const key = element('dt');
    key.append(element('kbd', { text: s.keys }));
    row.append(key, element('dd', { text: t(s.label) }));
    return row;
  }));
  for (const el of document.querySelectorAll('[data-shortcut]')) {
    const label = el.querySelector('span[data-i18n]')?.textContent ?? '';
    el.title = t('shortcuts.title_hint', { label, keys: el.dataset.shortcut });
  }
  const muted = ring.muted;
  $('ring-mute').title = t(muted ? 'ring.unmute' : 'ring.mute');
}

// --- language --------------------------------------------------------------------------

function applyLanguage(lang, remember) {
  setLanguage(lang, { remember });
  for (const button of document.querySelectorAll('[data-lang]')) {
    button.setAttribute('aria-pressed', String(button.dataset.lang === language()));
  }
  renderShortcuts();
  renderRingMute();
  if (!S.user) return;
  renderAvailability();
  renderSkills();
  renderOverview();
  renderHomeNotice();
  renderOutcomes();
  renderOffer();
  if (S.call) {
    renderCallHead();
    renderQuality();
    setPressed('camera', $('camera').getAttribute('aria-pressed') === 'true');
    if (!$('remote-waiting').hidden) renderRemoteWaiting('call.connecting');
  }
  if ($('transfer-dialog').open) renderTransferChoices();
  if ($('interpreter-dialog').open) renderInterpreterLanguages();
  if ($('transfer-dialog').open) renderNoteCount();
}

function renderRingMute() {
  const muted = ring.muted;
  $('ring-mute').setAttribute('aria-pressed', String(muted));
  $('ring-mute-icon').setAttribute('href', `${ICONS}#${muted ? 'bell-off' : 'bell'}`);
  $('ring-mute').title = t(muted ? 'ring.unmute' : 'ring.mute');
}

// --- start -----------------------------------------------------------------------------

function tick() {
  tickOverview();
  tickOffer();
  tickCall();
  if (S.availability.status === 'wrap_up') {
    if (S.availability.wrapUpEnd !== null && Date.now() >= S.availability.wrapUpEnd) {
      // The server makes us available by itself and says nothing more (protocol.md §3).
      S.availability = { ...S.availability, status: 'available', wrapUpEnd: null };
      renderSkills();
    }
    renderAvailability();
  }
}

function wire() {
  $('login-form').addEventListener('submit', guarded(submitLogin));
  $('relogin-form').addEventListener('submit', guarded(submitRelogin));
  $('relogin-dialog').addEventListener('cancel', (event) => event.preventDefault()); // must log in
  $('logout').addEventListener('click', guarded(logout));
  $('go-available').addEventListener('click', guarded(() => setAvailability('available')));
  $('go-paused').addEventListener('click', guarded(() => setAvailability('paused')));
  $('pause-reason').addEventListener('change', guarded(() => {
    if (S.availability.status === 'paused' && PAUSE_REASONS.includes(S.availability.reason ?? 'other')) {
      return setAvailability('paused');
    }
    return null;
  }));
  $('ring-mute').addEventListener('click', () => {
    ring.setMuted(!ring.muted);
    renderRingMute();
  });
  for (const button of document.querySelectorAll('[data-lang]')) {
    button.addEventListener('click', () => applyLanguage(button.dataset.lang, true));
  }
  $('offer-accept').addEventListener('click', guarded(acceptOffer));
  $('offer-decline').addEventListener('click', guarded(declineOffer));
  $('mute').addEventListener('click', toggleMute);
  $('camera').addEventListener('click', toggleCamera);
  $('end-call').addEventListener('click', openOutcomes);
  $('transfer').addEventListener('click', openTransfer);
  $('invite-interpreter').addEventListener('click', openInterpreter);
  $('chat-form').addEventListener('submit', guarded(sendChat));
  $('transfer-form').addEventListener('submit', guarded(submitTransfer));
  $('transfer-agency').addEventListener('change', () => renderTransferChoices({ service: null, language: S.session?.language }));
  $('transfer-service').addEventListener('change', () => renderTransferChoices({ language: $('transfer-language').value }));
  $('transfer-note').addEventListener('input', renderNoteCount);
  $('interpreter-form').addEventListener('submit', submitInterpreter);
  for (const dialog of document.querySelectorAll('dialog')) {
    dialog.addEventListener('close', () => onDialogClosed(dialog));
    for (const button of dialog.querySelectorAll('[data-close]')) {
      button.addEventListener('click', () => closeDialog(dialog));
    }
  }
  document.addEventListener('keydown', onKey);
  // A reloaded page may only sound after the expert's first click or key press.
  const unlock = () => ring.unlock();
  document.addEventListener('pointerdown', unlock, { once: true, capture: true });
  document.addEventListener('keydown', unlock, { once: true, capture: true });
  setInterval(tick, TICK_MS);
}

async function boot() {
  try {
    await loadCatalogs();
  } catch (error) {
    console.error(error);
    setTimeout(() => location.reload(), 5000);
    return;
  }
  wire();
  applyLanguage(initialLanguage(), false);
  let me = null;
  try {
    me = await api('GET', '/console/api/me');
  } catch (error) {
    console.warn('me', error);
  }
  if (me?.status === 200) {
    acceptLogin(me.data);
    await startDesk();
  } else {
    show('login');
    $('login-username').focus();
  }
  document.body.dataset.ready = 'true';
}

/** Technical state for tests and support staff: no names, no chat, no notes. */
window.consoleDiagnostics = () => ({
  screen: S.screen,
  signaling: S.signaling?.state ?? null,
  availability: S.availability.status,
  reason: S.availability.reason,
  ringing: ring.ringing,
  ringMuted: ring.muted,
  chimes: ring.chimes,
  offer: S.offer?.message.session_id ?? null,
  call: S.call ? { session: S.call.sessionId, state: S.session?.state ?? null } : null,
  peers: Object.fromEntries([...(S.call?.peerConnections ?? new Map())].map(([id, pc]) => [
    id, { connection: pc.connectionState, ice: pc.iceConnectionState },
  ])),
  languages: UI_LANGUAGES,
});

window.addEventListener('unhandledrejection', (event) => console.error('unhandled', event.reason));
boot().catch((error) => {
  console.error(error);
  message(t('error.title'), t('error.text'));
});
