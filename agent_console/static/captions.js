// Live captions in the expert's call: what a speech-to-text interpreter types, the line
// being typed and then the finished lines (docs/protocol.md §5.3). Shown as text only, kept
// nowhere: they live in the page while the call lasts, at most the last few lines.

import { $, element } from './dom.js';

const KEEP_LINES = 30;

let sessionId = null; // the call whose captions are shown
const typing = new Map(); // participant id -> the line being typed

/** Start showing the captions of the call `id` (empty). */
export function openCaptions(id) {
  sessionId = id;
  typing.clear();
  $('captions-log').replaceChildren();
  renderTyping();
}

/** Forget every caption: the call is over. */
export function closeCaptions() {
  openCaptions(null);
}

/** Show the lines being typed, one per interpreter. */
function renderTyping() {
  const lines = [...typing.values()].filter((text) => text);
  $('caption-live').textContent = lines.join('\n');
  $('caption-live').hidden = lines.length === 0;
  $('captions-box').hidden = lines.length === 0 && $('captions-log').childElementCount === 0;
}

/** Take the server's caption: a line being typed, or a finished one. */
export function receiveCaption(msg) {
  if (!sessionId || msg.session_id !== sessionId) return;
  if (!msg.final) {
    typing.set(msg.from, msg.text);
    renderTyping();
    return;
  }
  typing.delete(msg.from);
  const log = $('captions-log');
  if (msg.text.trim()) {
    log.append(element('p', { className: 'caption-line', text: msg.text, attrs: { 'data-testid': 'caption-line' } }));
    while (log.childElementCount > KEEP_LINES) log.firstElementChild.remove();
  }
  renderTyping();
  log.scrollTop = log.scrollHeight;
}
