// The interpreter's incoming requests: several may ring at once (from different calls).
// Each shows the language and kind of interpreting, the agency and service, where the
// citizen is, how urgent it is, how long the request has waited (ticking) and how long it
// still rings; Accept and Decline. Withdrawn rings go with a plain line saying why
// (docs/protocol.md §5.3: interpreter_offer, interpreter_offer_withdrawn).

import { ring } from './bell.js';
import { request } from './connection.js';
import { guarded } from './dialog.js';
import { agencyName, interpreterText, serviceName, siteOf } from './directory.js';
import { $, announce, element } from './dom.js';
import { clock } from './format.js';
import { languageName, t } from './i18n.js';
import { cancelExpectedCall, expectCall, inInterpreterCall } from './interpreter-call.js';
import { openMedia, stopLocalMedia } from './local-media.js';
import { noticeKey, tell } from './notice.js';

// How long past its ring time a request stays up waiting for the server's word.
const RING_GRACE_S = 5;

const rings = new Map(); // request id -> {message, at}
let accepting = null; // the request id being accepted

/** Return the ids of the requests ringing now (for diagnostics). */
export function ringingRequests() {
  return [...rings.keys()];
}

/** Where the citizen is, in words: "Kitee, service point". */
function placeOf(msg) {
  const site = siteOf(msg.site);
  return t('requests.place', { municipality: site.municipality || site.name, kind: t(`site.kind_${site.kind}`) });
}

/** Ring or stop ringing as the list says; the tab's title says it too. */
function updateRing() {
  if (rings.size && !accepting) {
    const left = Math.max(...[...rings.values()].map(({ message, at }) =>
      message.ring_timeout_s - (performance.now() - at) / 1000));
    ring.stop();
    ring.start(left);
    document.title = `${t('requests.title_ringing')} – ${t('app.title')}`;
  } else {
    ring.stop();
    document.title = t('app.title');
  }
}

/** Take the server's interpreter_offer: a request rings at us. */
export function addRequest(msg) {
  if (inInterpreterCall()) return; // the server rings only a free interpreter
  rings.set(msg.request_id, { message: msg, at: performance.now() });
  renderRequests();
  updateRing();
  announce(t('requests.announce', {
    need: interpreterText({ language: msg.language, modality: msg.modality }),
    agency: agencyName(msg.agency), place: placeOf(msg),
  }));
}

/** One request as a list item: the facts, the times and the two buttons. */
function requestItem(id, { message: msg }) {
  const item = element('li', { className: 'card request', attrs: { 'data-testid': 'request', 'data-request-id': id } });
  const head = element('div', { className: 'request-head' });
  const icon = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  icon.setAttribute('class', 'icon big ringing');
  icon.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
  use.setAttribute('href', '/console/icons.svg#interpreter');
  icon.append(use);
  const titleId = `request-title-${id}`;
  const title = element('h3', { className: 'request-title', attrs: { id: titleId, 'data-testid': 'request-need' },
    text: interpreterText({ language: msg.language, modality: msg.modality }) });
  if (msg.urgency === 'on_demand') {
    title.append(' ', element('span', { className: 'urgency', text: t('requests.urgency_on_demand') }));
  } else {
    title.append(' ', element('span', { className: 'urgency booked', text: t('requests.urgency_booked') }));
  }
  head.append(icon, title);
  item.setAttribute('aria-labelledby', titleId);
  const facts = element('dl', { className: 'facts' });
  const fact = (label, text, testid) => {
    const row = element('div');
    row.append(element('dt', { text: t(label) }), element('dd', { text, attrs: { 'data-testid': testid } }));
    facts.append(row);
  };
  fact('requests.agency', `${agencyName(msg.agency)} · ${serviceName(msg.agency, msg.service)}`, 'request-agency');
  fact('requests.site', placeOf(msg), 'request-site');
  fact('requests.call_language', languageName(msg.session_language), 'request-call-language');
  fact('requests.waited', '', 'request-waited');
  const left = element('p', { className: 'small muted', attrs: { 'data-testid': 'request-ring-left' } });
  const actions = element('div', { className: 'offer-actions' });
  const decline = element('button', { className: 'secondary', attrs: { type: 'button', 'data-testid': 'request-decline' } });
  decline.append(element('span', { text: t('requests.decline') }));
  const accept = element('button', { className: 'accept', attrs: { type: 'button', 'data-testid': 'request-accept' } });
  accept.append(element('span', { text: t('requests.accept') }));
  for (const button of [decline, accept]) {
    button.setAttribute('aria-describedby', titleId);
    button.disabled = accepting !== null;
  }
  decline.addEventListener('click', guarded(() => declineRequest(id)));
  accept.addEventListener('click', guarded(() => acceptRequest(id)));
  actions.append(decline, accept);
  item.append(head, facts, left, actions);
  return item;
}

/** Show the list in the chosen language. */
export function renderRequests() {
  const list = $('requests');
  const focused = document.activeElement?.closest?.('[data-testid=request]')?.dataset.requestId;
  const focusedTestid = document.activeElement?.dataset?.testid;
  list.replaceChildren(...[...rings].map(([id, entry]) => requestItem(id, entry)));
  $('requests-empty').hidden = rings.size > 0;
  $('requests-count').textContent = rings.size ? t('requests.count', { n: rings.size }) : '';
  if (focused && focusedTestid) {
    // A re-rendered list keeps the focus on the same button of the same request.
    list.querySelector(`[data-request-id="${CSS.escape(focused)}"] [data-testid="${focusedTestid}"]`)?.focus();
  }
  tickRequests();
}

/** Tick each request's waited time and ring time on; drop what the server forgot to withdraw. */
export function tickRequests() {
  for (const [id, { message, at }] of [...rings]) {
    const elapsed = (performance.now() - at) / 1000;
    if (message.ring_timeout_s - elapsed < -RING_GRACE_S && accepting !== id) {
      // The withdrawal never came (a dropped connection): the ring is over.
      rings.delete(id);
      renderRequests();
      updateRing();
      return;
    }
    const item = $('requests').querySelector(`[data-request-id="${CSS.escape(id)}"]`);
    if (!item) continue;
    item.querySelector('[data-testid=request-waited]').textContent = clock(message.waited_s + elapsed);
    item.querySelector('[data-testid=request-ring-left]').textContent = t('requests.ring_left', {
      s: Math.ceil(Math.max(0, message.ring_timeout_s - elapsed)),
    });
  }
}

/** Take the server's interpreter_offer_withdrawn: the request no longer rings at us. */
export function requestWithdrawn(msg) {
  const entry = rings.get(msg.request_id);
  if (!entry || accepting === msg.request_id) return; // the accept's reply decides
  rings.delete(msg.request_id);
  renderRequests();
  updateRing();
  if (msg.reason === 'declined') return; // our own decline
  // Being paused for rings that rang out says more than "a request rang out": keep it.
  if (noticeKey() === 'availability.missed_requests_notice') return;
  const key = { taken: 'requests.taken', cancelled: 'requests.cancelled', timeout: 'requests.timed_out' }[msg.reason]
    ?? 'requests.withdrawn';
  tell(key, { agency: entry.message.agency, place: placeOf(entry.message) });
}

/** Accept a request: open the camera and microphone, then ask to join its call. */
async function acceptRequest(id) {
  const entry = rings.get(id);
  if (!entry || accepting) return;
  accepting = id;
  renderRequests();
  updateRing();
  const msg = entry.message;
  expectCall(msg);
  await openMedia(siteOf(msg.site).kind);
  try {
    await request({ type: 'interpreter_accept', request_id: id });
  } catch (error) {
    console.warn('interpreter_accept', error);
    accepting = null;
    cancelExpectedCall();
    stopLocalMedia();
    rings.delete(id);
    renderRequests();
    updateRing();
    // conflict: another interpreter was first (or the request closed meanwhile).
    tell(error.code === 'conflict' ? 'requests.lost_race' : 'requests.accept_failed',
      { agency: msg.agency, place: placeOf(msg) });
    return;
  }
  accepting = null;
  rings.delete(id);
  // We are busy now: the other requests go on to the next interpreter at once.
  const others = [...rings.keys()];
  rings.clear();
  renderRequests();
  updateRing();
  for (const other of others) {
    request({ type: 'interpreter_decline', request_id: other }).catch((error) => console.warn('decline', error));
  }
}

/** Decline a request: it goes on to the other interpreters. */
async function declineRequest(id) {
  if (!rings.has(id) || accepting) return;
  rings.delete(id);
  renderRequests();
  updateRing();
  try {
    await request({ type: 'interpreter_decline', request_id: id });
  } catch (error) {
    console.warn('interpreter_decline', error); // already withdrawn: nothing to do
  }
}

/** Forget every ring (a call started). */
export function clearRequests() {
  rings.clear();
  renderRequests();
  updateRing();
}
