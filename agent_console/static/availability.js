// Availability: the pill in the top bar and its buttons, the pause reason, and the wrap-up
// after a call, which counts down to available by itself.

import { ring } from './bell.js';
import { request } from './connection.js';
import { guarded, showMessage } from './dialog.js';
import { $ } from './dom.js';
import { clock } from './format.js';
import { t } from './i18n.js';
import { noticeKey, setNotice, tell } from './notice.js';

const PAUSE_REASONS = ['break', 'meeting', 'training', 'other'];

let availability = { status: 'unknown', reason: null, skills: null, canChoose: false, wrapUpEnd: null };
let inCall = false;
let words = { missed: 'availability.missed_notice', reasons: {} };

/** Speak of requests rather than calls for an interpreter. */
export function configureAvailability({ interpreter = false } = {}) {
  words = interpreter
    ? { missed: 'availability.missed_requests_notice', reasons: { missed_offers: 'reason.missed_requests' } }
    : { missed: 'availability.missed_notice', reasons: {} };
}

/** Return the availability as the server last said it ({status, reason, skills, canChoose, wrapUpEnd}). */
export function currentAvailability() {
  return availability;
}

/** Take the server's availability message. */
export function applyAvailability(msg) {
  const previous = availability;
  availability = {
    status: msg.status,
    reason: msg.reason ?? null,
    skills: msg.skills ?? previous.skills,
    canChoose: Boolean(msg.can_choose_skills),
    wrapUpEnd: msg.status === 'wrap_up' && typeof msg.wrap_up_s === 'number'
      ? Date.now() + msg.wrap_up_s * 1000 : null,
  };
  if (msg.status === 'paused' && msg.reason === 'missed_offers' && previous.reason !== 'missed_offers') {
    tell(words.missed);
  } else if (msg.status === 'available' && noticeKey() === words.missed) {
    setNotice(null);
  }
  if (msg.status === 'paused' && PAUSE_REASONS.includes(msg.reason)) $('pause-reason').value = msg.reason;
  renderAvailability();
}

/** Say on the pill whether a call is under way. */
export function setInCall(value) {
  inCall = value;
  renderAvailability();
}

/** Return the words for a pause reason. */
function reasonText(reason) {
  if (!reason) return '';
  const key = words.reasons[reason] ?? `reason.${reason}`;
  const text = t(key);
  return text === key ? reason : text; // a reason set elsewhere is shown as it is, as text
}

/** Show the availability on the pill and the buttons. */
export function renderAvailability() {
  const { status, reason, wrapUpEnd } = availability;
  const pill = $('availability');
  pill.dataset.status = status;
  let text;
  if (status === 'available') text = t('availability.is_available');
  else if (status === 'paused') text = reason ? t('availability.is_paused_reason', { reason: reasonText(reason) }) : t('availability.is_paused');
  else if (status === 'wrap_up') {
    const left = wrapUpEnd ? (wrapUpEnd - Date.now()) / 1000 : null;
    text = left !== null && left <= 0 ? t('availability.is_available') : t('availability.is_wrap_up', { time: clock(left) });
    if (left !== null && left <= 0) pill.dataset.status = 'available';
  } else if (status === 'busy') text = t('availability.in_call');
  else text = t('availability.unknown');
  if (inCall) text = t('availability.in_call');
  pill.dataset.call = String(inCall);
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

/** Count the wrap-up down; return true when it has just ended. */
export function tickWrapUp() {
  if (availability.status !== 'wrap_up') return false;
  const ended = availability.wrapUpEnd !== null && Date.now() >= availability.wrapUpEnd;
  if (ended) {
    // The server makes us available by itself and says nothing more (protocol.md §3).
    availability = { ...availability, status: 'available', wrapUpEnd: null };
  }
  renderAvailability();
  return ended;
}

/** Ask the server for `status` (paused: with the chosen reason). */
async function setAvailability(status) {
  const message = { type: 'set_availability', status };
  if (status === 'paused') message.reason = $('pause-reason').value;
  ring.unlock();
  try {
    await request(message);
  } catch (error) {
    console.warn('set_availability', error);
    showMessage(t('error.title'), t('availability.failed'));
  }
}

/** Wire the Available and Pause buttons and the pause reason. */
export function wireAvailability() {
  $('go-available').addEventListener('click', guarded(() => setAvailability('available')));
  $('go-paused').addEventListener('click', guarded(() => setAvailability('paused')));
  $('pause-reason').addEventListener('change', guarded(() => {
    if (availability.status === 'paused' && PAUSE_REASONS.includes(availability.reason ?? 'other')) {
      return setAvailability('paused');
    }
    return null;
  }));
}
