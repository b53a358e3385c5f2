// The speech-to-text interpreter's caption writer: what is typed goes to the call as the
// line being typed (caption final:false, at most 10 a second), Enter sends the finished
// line (final:true) and empties the field (docs/protocol.md §5.3). Nothing is kept: the
// last few lines show here while the call lasts.

import { connection } from './connection.js';
import { $, element } from './dom.js';
import { t } from './i18n.js';

const MIN_INTERVAL_MS = 100; // at most 10 lines being typed a second
const SHOWN_LINES = 5;

let call = null;
let lastSentAt = 0;
let pending = null; // the timer that sends the latest text being typed
let lastSent = '';

/** Send one caption of the call; return whether it went out. */
function send(text, final) {
  if (!call) return false;
  lastSentAt = performance.now();
  lastSent = text;
  return connection().send({ type: 'caption', session_id: call.sessionId, text, final });
}

/** Send the text being typed now, or as soon as the rate allows (the latest wins). */
function typed() {
  if (!call || pending) return; // a timer sends the latest text when it fires
  sendTyping();
}

function sendTyping() {
  pending = null;
  // Timers may fire a little early: wait out the rest rather than send too soon.
  const wait = MIN_INTERVAL_MS - (performance.now() - lastSentAt);
  if (wait > 0) {
    pending = setTimeout(sendTyping, wait);
    return;
  }
  const text = $('caption-input').value;
  if (text === lastSent) return;
  if (!send(text, false)) $('caption-error').textContent = t('captions.not_sent');
}

/** Enter: send the finished line and empty the field; Shift+Enter is not a line of its own. */
function onKey(event) {
  if (event.key !== 'Enter' || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  clearTimeout(pending);
  pending = null;
  const input = $('caption-input');
  const text = input.value.trim();
  if (!text) return;
  if (!send(text, true)) {
    $('caption-error').textContent = t('captions.not_sent');
    return;
  }
  $('caption-error').textContent = '';
  input.value = '';
  lastSent = '';
  const sent = $('caption-sent');
  sent.append(element('p', { className: 'caption-line', text, attrs: { 'data-testid': 'caption-sent-line' } }));
  while (sent.childElementCount > SHOWN_LINES) sent.firstElementChild.remove();
}

/** Show the writer for `activeCall`, empty. */
export function openCaptionWriter(activeCall) {
  call = activeCall;
  $('caption-box').hidden = false;
  $('caption-input').value = '';
  $('caption-sent').replaceChildren();
  $('caption-error').textContent = '';
  lastSent = '';
}

/** Hide the writer and forget what was written. */
export function closeCaptionWriter() {
  call = null;
  clearTimeout(pending);
  pending = null;
  $('caption-box').hidden = true;
  $('caption-input').value = '';
  $('caption-sent').replaceChildren();
}

/** Wire the caption field. */
export function wireCaptionWriter() {
  $('caption-input').addEventListener('input', typed);
  $('caption-input').addEventListener('keydown', onKey);
}
