// The kiosk page: everything the citizen sees, from the greeting to the goodbye.
//
// One screen is visible at a time (<section data-screen>). Nothing of the citizen's visit
// is kept in storage: a reloaded page learns from the server (welcome.sessions) whether a
// call is live and goes straight back to it. (At home, on the guest page, the tab keeps its
// guest token in sessionStorage: see guest.js.) The privacy reset wipes the visit and loads
// a fresh page, so nothing of the previous citizen stays in memory either.

import { Call } from '/client/call.js';
import { Signaling } from '/client/signaling.js';
import * as agent from './agent.js';
import { DeviceCheck } from './devicecheck.js';
import { DocumentCamera } from './doccam.js';
import { openingText, waitText } from './format.js';
import * as guest from './guest.js';
import {
  UI_LANGUAGES, joinList, language, languageName, loadCatalogs, localized, setLanguage, t,
} from './i18n.js';
import { Inactivity } from './inactivity.js';
import { Captions, InterpreterRequestStatus, InterpreterTiles, interpreterRole } from './interpreting.js';
import { Keyboard } from './keyboard.js';

const ICONS = '/kiosk/icons.svg';
const CATALOG_REFRESH_MS = 15000;
const ALIVE_MS = 5000;
const THANKS_S = 8;
const CONNECT_RETRY_MS = 5000;
const LEAVE_TIMEOUT_MS = 2000;
const CHAT_MAX = 1000; // the protocol's limit for one chat line
const CHAT_TIMEOUT_MS = 5000;

// Agencies with their own pictogram; the others get one by kind, or the generic one.
const AGENCY_ICONS = new Set([
  'kela', 'vero', 'migri', 'poliisi', 'dvv', 'mml', 'te', 'ulosotto', 'rise', 'avi', 'ely',
  'oikeusapu', 'kitee',
]);
const KIND_ICONS = { municipality: 'municipality', wellbeing_county: 'wellbeing' };

// Interpreting the citizen can ask for. Endonyms are each language's own name for itself
// (not UI text); sign languages have no written form, so their line shows the name in the
// written language of their community.
export const INTERPRETING = [
  { id: 'ar', modality: 'spoken', endonym: 'العربية', lang: 'ar', dir: 'rtl' },
  { id: 'so', modality: 'spoken', endonym: 'Soomaali', lang: 'so' },
  { id: 'ru', modality: 'spoken', endonym: 'Русский', lang: 'ru' },
  { id: 'uk', modality: 'spoken', endonym: 'Українська', lang: 'uk' },
  { id: 'fa', modality: 'spoken', endonym: 'فارسی', lang: 'fa', dir: 'rtl' },
  { id: 'ckb', modality: 'spoken', endonym: 'کوردیی ناوەندی', lang: 'ckb', dir: 'rtl' },
  { id: 'et', modality: 'spoken', endonym: 'Eesti', lang: 'et' },
  { id: 'zh', modality: 'spoken', endonym: '中文', lang: 'zh' },
  { id: 'vi', modality: 'spoken', endonym: 'Tiếng Việt', lang: 'vi' },
  { id: 'th', modality: 'spoken', endonym: 'ภาษาไทย', lang: 'th' },
  { id: 'fse', modality: 'sign', endonym: 'suomalainen viittomakieli', lang: 'fi' },
  { id: 'fss', modality: 'sign', endonym: 'finlandssvenskt teckenspråk', lang: 'sv' },
  { id: 'text', modality: 'text' },
];

// Screens where the citizen may start over (the top bar's button) and where a long
// silence asks "are you still there?".
const START_OVER_SCREENS = new Set([
  'agencies', 'services', 'interpreter', 'appointment', 'device-check', 'ready',
]);
// Screens on which the checked camera and microphone stay open: the call will send them.
const MEDIA_SCREENS = new Set(['device-check', 'guest', 'ready', 'waiting', 'call']);
const UNWATCHED_SCREENS = new Set(['loading', 'waiting', 'call']);
const WAITING_STATES = new Set(['requested', 'queued', 'offered']);
const CALL_STATES = new Set(['connecting', 'active']);
// The same page at home, opened with a guest link (/guest/#secret): see guest.js.
const GUEST = guest.GUEST;

const $ = (id) => document.getElementById(id);
const testid = (id) => document.querySelector(`[data-testid="${id}"]`);

const S = {
  config: null,
  signaling: null,
  catalog: null,
  catalogTimer: null,
  screen: 'loading',
  dirty: false, // the citizen has done something: a reset is worth asking about
  agency: null,
  service: null,
  skippedServices: false,
  callLanguage: null,
  interpreter: null, // {id, language, modality}
  session: null,
  call: null,
  inCall: false, // the session reached connecting/active at least once
  leaving: false,
  sessionOver: true,
  thanksTimer: null,
  resetting: false,
  requeueing: false, // asking again for a call that the booth's outage lost
  lastOutageS: null, // how long the latest signaling outage lasted
  chatSending: false,
};

let deviceCheck = null;
let inactivity = null;
let keyboard = null;
let doccam = null;
let tiles = null;
let captions = null;
let interpreterRequest = null;
// The others' media in this call by participant id (never kept past it).
const remoteStreams = new Map();
// The interpreters shown at the latest render, to tell the citizen who came and went.
let interpretersShown = new Set();

// --- small helpers ---------------------------------------------------------------------

function icon(name, className = 'icon') {
  return `<svg class="${className}" aria-hidden="true"><use href="${ICONS}#${name}"></use></svg>`;
}

function agencyIconName(agency) {
  if (AGENCY_ICONS.has(agency.id)) return `agency-${agency.id}`;
  if (KIND_ICONS[agency.kind]) return `agency-${KIND_ICONS[agency.kind]}`;
  return 'agency-generic';
}

function element(tag, { className, text, attrs } = {}) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  for (const [name, value] of Object.entries(attrs ?? {})) el.setAttribute(name, value);
  return el;
}

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), ms))]);
}

/** Run an event handler; an unexpected failure shows the error screen, never a frozen one. */
function guarded(handler) {
  return async (event) => {
    try {
      await handler(event);
    } catch (error) {
      console.error(error);
      showError();
    }
  };
}

function announce(text) {
  const announcer = $('announcer');
  announcer.textContent = '';
  // A fresh text node makes screen readers speak even a repeated message.
  setTimeout(() => { announcer.textContent = text; }, 50);
}

// --- screens ---------------------------------------------------------------------------

function section(name) {
  return document.querySelector(`section[data-screen="${name}"]`);
}

function show(name, { focus = true } = {}) {
  const previous = S.screen;
  if (['device-check', 'guest'].includes(previous) && name !== previous) deviceCheck.pause();
  // The camera stays on only for the call it was checked for.
  if (MEDIA_SCREENS.has(previous) && !MEDIA_SCREENS.has(name)) deviceCheck.stopTracks();
  for (const el of document.querySelectorAll('section[data-screen]')) {
    el.hidden = el.dataset.screen !== name;
  }
  S.screen = name;
  document.body.dataset.screen = name;
  $('start-over').hidden = !START_OVER_SCREENS.has(name);
  renderChip();
  if (name === 'agencies' || name === 'services') startCatalogRefresh();
  else stopCatalogRefresh();
  ENTER[name]?.(previous);
  inactivity?.touch();
  if (focus) {
    const heading = section(name).querySelector('h1:not([hidden])');
    const visible = heading && heading.offsetParent !== null ? heading : section(name).querySelector('h1');
    visible?.focus({ preventScroll: true });
  }
}

const ENTER = {
  welcome: () => renderWelcome(),
  agencies: () => renderAgencies(),
  services: () => renderServices(),
  interpreter: () => renderInterpreting(),
  appointment: () => {
    const input = $('appointment-code-input');
    input.value = '';
    input.removeAttribute('aria-invalid');
    $('appointment-error').textContent = '';
    $('appointment-choose').hidden = true;
  },
  'device-check': () => enterDeviceCheck(),
  guest: () => enterGuest(),
  'guest-notice': () => renderNotice(),
  ready: () => renderReady(),
  waiting: () => attachSelfView('waiting-video'),
  call: () => {
    attachSelfView('self-video');
    // The agent joins the document camera to this call (again after a reload).
    const session = liveSession();
    if (session && !GUEST) doccam.start(session.session_id);
  },
  feedback: () => {
    $('feedback-ask').hidden = false;
    $('feedback-thanks').hidden = true;
  },
};

function showError(textKey = 'error.text') {
  if (GUEST) {
    // At home there is no staff to ask: a plain "no connection" that loads the page again.
    showNotice('network');
    return;
  }
  $('error-text').textContent = t(textKey);
  show('error');
}

// --- dialogs ---------------------------------------------------------------------------

function message({ title, text, extra = null, iconName = 'info', onClose = null }) {
  const dialog = $('message-dialog');
  $('message-icon').setAttribute('href', `${ICONS}#${iconName}`);
  $('message-title').textContent = title;
  $('message-text').textContent = text;
  $('message-extra').textContent = extra ?? '';
  $('message-extra').hidden = !extra;
  dialog.onclose = () => { dialog.onclose = null; onClose?.(); };
  if (!dialog.open) dialog.showModal();
  $('message-ok').focus();
}

function showClosed(agency) {
  message({
    iconName: 'lock',
    title: t('closed.title', { agency: localized(agency.name) }),
    text: openingText(agency.next_opening),
    extra: t('closed.text'),
  });
}

// --- top bar ---------------------------------------------------------------------------

function renderPlace() {
  if (GUEST) {
    $('site-name').textContent = t('guest.place');
    return;
  }
  const site = S.config?.site;
  $('site-name').textContent = site ? t('site.place', { site: localized(site.name) }) : '';
}

function interpreterName(choice = S.interpreter) {
  if (!choice) return '';
  return choice.modality === 'text' ? t('interpreter.text_name') : languageName(choice.id);
}

function renderChip() {
  const chip = $('interpreter-chip');
  chip.hidden = !S.interpreter
    || ['welcome', 'loading', 'feedback', 'error', 'guest', 'guest-notice'].includes(S.screen);
  $('interpreter-chip-text').textContent = S.interpreter
    ? t('interpreter.chip', { language: interpreterName() }) : '';
  // Once the call is asked for, the interpreter travels with it.
  $('interpreter-remove').hidden = MEDIA_SCREENS.has(S.screen);
}

// --- welcome ---------------------------------------------------------------------------

function languagesInOrder() {
  const first = S.config?.site?.default_language;
  return UI_LANGUAGES.includes(first) ? [first, ...UI_LANGUAGES.filter((l) => l !== first)] : UI_LANGUAGES;
}

function renderWelcome() {
  const order = languagesInOrder();
  const title = $('welcome-title');
  title.replaceChildren(...order.map((lang, i) => element('span', {
    className: i === 0 ? 'first' : 'other', text: t('welcome.title', {}, lang), attrs: { lang },
  })));
  const choose = $('welcome-choose');
  choose.replaceChildren(...order.flatMap((lang, i) => [
    ...(i ? [document.createTextNode(' · ')] : []),
    element('span', { text: t('welcome.choose', {}, lang), attrs: { lang } }),
  ]));
  const group = $('lang-buttons');
  for (const lang of order) group.append(group.querySelector(`[data-lang="${lang}"]`));
  $('welcome-privacy').replaceChildren(...order.map((lang) => element('li', {
    text: t('welcome.privacy', {}, lang), attrs: { lang },
  })));
}

function chooseLanguage(lang) {
  S.dirty = true;
  setLanguage(lang);
  renderPlace();
  show('agencies');
  refreshCatalog();
}

// --- catalog: agencies and services ----------------------------------------------------

function startCatalogRefresh() {
  if (S.catalogTimer) return;
  S.catalogTimer = setInterval(() => refreshCatalog(), CATALOG_REFRESH_MS);
}

function stopCatalogRefresh() {
  clearInterval(S.catalogTimer);
  S.catalogTimer = null;
}

async function refreshCatalog() {
  const notice = $('agencies-notice');
  if (!S.catalog) {
    notice.textContent = t('agencies.loading');
    notice.hidden = false;
  }
  try {
    if (S.signaling?.state !== 'open') throw new Error('not connected');
    const reply = await S.signaling.request({ type: 'catalog_request' });
    S.catalog = reply.agencies;
    notice.hidden = true;
  } catch (error) {
    console.warn('catalog', error);
    notice.textContent = t(S.catalog ? 'agencies.stale' : 'agencies.unavailable');
    notice.hidden = false;
    if (!S.catalog) return;
  }
  if (S.screen === 'agencies') renderAgencies();
  if (S.screen === 'services') renderServices();
}

function findAgency(id) {
  return S.catalog?.find((a) => a.id === id) ?? null;
}

/** The language a call to `service` is made in: the citizen's, or the service's first. */
function callLanguageFor(service) {
  return service.languages.includes(language()) ? language() : service.languages[0];
}

function serviceWait(service) {
  const queue = service.queues.find((q) => q.language === callLanguageFor(service));
  return queue ? queue.estimated_wait_s : null;
}

function agencyWait(agency) {
  const waits = agency.services.map(serviceWait).filter((w) => w !== null && w !== undefined);
  return waits.length ? Math.min(...waits) : null;
}

/** Re-render a list and keep the keyboard focus on the same tile. */
function keepFocus(render) {
  const focused = document.activeElement?.dataset?.testid;
  render();
  if (focused) testid(focused)?.focus({ preventScroll: true });
}

function tile({ id, iconName, name, open, statusText, lines }) {
  const li = element('li');
  const button = element('button', {
    className: `tile ${open ? 'is-open' : 'is-closed'}`, attrs: { type: 'button', 'data-testid': id },
  });
  button.innerHTML = (iconName ? icon(iconName, 'agency-icon') : '')
    + '<span class="tile-name"></span><span class="tile-status"><span class="status-line">'
    + `${icon(open ? 'open' : 'lock')}<span></span></span></span>`;
  button.querySelector('.tile-name').textContent = name;
  button.querySelector('.status-line span').textContent = statusText;
  for (const line of lines) {
    button.querySelector('.tile-status').append(element('span', { className: line.className ?? 'wait-line', text: line.text }));
  }
  li.append(button);
  return { li, button };
}

function renderAgencies() {
  const list = $('agency-tiles');
  if (!S.catalog) {
    list.replaceChildren();
    return;
  }
  keepFocus(() => {
    list.replaceChildren(...S.catalog.map((agency) => {
      const { li, button } = tile({
        id: `agency-${agency.id}`,
        iconName: agencyIconName(agency),
        name: localized(agency.name),
        open: agency.open,
        statusText: t(agency.open ? 'agency.open' : 'agency.closed'),
        lines: [{ text: agency.open ? waitText(agencyWait(agency)) : openingText(agency.next_opening) }],
      });
      button.addEventListener('click', guarded(() => chooseAgency(agency.id)));
      return li;
    }));
  });
  fitNames(list);
}

/** Shrink a long name (a Finnish compound word) until it fits its tile, down to 24 px. */
function fitNames(root) {
  requestAnimationFrame(() => {
    for (const name of root.querySelectorAll('.tile-name')) {
      name.style.fontSize = '';
      // Measure with words unbroken; the stylesheet's break-anywhere is the last resort.
      name.style.overflowWrap = 'normal';
      let size = parseFloat(getComputedStyle(name).fontSize);
      while (name.scrollWidth > name.clientWidth + 1 && size > 24) {
        size -= 1;
        name.style.fontSize = `${size}px`;
      }
      name.style.overflowWrap = '';
    }
    updateMore(root);
  });
}

/** Show "More below" while a list of tiles hides some under its fold. */
function updateMore(list) {
  const button = document.querySelector(`[data-more="${list.id}"]`);
  if (!button) return;
  button.hidden = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
}

function scrollMore(list) {
  const smooth = !matchMedia('(prefers-reduced-motion: reduce)').matches;
  list.scrollBy({ top: list.clientHeight * 0.8, behavior: smooth ? 'smooth' : 'auto' });
}

function chooseAgency(id) {
  S.dirty = true;
  const agency = findAgency(id);
  if (!agency) return;
  if (!agency.open) {
    showClosed(agency);
    return;
  }
  S.agency = agency;
  if (agency.services.length === 1) {
    S.skippedServices = true;
    chooseService(agency.services[0].id);
  } else {
    S.skippedServices = false;
    show('services');
  }
}

function renderServices() {
  const agency = S.agency && (findAgency(S.agency.id) ?? S.agency);
  if (!agency) return;
  S.agency = agency;
  $('services-agency').textContent = localized(agency.name);
  $('services-icon').querySelector('use').setAttribute('href', `${ICONS}#${agencyIconName(agency)}`);
  keepFocus(() => {
    $('service-tiles').replaceChildren(...agency.services.map((service) => {
      const lines = [{ text: agency.open ? waitText(serviceWait(service)) : openingText(agency.next_opening) }];
      if (!service.languages.includes(language())) {
        lines.push({
          className: 'service-lang',
          text: `${t('services.languages', { languages: joinList(service.languages.map((l) => languageName(l))) })} `
            + t('services.call_in', { language: languageName(callLanguageFor(service)) }),
        });
      }
      const { li, button } = tile({
        id: `service-${service.id}`,
        name: localized(service.name),
        open: agency.open,
        statusText: t(agency.open ? 'agency.open' : 'agency.closed'),
        lines,
      });
      button.addEventListener('click', guarded(() => chooseService(service.id)));
      return li;
    }));
  });
}

function chooseService(id) {
  const agency = findAgency(S.agency.id) ?? S.agency;
  if (!agency.open) {
    showClosed(agency);
    return;
  }
  S.service = agency.services.find((s) => s.id === id);
  S.callLanguage = callLanguageFor(S.service);
  show('device-check');
}

// --- interpreting ----------------------------------------------------------------------

function renderInterpreting() {
  $('interpreter-tiles').replaceChildren(...INTERPRETING.map((choice) => {
    const li = element('li');
    const chosen = S.interpreter?.id === choice.id;
    const button = element('button', {
      className: `tile is-open${chosen ? ' is-chosen' : ''}`,
      attrs: { type: 'button', 'data-testid': `interpreter-lang-${choice.id}`, 'aria-pressed': String(chosen) },
    });
    const name = choice.modality === 'text' ? t('interpreter.text_name') : languageName(choice.id);
    button.append(element('span', { className: 'tile-name', text: name }));
    let second = null;
    if (choice.modality === 'text') {
      second = element('span', { className: 'endonym', text: t('interpreter.text_desc') });
    } else if (choice.endonym && choice.endonym !== name) {
      second = element('span', { className: 'endonym', text: choice.endonym, attrs: { lang: choice.lang } });
      if (choice.dir) second.dir = choice.dir;
    }
    if (second) button.append(second);
    button.addEventListener('click', () => chooseInterpreting(choice));
    li.append(button);
    return li;
  }));
  requestAnimationFrame(() => updateMore($('interpreter-tiles')));
}

function chooseInterpreting(choice) {
  S.dirty = true;
  S.interpreter = {
    id: choice.id,
    modality: choice.modality,
    // Speech-to-text interpreting is in the language the citizen reads.
    language: choice.modality === 'text' ? language() : choice.id,
  };
  announce(t('interpreter.chip', { language: interpreterName() }));
  show('agencies');
}

function removeInterpreting() {
  S.interpreter = null;
  renderChip();
  if (S.screen === 'interpreter') renderInterpreting();
  section(S.screen)?.querySelector('h1')?.focus({ preventScroll: true });
}

// --- appointment code ------------------------------------------------------------------

const CODE_MIN = 4;
const CODE_MAX = 12;

function typeDigit(key) {
  const input = $('appointment-code-input');
  if (key === 'erase') input.value = input.value.slice(0, -1);
  else if (/^[0-9]$/.test(key) && input.value.length < CODE_MAX) input.value += key;
  input.removeAttribute('aria-invalid');
  $('appointment-error').textContent = '';
}

async function submitAppointment() {
  const input = $('appointment-code-input');
  const error = $('appointment-error');
  const code = input.value.replace(/\D/g, '').slice(0, CODE_MAX);
  input.value = code;
  if (code.length < CODE_MIN) {
    input.setAttribute('aria-invalid', 'true');
    error.textContent = t('appointment.too_short');
    return;
  }
  const ok = testid('keypad-ok');
  ok.disabled = true;
  $('appointment-hint').textContent = t('appointment.checking');
  try {
    if (S.signaling?.state !== 'open') throw Object.assign(new Error('offline'), { code: 'closed' });
    const reply = await S.signaling.request({ type: 'appointment_checkin', code });
    // The booked call is on its way to the booked expert: the camera, then the call. The
    // expert may answer while the camera opens: the signaling client keeps what comes
    // for the session meanwhile, and the Call replays it.
    S.signaling.keepSession(reply.session.session_id);
    S.dirty = true;
    input.value = '';
    await adoptSession(reply.session);
    renderChip();
    await deviceCheck.open();
    enterSession(reply.session, { fresh: true });
  } catch (failure) {
    input.setAttribute('aria-invalid', 'true');
    if (failure.code === 'not_found') {
      error.textContent = t('appointment.not_found');
      $('appointment-choose').hidden = false;
    } else if (failure.code === 'rate_limited') {
      error.textContent = t('appointment.rate_limited');
    } else if (failure.code === 'invalid_field') {
      error.textContent = t('appointment.too_short');
    } else {
      error.textContent = t('appointment.failed');
      $('appointment-choose').hidden = false;
    }
  } finally {
    ok.disabled = false;
    $('appointment-hint').textContent = t('appointment.hint');
  }
}

// --- device check ----------------------------------------------------------------------

function callSummary(key = 'device.summary') {
  const vars = {
    agency: localized(S.agency?.name),
    service: localized(S.service?.name),
    language: languageName(S.callLanguage),
    interpreter: interpreterName(),
  };
  return t(S.interpreter && key === 'device.summary' ? 'device.summary_interpreter' : key, vars);
}

async function enterDeviceCheck() {
  $('device-summary').textContent = callSummary();
  await deviceCheck.open();
}

/** The calm last step: what the call is about, and the button that starts it. */
function renderReady() {
  $('ready-icon').querySelector('use').setAttribute('href', `${ICONS}#${agencyIconName(S.agency ?? {})}`);
  $('ready-agency').textContent = localized(S.agency?.name);
  $('ready-service').textContent = localized(S.service?.name);
  $('ready-language').textContent = languageName(S.callLanguage);
  $('ready-interpreter').textContent = interpreterName();
  $('ready-interpreter-row').hidden = !S.interpreter;
  const start = $('call-start');
  start.disabled = false;
  start.querySelector('span').textContent = t('ready.start');
}

/** The call_request for what the citizen chose. */
function callRequest() {
  const request = {
    type: 'call_request', agency: S.agency.id, service: S.service.id, language: S.callLanguage,
  };
  if (S.interpreter) request.interpreter = { language: S.interpreter.language, modality: S.interpreter.modality };
  return request;
}

async function startCall() {
  const start = $('call-start');
  if (start.disabled) return;
  start.disabled = true;
  start.querySelector('span').textContent = t('device.calling');
  try {
    if (S.signaling?.state !== 'open') throw Object.assign(new Error('offline'), { code: 'closed' });
    const reply = await S.signaling.request(callRequest());
    enterSession(reply.session, { fresh: true });
  } catch (error) {
    console.warn('call_request', error);
    start.querySelector('span').textContent = t('ready.start');
    start.disabled = false;
    showCallError(error);
  }
}

/** Explain a refused call_request: a closed agency, or a plain error. */
function showCallError(error, { text = null } = {}) {
  if (error.code === 'closed' && error.field === 'agency') {
    const agency = { ...S.agency, open: false, next_opening: error.nextOpening };
    refreshCatalog();
    show('agencies');
    showClosed(agency);
    return;
  }
  const known = ['unavailable', 'rate_limited', 'conflict'].includes(error.code);
  const reason = t(known ? `call.error.${error.code}` : 'call.error.generic');
  message({
    iconName: 'warning',
    title: t('call.error.title'),
    text: text ?? reason,
    extra: text ? reason : null,
    onClose: error.code === 'conflict' ? () => privacyReset() : null,
  });
}

// --- the session: waiting and the call -------------------------------------------------

function attachSelfView(videoId) {
  const video = $(videoId);
  if (deviceCheck.stream && video.srcObject !== deviceCheck.stream) {
    video.srcObject = deviceCheck.stream;
    video.play?.().catch(() => {});
  }
}

function liveSession() {
  return S.session && !S.sessionOver ? S.session : null;
}

function enterSession(session, { fresh = false } = {}) {
  S.session = session;
  S.sessionOver = false;
  // A reloaded or relaunched page rejoins this call with it (GET /api/kiosk).
  if (S.signaling?.resumeToken) rememberResume(S.signaling.resumeToken);
  S.inCall = false;
  S.leaving = false;
  $('waiting-notice').hidden = true;
  if (fresh) {
    // Until the first queue_status: what the catalog said about this queue.
    const queue = S.service?.queues?.find((q) => q.language === session.language);
    renderQueue({ position: queue ? queue.waiting + 1 : null, estimated_wait_s: queue?.estimated_wait_s ?? null });
  } else {
    renderQueue({ position: null, estimated_wait_s: null });
  }
  createCall(session);
  applySession(session);
}

function createCall(session) {
  S.call?.close();
  const call = new Call({
    signaling: S.signaling,
    session,
    localStream: deviceCheck.stream,
    iceServers: S.signaling.welcome?.ice_servers ?? [],
    siteKind: S.config.site.kind,
  });
  S.call = call;
  const mine = (handler) => (event) => { if (S.call === call) handler(event.detail); };
  call.addEventListener('session', mine(({ session: next }) => applySession(next)));
  call.addEventListener('participant', mine(() => {
    renderNames();
    renderParties();
  }));
  call.addEventListener('remote-stream', mine(onRemoteStream));
  call.addEventListener('participant-left', mine(onParticipantLeft));
  call.addEventListener('connection', mine(onPeerConnection));
  call.addEventListener('quality', mine(renderQuality));
  call.addEventListener('ended', mine(onSessionEnded));
  // What the others signalled while a reloaded page was opening its camera was kept by
  // the signaling client; the Call replays it itself.
}

function applySession(session) {
  const wasInCall = S.inCall;
  S.session = session;
  // Open only while an expert is in the call; withdrawn when the call goes back to a queue.
  interpreterRequest.update(CALL_STATES.has(session.state) ? session.interpreter_request ?? null : null);
  if (WAITING_STATES.has(session.state)) {
    if (wasInCall) {
      // The expert's side broke for longer than the grace period: we are back at the
      // front of the queue. Say so plainly.
      S.inCall = false;
      clearRemote();
      const notice = $('waiting-notice');
      notice.textContent = t('waiting.requeued');
      notice.hidden = false;
      renderQueue({ position: 1, estimated_wait_s: null });
    }
    $('queue-state').textContent = session.state === 'offered' ? t('waiting.offered') : queueStateText();
    $('waiting-summary').textContent = waitingSummary();
    if (S.screen !== 'waiting') show('waiting');
  } else if (CALL_STATES.has(session.state)) {
    S.inCall = true;
    renderNames();
    if (S.screen !== 'call') {
      resetCallView();
      show('call');
    }
    renderParties();
  }
}

function waitingSummary() {
  const agency = localized(S.agency?.name) || S.session?.agency || '';
  const service = localized(S.service?.name) || S.session?.service || '';
  return t('waiting.summary', { agency, service });
}

let lastPosition = null;

function queueStateText() {
  return lastPosition === 1 ? t('waiting.next') : '';
}

function renderQueue({ position, estimated_wait_s: wait }) {
  lastPosition = position;
  $('queue-position').textContent = position ? String(position) : '…';
  $('estimated-wait').textContent = position ? waitText(wait, { short: true }) : '…';
  if (S.session?.state !== 'offered') $('queue-state').textContent = queueStateText();
}

function onServerMessage({ detail: msg }) {
  if (msg.type === 'queue_status' && msg.session_id === S.session?.session_id) {
    renderQueue(msg);
  } else if (msg.type === 'chat' && msg.session_id === S.session?.session_id) {
    showChat(msg);
  } else if (msg.type === 'caption' && msg.session_id === S.session?.session_id && liveSession()) {
    captions.show(msg);
  }
}

/** Show a line the expert (or interpreter) typed: always as text, never as markup. */
function showChat(msg) {
  addChatLine({ who: whoSaid(msg.from), text: msg.text, mine: false });
}

/** Who wrote a line: the expert's public name with the agency, the interpreter, or the agency. */
function whoSaid(participantId) {
  const participant = S.call?.participants.get(participantId)
    ?? S.session?.participants?.find((p) => p.id === participantId);
  const agencyName = localized(S.agency?.name) || S.session?.agency || '';
  if (participant?.kind === 'interpreter') return interpreterRole(participant, { t, languageName });
  if (participant?.kind === 'expert' && participant.display_name) {
    return t('call.expert_name', { name: participant.display_name, agency: agencyName });
  }
  return agencyName;
}

/** Add a line to the conversation: who said it, then what. */
function addChatLine({ who, text, mine }) {
  const line = element('div', {
    className: `chat-line ${mine ? 'mine' : 'theirs'}`, attrs: { 'data-testid': 'kiosk-chat-line' },
  });
  line.append(
    element('p', { className: 'chat-who', text: who }),
    element('p', { className: 'chat-text', text, attrs: { dir: 'auto' } }),
  );
  const conversation = $('conversation');
  conversation.append(line);
  conversation.scrollTop = conversation.scrollHeight;
}

/** "Try again": ask the server for an interpreter with the same need once more. */
async function requestInterpreterAgain({ language: need, modality }) {
  const session = liveSession();
  if (!session || S.signaling?.state !== 'open') throw new Error('not connected');
  await withTimeout(S.signaling.request({
    type: 'interpreter_request', session_id: session.session_id, language: need, modality,
  }), CHAT_TIMEOUT_MS);
}

// --- the citizen writes ----------------------------------------------------------------

function writing() {
  return !$('writer-entry').hidden;
}

/** Open the writing panel: the field and the keyboard take the lower part of the screen. */
function openWriter() {
  if (S.screen !== 'call') return;
  if (!writing()) {
    doccam.closeView({ declined: true }); // the keyboard needs the room
    keyboard.reset();
    $('writer-entry').hidden = false;
    // At home the citizen's own keyboard (or phone's) writes: no keyboard of the page.
    $('keyboard').hidden = GUEST;
    section('call').classList.add('is-writing');
    $('writer-open').setAttribute('aria-expanded', 'true');
    updateSend();
  }
  const input = $('kiosk-chat-input');
  input.focus({ preventScroll: true });
  input.setSelectionRange(input.value.length, input.value.length);
  const conversation = $('conversation');
  conversation.scrollTop = conversation.scrollHeight;
}

/** Close the writing panel; `clear` also forgets what was typed (the call is over). */
function closeWriter({ clear = false } = {}) {
  const wasOpen = writing();
  $('writer-entry').hidden = true;
  $('keyboard').hidden = true;
  section('call').classList.remove('is-writing');
  $('writer-open').setAttribute('aria-expanded', 'false');
  showWriterError('');
  if (clear) {
    $('kiosk-chat-input').value = '';
    keyboard?.reset();
  }
  if (wasOpen && S.screen === 'call') $('writer-open').focus({ preventScroll: true });
}

function showWriterError(text) {
  $('writer-error').textContent = text;
  $('writer-error').hidden = !text;
}

function updateSend() {
  const disabled = S.chatSending || !$('kiosk-chat-input').value.trim();
  const send = testid('kiosk-chat-send');
  if (send) send.disabled = disabled;
  $('guest-chat-send').disabled = disabled;
}

/** Send the typed line to the others in the call; it joins the conversation as "You". */
async function sendChat() {
  const input = $('kiosk-chat-input');
  const text = input.value.trim();
  const session = liveSession();
  if (!text || !session || S.chatSending) return;
  S.chatSending = true;
  updateSend();
  showWriterError('');
  try {
    if (S.signaling?.state !== 'open') throw new Error('offline');
    await withTimeout(S.signaling.request({
      type: 'chat', session_id: session.session_id, text: text.slice(0, CHAT_MAX),
    }), CHAT_TIMEOUT_MS);
  } catch (error) {
    console.warn('chat', error);
    showWriterError(t('chat.failed'));
    return;
  } finally {
    S.chatSending = false;
    updateSend();
  }
  input.value = '';
  keyboard.reset(); // the next line starts on lower-case letters
  updateSend();
  addChatLine({ who: t('call.you'), text, mine: true });
}

function expertParticipant() {
  for (const participant of S.call?.participants.values() ?? []) {
    if (participant.kind === 'expert') return participant;
  }
  return S.session?.participants?.find((p) => p.kind === 'expert') ?? null;
}

function renderNames() {
  const agencyName = localized(S.agency?.name) || S.session?.agency || '';
  const expert = expertParticipant();
  $('expert-name').textContent = expert?.display_name
    ? t('call.expert_name', { name: expert.display_name, agency: agencyName }) : agencyName;
}

function resetCallView() {
  closeWriter();
  $('remote-waiting').hidden = false;
  $('reconnecting').hidden = true;
  $('mute').setAttribute('aria-pressed', 'false');
  $('mute').querySelector('use').setAttribute('href', `${ICONS}#mic`);
  $('muted-note').hidden = true;
  renderQuality({ level: 'unknown' });
}

function onRemoteStream({ participant, stream }) {
  remoteStreams.set(participant.id, stream);
  if (participant.kind === 'interpreter') {
    renderParties();
    return;
  }
  const video = $('remote-video');
  video.dataset.participant = participant.id;
  if (video.srcObject !== stream) {
    video.srcObject = stream;
    video.play?.().catch(() => {});
  }
  video.addEventListener('playing', () => { $('remote-waiting').hidden = true; }, { once: true });
  if (!video.paused && video.readyState >= 2) $('remote-waiting').hidden = true;
  renderNames();
}

function onParticipantLeft({ participantId }) {
  remoteStreams.delete(participantId);
  const video = $('remote-video');
  if (video.dataset.participant === participantId) {
    video.srcObject = null;
    delete video.dataset.participant;
    $('remote-waiting').hidden = false;
  }
  renderParties();
}

/** Lay the call out for who is in it: interpreters' tiles, captions, what to announce. */
function renderParties() {
  if (!S.call) return;
  const others = [...S.call.participants.values()];
  tiles.render(others, remoteStreams);
  captions.setMembers(others);
  const now = new Set(tiles.shown);
  if ([...now].some((id) => !interpretersShown.has(id))) announce(t('call.interpreter_joined'));
  else if ([...interpretersShown].some((id) => !now.has(id))) announce(t('call.interpreter_left'));
  interpretersShown = now;
}

const peerStates = new Map();

function onPeerConnection({ participantId, state }) {
  peerStates.set(participantId, state);
  renderReconnecting();
}

function renderReconnecting() {
  const broken = S.signaling?.state === 'reconnecting'
    || [...peerStates.values()].some((s) => s === 'disconnected' || s === 'failed');
  $('reconnecting').hidden = !(broken && S.screen === 'call');
  if (S.screen === 'guest' && !S.joining) renderJoin();
  if (S.screen === 'waiting' && S.signaling?.state === 'reconnecting') {
    $('waiting-notice').textContent = t('call.reconnecting');
    $('waiting-notice').hidden = false;
  } else if (S.screen === 'waiting' && $('waiting-notice').textContent === t('call.reconnecting')) {
    $('waiting-notice').hidden = true;
  }
}

const QUALITY_ICONS = { good: 'signal-good', weak: 'signal-weak', bad: 'signal-bad', unknown: 'signal-unknown' };

function renderQuality({ level }) {
  const known = QUALITY_ICONS[level] ? level : 'unknown';
  const quality = $('quality');
  if (quality.dataset.level === known && $('quality-text').textContent) return;
  quality.dataset.level = known;
  quality.querySelector('use').setAttribute('href', `${ICONS}#${QUALITY_ICONS[known]}`);
  $('quality-text').textContent = t(`quality.${known}`);
}

function clearRemote() {
  const video = $('remote-video');
  video.srcObject = null;
  delete video.dataset.participant;
  remoteStreams.clear();
  tiles?.clear();
  interpretersShown = new Set();
  $('remote-waiting').hidden = false;
  peerStates.clear();
}

function closeCall() {
  S.call?.close();
  S.call = null;
  doccam?.stop();
  closeWriter({ clear: true });
  clearRemote();
  // Captions and the request end with the call: nothing of them stays.
  captions?.clear();
  interpreterRequest?.clear();
  $('self-video').srcObject = null;
  $('waiting-video').srcObject = null;
}

/** Whether a call that ended under us was lost to this booth's own outage. */
function lostToOutage(reason) {
  if (S.leaving || S.resetting) return false;
  if (reason === 'booth_lost') return true;
  if (reason !== 'gone') return false;
  // It ended while we were away. A waiting call ends only when the booth cancels or is
  // lost; a call in progress may also have been ended by the expert meanwhile, so only
  // an outage as long as the grace period (less the server's presence refresh, at most
  // 5 s) can have lost it.
  if (!S.inCall) return true;
  const grace = S.signaling?.welcome?.grace_period_s ?? 30;
  return (S.lastOutageS ?? 0) >= grace - Math.min(5, grace / 3);
}

/** The server ended the call because this booth was gone too long: ask again, in front. */
async function requeueAfterOutage(previousId) {
  if (S.requeueing) return;
  S.requeueing = true;
  S.sessionOver = true;
  S.inCall = false;
  closeCall();
  S.session = null;
  try {
    if (S.signaling?.state !== 'open') throw Object.assign(new Error('offline'), { code: 'closed' });
    let reply;
    try {
      // A guest asks for its appointment's call again (at the front, as booked).
      reply = await S.signaling.request(GUEST ? { type: 'guest_checkin' }
        : { ...callRequest(), previous_session: previousId });
    } catch (error) {
      if (GUEST) throw error;
      // The server no longer knows the old call (a node without a shared store
      // restarted): a normal place in the queue is the best there is.
      if (error.code !== 'not_found' || error.field !== 'previous_session') throw error;
      reply = await S.signaling.request(callRequest());
    }
    enterSession(reply.session);
    attachSelfView('waiting-video');
    const notice = $('waiting-notice');
    notice.textContent = t('waiting.requeued');
    notice.hidden = false;
  } catch (error) {
    console.warn('call_request after an outage', error);
    if (GUEST) {
      show('guest');
      $('guest-when').textContent = t('waiting.lost');
      return;
    }
    deviceCheck.stopTracks();
    show('agencies');
    if (!(error.code === 'closed' && error.field === 'agency')) refreshCatalog();
    showCallError(error, { text: t('waiting.lost') });
  } finally {
    S.requeueing = false;
  }
}

function onSessionEnded({ state, reason }) {
  const sessionId = S.session?.session_id;
  if (sessionId && lostToOutage(reason)) {
    requeueAfterOutage(sessionId).catch((error) => {
      console.error(error);
      showError();
    });
    return;
  }
  const wasInCall = S.inCall;
  S.sessionOver = true;
  rememberResume(null);
  closeCall();
  // The conversation ends with the call (the privacy reset wipes it again).
  $('conversation').replaceChildren();
  if (wasInCall) {
    S.feedbackSessionId = sessionId;
    if (GUEST) {
      // Over for good: a reload now says so, rather than offering to join again.
      guest.save({ over: true, token: null, resume_token: null });
      $('feedback-ended').hidden = false;
    }
    $('feedback-title').textContent = t('feedback.title');
    show('feedback');
    announce(t(state === 'failed' ? 'feedback.call_failed' : 'feedback.call_ended'));
    return;
  }
  if (GUEST) {
    S.session = null;
    // Back to the appointment: the citizen may join again while it is open.
    show('guest');
    if (!(reason === 'cancelled' || S.leaving)) $('guest-when').textContent = t('waiting.lost');
    return;
  }
  deviceCheck.stopTracks();
  S.session = null;
  if (reason === 'cancelled' || S.leaving) {
    show('agencies');
    return;
  }
  // The call was lost while waiting (the booth was offline past the grace period).
  show('agencies');
  const notice = $('agencies-notice');
  notice.textContent = t('waiting.lost');
  notice.hidden = false;
}

async function cancelCall() {
  const session = S.session;
  if (!session || S.leaving) return;
  S.leaving = true;
  $('call-cancel').disabled = true;
  try {
    try {
      await S.signaling.request({
        type: GUEST ? 'session_leave' : 'call_cancel', session_id: session.session_id,
      });
    } catch (error) {
      // An expert answered at this very moment: leaving ends the call all the same.
      if (error.code === 'conflict') await S.signaling.request({ type: 'session_leave', session_id: session.session_id });
      else throw error;
    }
  } catch (error) {
    console.warn('cancel', error);
  } finally {
    $('call-cancel').disabled = false;
  }
  if (!S.sessionOver) onSessionEnded({ state: 'abandoned', reason: 'cancelled' });
}

async function endCall() {
  const session = S.session;
  if (!session) return;
  S.leaving = true;
  $('end-call').disabled = true;
  try {
    await withTimeout(S.signaling.request({ type: 'session_leave', session_id: session.session_id }), 5000);
  } catch (error) {
    console.warn('session_leave', error);
  } finally {
    $('end-call').disabled = false;
  }
  // session_ended normally came first and took us to the feedback already.
  if (!S.sessionOver) onSessionEnded({ state: 'ended', reason: 'booth_left' });
}

function toggleMute() {
  const button = $('mute');
  const muted = button.getAttribute('aria-pressed') !== 'true';
  S.call?.setMuted(muted);
  button.setAttribute('aria-pressed', String(muted));
  button.querySelector('use').setAttribute('href', `${ICONS}#${muted ? 'mic-off' : 'mic'}`);
  $('muted-note').hidden = !muted;
}

// --- feedback and the privacy reset ----------------------------------------------------

async function giveFeedback(score) {
  const sessionId = S.feedbackSessionId;
  for (const button of document.querySelectorAll('#feedback-buttons button')) button.disabled = true;
  if (score && sessionId && S.signaling?.state === 'open') {
    try {
      await withTimeout(S.signaling.request({ type: 'feedback', session_id: sessionId, score }), 3000);
    } catch (error) {
      console.warn('feedback', error);
    }
  }
  thanks();
}

function thanks() {
  if (GUEST) {
    showNotice('ended');
    return;
  }
  $('feedback-ask').hidden = true;
  $('feedback-thanks').hidden = false;
  $('thanks-title').focus({ preventScroll: true });
  let left = THANKS_S;
  const render = () => { $('thanks-countdown').textContent = t('feedback.countdown', { s: left }); };
  render();
  S.thanksTimer = setInterval(() => {
    left -= 1;
    render();
    if (left <= 0) privacyReset();
  }, 1000);
}

/** Wipe the visit: media, call, signaling, typed text, the agent's memory; load afresh. */
async function privacyReset() {
  if (GUEST) {
    // At home nothing is shared with a next citizen: "try again" loads the page, which
    // resumes from this tab's sessionStorage.
    location.reload();
    return;
  }
  if (S.resetting) return;
  S.resetting = true;
  clearInterval(S.thanksTimer);
  inactivity?.stop();
  stopCatalogRefresh();
  const live = S.session && !S.sessionOver ? S.session.session_id : null;
  if (live && S.signaling?.state === 'open') {
    try {
      await withTimeout(S.signaling.request({ type: 'session_leave', session_id: live }), LEAVE_TIMEOUT_MS);
    } catch (error) {
      console.warn('leave on reset', error);
    }
  }
  closeCall();
  deviceCheck?.stopTracks();
  for (const video of document.querySelectorAll('video')) video.srcObject = null;
  S.signaling?.close();
  for (const input of document.querySelectorAll('input, textarea')) input.value = '';
  for (const id of ['agency-tiles', 'service-tiles', 'interpreter-tiles', 'conversation', 'caption-lines',
    'caption-live']) $(id).replaceChildren();
  for (const id of ['expert-name', 'queue-position', 'estimated-wait', 'queue-state',
    'waiting-summary', 'device-summary', 'ready-agency', 'ready-service', 'ready-language',
    'ready-interpreter', 'services-agency', 'appointment-error', 'interpreter-chip-text',
    'message-title', 'message-text', 'message-extra', 'writer-error', 'announcer']) {
    $(id).textContent = '';
  }
  Object.assign(S, { agency: null, service: null, interpreter: null, session: null, catalog: null });
  try {
    await withTimeout(Promise.all([agent.storeResumeToken(null), agent.privacyReset()]), 3000);
  } catch (error) {
    console.warn('agent reset', error);
  }
  try {
    sessionStorage.clear();
    localStorage.clear();
  } catch { /* storage may be disabled */ }
  location.replace('/');
}

// --- signaling -------------------------------------------------------------------------

async function connectSignaling() {
  const signaling = new Signaling({
    url: S.config.server_url,
    getToken: GUEST ? guestToken : agent.freshToken,
    resumeToken: (GUEST ? guest.load()?.resume_token : S.config.resume_token) ?? null,
    // The agent keeps it only while a call is live: nothing of a finished visit stays.
    onResumeToken: (token) => { if (liveSession()) rememberResume(token); },
  });
  S.signaling = signaling;
  // At home the refreshed token is what a reload of the tab connects with.
  if (GUEST) {
    signaling.addEventListener('token', ({ detail }) => {
      if (!guest.load()?.over) guest.save({ token: detail.token, expires_at: detail.expiresAt });
    });
    // Away longer than the token lives (a laptop asleep): no reconnect can work any more.
    signaling.addEventListener('retry', ({ detail }) => {
      if (S.signaling !== signaling || detail.error?.code !== 'unauthenticated') return;
      signaling.close();
      S.sessionOver = true;
      closeCall();
      deviceCheck?.stopTracks();
      guest.save({ token: null, resume_token: null });
      showNotice('expired');
    });
  }
  signaling.addEventListener('message', onServerMessage);
  signaling.addEventListener('state', ({ detail }) => {
    if (S.signaling !== signaling) return;
    renderReconnecting();
    if (detail.state === 'closed' && detail.reason === 'replaced' && !S.resetting) {
      // Another kiosk page took over this booth's connection (the agent relaunched us);
      // at home, another tab of the same appointment did.
      if (GUEST) showNotice('elsewhere');
      else showError('error.connection');
    }
  });
  // Registered before any Call's: a Call that finds its session gone on this welcome
  // ends with the outage already known (lostToOutage).
  signaling.addEventListener('welcome', ({ detail }) => {
    if (S.signaling !== signaling) return;
    S.lastOutageS = detail.outageS ?? null;
    if (!detail.reconnected) return;
    if (['agencies', 'services'].includes(S.screen)) refreshCatalog();
  });
  let welcome;
  try {
    welcome = await signaling.connect();
  } catch (error) {
    if (GUEST && ['unauthenticated', 'forbidden'].includes(error.code)) {
      // The token ran out while the tab was closed or asleep: only a new link helps.
      guest.save({ token: null, resume_token: null });
      showNotice('expired');
      return;
    }
    console.warn('signaling refused us; trying again', error);
    if (GUEST && ['loading', 'guest-notice'].includes(S.screen)) showNotice('network');
    if (S.signaling === signaling) setTimeout(() => { if (!S.resetting) connectSignaling(); }, CONNECT_RETRY_MS);
    return;
  }
  if (['agencies', 'services'].includes(S.screen)) refreshCatalog();
  const live = (welcome.sessions ?? []).find((s) => WAITING_STATES.has(s.state) || CALL_STATES.has(s.state));
  if (live) await resumeSession(live);
  else if (GUEST) enterGuestWelcome();
}

/** A reloaded page: go straight back to the live call or the queue. */
async function resumeSession(session) {
  S.dirty = true;
  if (!GUEST) setLanguage(UI_LANGUAGES.includes(session.language) ? session.language : language());
  renderPlace();
  await adoptSession(session);
  await deviceCheck.open();
  enterSession(session);
}

/** Take what a session is about (agency, service, language, interpreting) as the
 * citizen's choice: for a page that did not make the choice itself (a reload, a code). */
async function adoptSession(session) {
  if (GUEST) {
    // A guest may not ask for the catalog: the names came with its token.
    adoptAppointment(guest.load());
    return;
  }
  try {
    const reply = await withTimeout(S.signaling.request({ type: 'catalog_request' }), 5000);
    S.catalog = reply.agencies;
  } catch (error) {
    console.warn('catalog for a session', error);
  }
  const agency = findAgency(session.agency);
  S.agency = agency ?? { id: session.agency, name: { fi: session.agency } };
  S.service = agency?.services.find((s) => s.id === session.service) ?? { id: session.service, name: { fi: session.service }, queues: [], languages: [session.language] };
  S.callLanguage = session.language;
  if (session.interpreter) {
    const choice = INTERPRETING.find((c) => (c.modality === 'text' ? session.interpreter.modality === 'text' : c.id === session.interpreter.language));
    S.interpreter = choice ? { id: choice.id, modality: choice.modality, language: session.interpreter.language } : null;
  }
}

// --- from home: the guest link --------------------------------------------------------

const NOTICE_ICONS = {
  no_link: 'info', used: 'lock', over: 'clock', ended: 'heart', expired: 'clock', network: 'warning',
  elsewhere: 'info',
};
let guestTimer = null;

/** Keep (or forget, with null) the resume token where a reloaded page finds it. */
function rememberResume(token) {
  if (GUEST) guest.save({ resume_token: token });
  else agent.storeResumeToken(token);
}

/** The guest token for hello: the one this tab got for its link (refreshed since). */
async function guestToken() {
  const stored = guest.load();
  if (!stored?.token) throw Object.assign(new Error('no guest token'), { code: 'unauthenticated' });
  return { token: stored.token, expires_at: stored.expires_at };
}

/** The first language: the one chosen in this tab, the appointment's, or the browser's. */
function guestLanguage(stored) {
  for (const lang of [stored?.lang, stored?.appointment?.language, navigator.language?.slice(0, 2)]) {
    if (UI_LANGUAGES.includes(lang)) return lang;
  }
  return 'fi';
}

function chooseGuestLanguage(lang) {
  setLanguage(lang);
  if (guest.load()) guest.save({ lang });
  renderPlace();
  for (const button of document.querySelectorAll('[data-guest-lang]')) {
    button.setAttribute('aria-pressed', String(button.dataset.guestLang === lang));
  }
  renderChip();
  // Texts that the screens build themselves, in the new language.
  if (S.screen === 'guest') renderGuest();
  if (S.screen === 'guest-notice') renderNotice();
  if (S.screen === 'waiting') $('waiting-summary').textContent = waitingSummary();
  if (S.screen === 'call') renderNames();
  if (deviceCheck && !$('guest-problem').hidden && deviceCheck.cameraMissing) {
    $('guest-problem-text').textContent = t('guest.problem.no-camera');
  }
  $('quality-text').textContent = '';
  renderQuality({ level: $('quality').dataset.level });
}

/** Take the booked appointment (from this tab's store) as what the call is about. */
function adoptAppointment(stored) {
  const appointment = stored?.appointment;
  if (!appointment) return;
  const names = stored.names ?? {};
  S.agency = { id: appointment.agency, name: names.agency ?? { fi: appointment.agency } };
  S.service = {
    id: appointment.service, name: names.service ?? { fi: appointment.service }, queues: [],
    languages: [appointment.language],
  };
  S.callLanguage = appointment.language;
  const need = appointment.interpreter;
  S.interpreter = need ? {
    id: need.modality === 'text' ? 'text' : need.language, modality: need.modality, language: need.language,
  } : null;
}

/** A plain page instead of the appointment: the link cannot be used, it is over… */
function showNotice(kind) {
  S.notice = kind;
  clearTimeout(guestTimer);
  if (S.screen === 'guest-notice') renderNotice();
  else show('guest-notice');
}

function renderNotice() {
  const kind = S.notice ?? 'network';
  $('guest-notice-icon').setAttribute('href', `${ICONS}#${NOTICE_ICONS[kind] ?? 'info'}`);
  $('guest-notice-title').textContent = t(`guest.notice.${kind}.title`);
  $('guest-notice-text').textContent = t(`guest.notice.${kind}.text`);
  section('guest-notice').dataset.kind = kind;
  $('guest-notice-retry').hidden = kind !== 'network';
}

async function retryNotice() {
  // A link whose exchange never reached the server may be tried again; else reload.
  if (S.pendingSecret) {
    show('loading');
    await bootGuest();
  } else {
    location.reload();
  }
}

/** After the welcome with no call live: the appointment, or why it cannot be joined. */
function enterGuestWelcome() {
  const stored = guest.load();
  if (!stored?.appointment) showNotice('no_link');
  else if (guest.windowState(stored) === 'over') showNotice('over');
  else if (S.screen !== 'guest') show('guest');
}

function enterGuest() {
  renderGuest();
  deviceCheck.open();
}

function renderGuest() {
  const stored = guest.load();
  if (!stored?.appointment) return;
  const { appointment } = stored;
  const lang = language();
  $('guest-time').textContent = t('guest.time_range', {
    date: guest.dateText(appointment.start, lang),
    start: guest.timeText(appointment.start, lang),
    end: guest.timeText(appointment.end, lang),
  });
  $('guest-agency').textContent = localized(S.agency?.name);
  $('guest-service').textContent = localized(S.service?.name);
  $('guest-interpreter').textContent = interpreterName();
  $('guest-interpreter-row').hidden = !S.interpreter;
  renderJoin();
}

/** Join works within the check-in window: before it, when it will; it enables itself. */
function renderJoin() {
  clearTimeout(guestTimer);
  const stored = guest.load();
  if (!stored?.appointment || S.screen !== 'guest') return;
  const state = guest.windowState(stored);
  if (state === 'over') {
    showNotice('over');
    return;
  }
  const now = guest.serverNow(stored);
  const lang = language();
  let text;
  let next;
  if (state === 'early') {
    const from = stored.checkin_from;
    const time = guest.timeText(from, lang);
    text = guest.sameDay(from, now) ? t('guest.join_from', { time })
      : t('guest.join_from_date', { date: guest.dateText(from, lang), time });
    next = from - now;
  } else {
    text = t(deviceCheck.stream ? 'guest.join_now' : 'guest.join_needs_camera');
    next = stored.appointment.end - now;
  }
  // The network went: say so plainly, and Join waits until the connection is back.
  const offline = Boolean(S.signaling) && S.signaling.state !== 'open';
  if (offline) text = t('call.reconnecting');
  const when = $('guest-when');
  if (when.textContent !== text) when.textContent = text;
  $('guest-join').disabled = state !== 'open' || offline || !deviceCheck.stream || Boolean(S.joining);
  // Again when the window opens or closes (or within a minute: a laptop may sleep).
  guestTimer = setTimeout(renderJoin, Math.min(Math.max(next * 1000 + 250, 250), 60000));
}

async function joinAppointment() {
  const join = $('guest-join');
  if (join.disabled || S.joining) return;
  S.joining = true;
  join.disabled = true;
  join.querySelector('span').textContent = t('guest.joining');
  try {
    if (S.signaling?.state !== 'open') throw Object.assign(new Error('offline'), { code: 'closed' });
    const reply = await S.signaling.request({ type: 'guest_checkin' });
    // The booked expert may answer at once: keep what comes for the session for the Call.
    S.signaling.keepSession(reply.session.session_id);
    S.dirty = true;
    S.joining = false;
    enterSession(reply.session);
  } catch (error) {
    console.warn('guest_checkin', error);
    S.joining = false;
    renderJoin();
    $('guest-when').textContent = t(error.code === 'conflict' ? 'guest.not_open' : 'guest.join_failed');
  } finally {
    S.joining = false;
    join.querySelector('span').textContent = t('guest.join');
  }
}

/** The guest page starts: take the link (once), or what this tab already has; connect. */
async function bootGuest() {
  document.body.dataset.guest = 'true';
  $('guest-langs').hidden = false;
  $('guest-chat-send').hidden = false;
  // The citizen's own keyboard (a phone's on-screen one too) writes the messages.
  $('kiosk-chat-input').setAttribute('inputmode', 'text');
  S.config = {
    site: { kind: 'S', name: null, default_language: null },
    server_url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
  };
  let stored = guest.load();
  chooseGuestLanguage(guestLanguage(stored));
  const secret = S.pendingSecret ?? guest.linkSecret();
  if (secret) {
    const digest = await guest.digest(secret);
    // The same link again in this tab (a reload before the address was tidied, or the
    // link clicked again): what the tab holds is still good; exchanging would fail.
    const known = stored?.token && digest && stored.link === digest;
    if (!known) {
      try {
        stored = await guest.exchange(secret);
        S.pendingSecret = null;
      } catch (error) {
        console.warn('guest link', error);
        if (error.code === 'network') {
          S.pendingSecret = secret;
          showNotice('network');
        } else {
          S.pendingSecret = null;
          showNotice('used');
        }
        return;
      }
      try {
        sessionStorage.removeItem('etapiste.guest');
      } catch { /* storage may be disabled */ }
      stored = guest.save(stored);
    }
  }
  if (!stored?.appointment) {
    showNotice('no_link');
    return;
  }
  if (stored.over) {
    showNotice('ended');
    return;
  }
  if (!stored.token) {
    showNotice('expired');
    return;
  }
  if (guest.windowState(stored) === 'over') {
    showNotice('over');
    return;
  }
  chooseGuestLanguage(guestLanguage(stored));
  adoptAppointment(stored);
  deviceCheck = new DeviceCheck({
    video: $('guest-video'),
    meter: $('guest-mic-meter'),
    bar: $('guest-mic-bar'),
    problem: $('guest-problem'),
    problemText: $('guest-problem-text'),
    okButton: { disabled: true }, // Join is the guest's button (renderJoin)
    retryButton: $('guest-retry'),
    soundButton: $('guest-test-sound'),
    siteKind: 'S',
    problemPrefix: 'guest.problem',
    soundOnly: true,
    onChange: () => {
      // Without a stream the picture and the bar would only puzzle: the problem says why.
      $('guest-devices').hidden = !deviceCheck.stream;
      $('guest-self').hidden = deviceCheck.cameraMissing;
      renderJoin();
    },
  });
  document.body.dataset.ready = 'true';
  await connectSignaling();
}

// --- keyboard --------------------------------------------------------------------------

function onKey(event) {
  if (document.querySelector('dialog[open]')) return; // the dialog handles its own keys
  if (S.screen === 'call') {
    onCallKey(event);
    return;
  }
  if (event.key === 'Escape') {
    const back = section(S.screen)?.querySelector('[data-back], #device-back');
    if (back && !back.hidden) {
      event.preventDefault();
      back.click();
    }
    return;
  }
  if (S.screen !== 'appointment') return;
  const input = $('appointment-code-input');
  const inInput = event.target === input;
  if (event.key === 'Enter' && (inInput || event.target === document.body || event.target.tagName === 'H1')) {
    event.preventDefault();
    submitAppointment();
  } else if (!inInput && /^[0-9]$/.test(event.key)) {
    event.preventDefault();
    typeDigit(event.key);
  } else if (!inInput && event.key === 'Backspace') {
    event.preventDefault();
    typeDigit('erase');
  }
}

/** On the call screen a physical keyboard writes: a typed letter opens the panel. */
function onCallKey(event) {
  const input = $('kiosk-chat-input');
  if (event.key === 'Escape' && writing()) {
    event.preventDefault();
    closeWriter();
  } else if (event.key === 'Escape' && doccam.open) {
    event.preventDefault();
    doccam.closeView({ declined: true });
  } else if (event.key === 'Enter' && event.target === input) {
    event.preventDefault();
    sendChat().catch((error) => console.error(error));
  } else if (!writing() && event.key.length === 1 && event.key !== ' '
      && !event.ctrlKey && !event.altKey && !event.metaKey) {
    event.preventDefault();
    openWriter();
    keyboard.type(event.key);
  }
}

// --- start -----------------------------------------------------------------------------

function wire() {
  for (const button of document.querySelectorAll('[data-lang]')) {
    button.addEventListener('click', () => chooseLanguage(button.dataset.lang));
  }
  for (const button of document.querySelectorAll('[data-back]')) {
    button.addEventListener('click', () => show(button.dataset.back));
  }
  $('device-back').addEventListener('click', () => {
    show(S.skippedServices ? 'agencies' : 'services');
  });
  for (const button of document.querySelectorAll('[data-more]')) {
    const list = $(button.dataset.more);
    button.addEventListener('click', () => scrollMore(list));
    list.addEventListener('scroll', () => updateMore(list), { passive: true });
  }
  window.addEventListener('resize', () => document.querySelectorAll('.tiles').forEach(updateMore));
  $('need-interpreter').addEventListener('click', () => show('interpreter'));
  $('appointment-code').addEventListener('click', () => show('appointment'));
  $('interpreter-remove').addEventListener('click', removeInterpreting);
  $('start-over').addEventListener('click', () => privacyReset());
  for (const key of document.querySelectorAll('.keypad [data-key]')) {
    key.addEventListener('click', guarded(() => {
      if (key.dataset.key === 'ok') return submitAppointment();
      typeDigit(key.dataset.key);
      return null;
    }));
  }
  const input = $('appointment-code-input');
  input.addEventListener('input', () => {
    const digits = input.value.replace(/\D/g, '').slice(0, CODE_MAX);
    if (digits !== input.value) input.value = digits;
    input.removeAttribute('aria-invalid');
    $('appointment-error').textContent = '';
  });
  $('device-ok').addEventListener('click', () => { if (!$('device-ok').disabled) show('ready'); });
  $('call-start').addEventListener('click', guarded(startCall));
  $('call-cancel').addEventListener('click', guarded(cancelCall));
  $('end-call').addEventListener('click', guarded(endCall));
  $('mute').addEventListener('click', toggleMute);
  $('writer-open').addEventListener('click', openWriter);
  $('writer-close').addEventListener('click', () => closeWriter());
  $('kiosk-chat-input').addEventListener('input', () => {
    showWriterError('');
    updateSend();
  });
  for (const button of document.querySelectorAll('#feedback-buttons [data-score]')) {
    button.addEventListener('click', guarded(() => giveFeedback(Number(button.dataset.score))));
  }
  $('feedback-skip').addEventListener('click', guarded(() => giveFeedback(null)));
  $('thanks-done').addEventListener('click', () => privacyReset());
  $('error-retry').addEventListener('click', () => privacyReset());
  $('message-ok').addEventListener('click', () => $('message-dialog').close());
  $('guest-join').addEventListener('click', guarded(joinAppointment));
  $('guest-chat-send').addEventListener('click', () => sendChat().catch((error) => console.error(error)));
  $('guest-notice-retry').addEventListener('click', guarded(retryNotice));
  for (const button of document.querySelectorAll('[data-guest-lang]')) {
    button.addEventListener('click', () => chooseGuestLanguage(button.dataset.guestLang));
  }
  document.addEventListener('keydown', onKey);
}

async function boot() {
  try {
    await loadCatalogs();
  } catch (error) {
    console.error(error);
    // Without catalogues there are no words: try again shortly.
    setTimeout(() => location.reload(), CONNECT_RETRY_MS);
    return;
  }
  setLanguage('fi');
  keyboard = new Keyboard({
    root: $('keyboard'),
    input: $('kiosk-chat-input'),
    max: CHAT_MAX,
    text: (key) => t(key === 'send' ? 'chat.send' : `chat.key.${key}`),
    onSend: () => sendChat().catch((error) => console.error(error)),
  });
  doccam = new DocumentCamera({
    screen: section('call'),
    t,
    announce,
    mayOpenByItself: () => S.screen === 'call' && !writing(),
    beforeOpen: () => closeWriter(),
  });
  tiles = new InterpreterTiles({
    grid: $('call-grid'),
    screen: section('call'),
    template: $('interpreter-tile'),
    before: $('captions'),
    t,
    languageName,
  });
  captions = new Captions({
    grid: $('call-grid'),
    band: $('captions'),
    lines: $('caption-lines'),
    live: $('caption-live'),
    waiting: $('caption-waiting'),
  });
  interpreterRequest = new InterpreterRequestStatus({
    root: $('interp-status'),
    calling: $('interp-calling'),
    callingTitle: $('interp-calling-title'),
    callingNeed: $('interp-calling-need'),
    unanswered: $('interp-unanswered'),
    unansweredNeed: $('interp-unanswered-need'),
    keepWaiting: $('interp-keep-waiting'),
    tryAgain: $('interp-try-again'),
    error: $('interp-error'),
    screen: section('call'),
    t,
    languageName,
    announce,
    request: requestInterpreterAgain,
    afterDismiss: () => $('call-title').focus({ preventScroll: true }),
  });
  wire();
  if (GUEST) {
    await bootGuest();
    return;
  }
  deviceCheck = new DeviceCheck({
    video: $('device-video'),
    meter: $('mic-meter'),
    bar: $('mic-bar'),
    problem: $('device-problem'),
    problemText: $('device-problem-text'),
    okButton: $('device-ok'),
    retryButton: $('device-retry'),
    soundButton: $('test-sound'),
    siteKind: 'S',
  });
  try {
    S.config = await agent.kioskConfig();
  } catch (error) {
    console.error('agent', error);
    showError('error.connection');
    setTimeout(() => location.replace('/'), CONNECT_RETRY_MS * 2);
    return;
  }
  deviceCheck.siteKind = S.config.site.kind;
  setLanguage(S.config.site.default_language ?? 'fi');
  renderPlace();
  inactivity = new Inactivity({
    timeoutS: S.config.inactivity_s ?? 90,
    dialog: $('inactivity-dialog'),
    countdown: $('inactivity-countdown'),
    text: { element: $('inactivity-text'), sentence: (s) => t('inactivity.text', { s }) },
    continueButton: $('inactivity-continue'),
    isWatched: () => !S.resetting && !UNWATCHED_SCREENS.has(S.screen)
      && !(S.screen === 'welcome' && !S.dirty)
      && !(S.screen === 'feedback' && !$('feedback-thanks').hidden),
    onShow: () => { if ($('message-dialog').open) $('message-dialog').close(); },
    onExpire: () => privacyReset(),
  });
  inactivity.start();
  agent.alive();
  setInterval(() => agent.alive(), ALIVE_MS);
  show('welcome');
  document.body.dataset.ready = 'true';
  await connectSignaling();
}

/** Technical state for tests and support staff: no names, no typed text. */
window.kioskDiagnostics = () => ({
  screen: S.screen,
  guest: GUEST,
  signaling: S.signaling?.state ?? null,
  session: S.session ? {
    state: S.session.state,
    participants: S.session.participants.length,
    kinds: S.session.participants.map((p) => p.kind),
    site: S.session.site,
  } : null,
  writing: writing(),
  doccam: doccam?.diagnostics() ?? null,
  layout: $('call-grid')?.dataset.layout ?? null,
  signLanguage: S.call?.signLanguage ?? false,
  // Per participant id: the video sender's degradationPreference and priorities.
  videoSenders: S.call?.videoSenderParameters?.() ?? {},
  camera: (() => {
    const track = deviceCheck?.stream?.getVideoTracks()[0];
    if (!track) return null;
    return { frameRate: track.getSettings().frameRate ?? null, constraints: track.getConstraints() };
  })(),
  peers: Object.fromEntries([...(S.call?.peerConnections ?? new Map())].map(([id, pc]) => [
    id, { connection: pc.connectionState, ice: pc.iceConnectionState, signaling: pc.signalingState },
  ])),
});

window.addEventListener('unhandledrejection', (event) => console.error('unhandled', event.reason));
// Every module loaded and ran: boot-check.js need not reload the page. (From here on boot()
// looks after itself: it retries the catalogues and the agent on its own.)
window.etapisteStarted = true;
boot().catch((error) => {
  console.error(error);
  showError();
});
