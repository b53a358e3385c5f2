// The call's chat: lines go to the booth's screen and the citizen's lines come here.
// Nothing is saved: the lines go with the call or the page.

import { request } from './connection.js';
import { guarded } from './dialog.js';
import { $, element } from './dom.js';
import { timeOfDay } from './format.js';
import { t } from './i18n.js';
import { currentScreen } from './screens.js';

const CHAT_MAX = 1000;

let call = null; // the Call whose chat is open

/** Open an empty chat for `activeCall`. */
export function openChat(activeCall) {
  call = activeCall;
  $('chat-log').replaceChildren();
  $('chat-input').value = '';
  $('chat-error').textContent = '';
}

/** Close the chat: the call is over and nothing of the chat is kept. */
export function closeChat() {
  call = null;
  $('chat-log').replaceChildren();
  $('chat-input').value = '';
}

/** Return who wrote a line, in words (null: you). */
function whoIs(participantId) {
  if (participantId === null) return t('chat.you');
  const kind = call?.participants.get(participantId)?.kind;
  return t(`chat.from_${kind ?? 'other'}`);
}

/** Add a line to the chat log and scroll to it. */
function addLine(from, text, at) {
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

/** Take the server's chat message: a line of this call's chat. */
export function receiveChat(msg) {
  if (call && msg.session_id === call.sessionId) addLine(msg.from, msg.text, msg.at);
}

/** Send the typed line. */
async function sendChat(event) {
  event.preventDefault();
  const input = $('chat-input');
  const text = input.value.trim();
  const error = $('chat-error');
  error.textContent = '';
  if (!text || !call) return;
  if (text.length > CHAT_MAX) {
    error.textContent = t('chat.too_long', { n: CHAT_MAX });
    return;
  }
  try {
    await request({ type: 'chat', session_id: call.sessionId, text });
  } catch (failure) {
    console.warn('chat', failure);
    error.textContent = t('chat.failed');
    return;
  }
  input.value = '';
  addLine(null, text, Date.now() / 1000);
}

/** Move the focus to the chat input (in a call). */
export function focusChat() {
  if (currentScreen() === 'call') $('chat-input').focus();
}

/** Wire the chat form. */
export function wireChat() {
  $('chat-form').addEventListener('submit', guarded(sendChat));
}
