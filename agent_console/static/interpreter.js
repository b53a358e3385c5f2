// The expert's interpreter request: the dialog that asks for one (the kind of interpreting
// and the language), and the call's interpreter card, which follows the request from the
// session's snapshots (session.interpreter_request, docs/protocol.md §5.3): ringing,
// widened to everyone suitable, unanswered (keep waiting, try again or cancel), and the
// interpreters who joined or left. The waited time ticks on between snapshots.

import { openBooking } from './bookings.js';
import { callShown, currentCall, currentSession } from './call-view.js';
import { request } from './connection.js';
import { closeDialog, guarded, openDialog } from './dialog.js';
import { interpreterText } from './directory.js';
import { $, announce, fillSelect } from './dom.js';
import { clock } from './format.js';
import { languageName, t } from './i18n.js';

// Languages by kind of interpreting; names come from the catalogue. Speech-to-text writes
// the call's own language (docs/protocol.md §5.3: N = L), so it offers only that.
const SPOKEN = ['ar', 'so', 'ru', 'uk', 'fa', 'ckb', 'et', 'zh', 'vi', 'th', 'se', 'en', 'sv', 'fi'];
const SIGN = ['fse', 'fss'];
const MODALITIES = ['spoken', 'sign', 'text'];

let snapshot = null; // the latest session of the call under way
let receivedAt = 0; // performance.now() when it came
let event = null; // {key, vars}: the last thing that happened (joined, left, cancelled…)
let dismissed = null; // the request id whose "unanswered" choices the expert put aside
let cancelling = null; // the request id we cancelled

/** Return the interpreters in a session. */
function interpretersOf(session) {
  return (session?.participants ?? []).filter((p) => p.kind === 'interpreter');
}

/** Return the languages offered for `modality` in a call in `sessionLanguage`. */
function languagesFor(modality, sessionLanguage) {
  if (modality === 'sign') return SIGN;
  if (modality === 'text') return [sessionLanguage || 'fi'];
  return SPOKEN.filter((code) => code !== sessionLanguage);
}

/** Fill the kinds and the languages in the chosen language, choosing `modality` and `language`. */
function renderChoices(modality, language) {
  fillSelect($('interpreter-modality'), MODALITIES.map((m) => ({ value: m, text: t(`modality.${m}`) })), modality);
  const codes = languagesFor($('interpreter-modality').value, currentSession()?.language);
  fillSelect($('interpreter-language'), codes.map((code) => ({ value: code, text: languageName(code) })), language);
}

/** Show the open dialog and the call's interpreter card in the chosen language. */
export function renderInterpreter() {
  if ($('interpreter-dialog').open) renderChoices($('interpreter-modality').value, $('interpreter-language').value);
  renderStatus();
}

/** Open the interpreter dialog (in a call), with the citizen's interpreter need chosen. */
export function openInterpreter() {
  if (!callShown()) return;
  const need = currentSession()?.interpreter;
  renderChoices(need?.modality ?? 'spoken', need?.language ?? 'ar');
  $('interpreter-error').textContent = '';
  openDialog($('interpreter-dialog'));
}

/** Plain words for a refused interpreter_request. */
function refusalText(error) {
  if (error.code === 'not_found') return t('interpreter.none_registered');
  if (error.code === 'conflict') return t('interpreter.conflict');
  if (error.code === 'closed' || error.code === 'timeout') return t('interpreter.unreachable');
  return t('interpreter.failed');
}

/** Ask for an interpreter of `need` in the call; resolve with an error text or null. */
async function ask(need) {
  const call = currentCall();
  if (!call) return null;
  try {
    await request({ type: 'interpreter_request', session_id: call.sessionId, ...need });
  } catch (error) {
    console.warn('interpreter_request', error);
    return refusalText(error);
  }
  dismissed = null;
  event = null;
  showError('');
  return null;
}

/** Send the dialog's request; close it when the server took it. */
async function submitInterpreter(submitEvent) {
  submitEvent.preventDefault();
  const button = $('interpreter-request');
  button.disabled = true;
  const refused = await ask({ language: $('interpreter-language').value, modality: $('interpreter-modality').value });
  button.disabled = false;
  if (refused) {
    $('interpreter-error').textContent = refused;
    return;
  }
  closeDialog($('interpreter-dialog'));
  announce(t('istatus.asked'));
}

/** Ask again for the open request's need: the clock starts over, everyone is rung again. */
async function retry() {
  const open = snapshot?.interpreter_request;
  if (!open) return;
  const refused = await ask({ language: open.language, modality: open.modality });
  if (refused) {
    showError(refused);
    return;
  }
  // The choices go with the new ring; the focus stays in the card.
  $('interpreter-cancel').focus();
}

/** Say in the card that something the expert asked for did not work. */
function showError(text) {
  $('interpreter-card-error').textContent = text;
}

/** Withdraw the open request. */
async function cancel() {
  const call = currentCall();
  const open = snapshot?.interpreter_request;
  if (!call || !open) return;
  cancelling = open.request_id;
  showError('');
  try {
    await request({ type: 'interpreter_cancel', session_id: call.sessionId });
  } catch (error) {
    console.warn('interpreter_cancel', error);
    cancelling = null;
    // conflict: no request was open any more (an interpreter took it meanwhile).
    if (error.code !== 'conflict') showError(t('interpreter.failed'));
    return;
  }
  // The Cancel button goes with the request: keep the focus near, on Ask for interpreter.
  if ($('interpreter-box').contains(document.activeElement) || document.activeElement === document.body) {
    $('invite-interpreter').focus();
  }
}

/** Keep waiting: put the unanswered choices aside; whoever becomes free is still rung. */
function keepWaiting() {
  dismissed = snapshot?.interpreter_request?.request_id ?? null;
  renderStatus();
  $('interpreter-cancel').focus();
}

function setEvent(key, vars = {}) {
  event = { key, vars };
  renderStatus();
  announce($('interpreter-status').textContent);
}

/** Take a session snapshot of the call: tell what changed for its interpreters. */
export function followInterpreting(session) {
  const call = currentCall();
  if (!call || session?.session_id !== call.sessionId) return;
  const previous = snapshot?.session_id === session.session_id ? snapshot : null;
  snapshot = session;
  receivedAt = performance.now();
  if (!previous) {
    renderStatus();
    return;
  }
  const before = new Set(interpretersOf(previous).map((p) => p.id));
  const after = interpretersOf(session);
  const joined = after.filter((p) => !before.has(p.id));
  const left = [...before].filter((id) => !after.some((p) => p.id === id));
  const wasOpen = previous.interpreter_request;
  if (joined.length) {
    setEvent('istatus.joined', { need: interpreterText(joined[0].interpreting) });
  } else if (left.length) {
    setEvent(after.length ? 'istatus.one_left' : 'istatus.left');
  } else if (wasOpen && !session.interpreter_request) {
    setEvent(cancelling === wasOpen.request_id ? 'istatus.cancelled' : 'istatus.withdrawn');
  } else if (newlyTold(wasOpen, session.interpreter_request)) {
    renderStatus();
    announce($('interpreter-status').textContent);
  } else {
    renderStatus();
  }
}

/** Whether the request turned to a state the expert must be told of (nobody answered, or
 * nobody can be called at all for the booth's need). */
function newlyTold(before, now) {
  if (!now || !['unanswered', 'unavailable'].includes(now.state)) return false;
  return before?.request_id !== now.request_id || before.state !== now.state;
}

/** Take our call's current snapshot after a rejoin, and forget a call that is over. */
function sync() {
  const call = currentCall();
  if (!call) {
    snapshot = null;
    event = null;
    dismissed = null;
    cancelling = null;
    $('interpreter-card-error').textContent = '';
    return;
  }
  if (snapshot?.session_id !== call.sessionId && currentSession()) {
    snapshot = currentSession();
    receivedAt = performance.now();
    event = null;
  }
}

/** Return the request's state as the card shows it. */
function stateOf(open) {
  if (!open) return event ? event.key.replace('istatus.', '') : 'none';
  if (open.state === 'unavailable') return 'unavailable';
  if (open.state === 'unanswered') return dismissed === open.request_id ? 'waiting' : 'unanswered';
  return open.widened ? 'widened' : 'ringing';
}

/** Show the call's interpreter card. */
function renderStatus() {
  sync();
  const box = $('interpreter-box');
  const open = snapshot?.interpreter_request ?? null;
  const members = interpretersOf(snapshot);
  box.hidden = !snapshot || (!open && !event && members.length === 0);
  if (box.hidden) return;
  const state = stateOf(open);
  const status = $('interpreter-status');
  status.dataset.state = state;
  let text;
  if (open) {
    const need = interpreterText({ language: open.language, modality: open.modality });
    text = t(`istatus.${state}`, { need, limit: clock(open.limit_s) });
  } else if (event) {
    text = t(event.key, event.vars);
  } else {
    text = '';
  }
  status.textContent = text;
  status.hidden = !text;
  $('interpreter-members').textContent = members.length
    ? t('istatus.members', { needs: members.map((p) => interpreterText(p.interpreting)).join(', ') }) : '';
  $('interpreter-members').hidden = members.length === 0;
  $('interpreter-choices').hidden = state !== 'unanswered';
  $('interpreter-cancel').hidden = !open;
  tickInterpreter();
}

/** Tick the open request's waited time on. */
export function tickInterpreter() {
  sync();
  const open = snapshot?.interpreter_request;
  const waited = $('interpreter-waited');
  // Nothing rings for a need nobody serves: no time waited to show.
  waited.hidden = !open || open.state === 'unavailable';
  if (!open || open.state === 'unavailable') {
    if (!snapshot) $('interpreter-box').hidden = true;
    return;
  }
  const seconds = open.waited_s + (performance.now() - receivedAt) / 1000;
  waited.textContent = t('istatus.waited', { time: clock(seconds), n: open.rung });
}

/** Open the booking form for a later time, prefilled with this call's facts and need. */
function bookLater() {
  const session = currentSession();
  const open = snapshot?.interpreter_request;
  const need = open ? { language: open.language, modality: open.modality } : session?.interpreter ?? null;
  openBooking({
    site: session?.site, agency: session?.agency, service: session?.service, language: session?.language,
    interpreter: need,
  });
}

/** Wire Invite interpreter, its form and the card's choices. */
export function wireInterpreter() {
  $('invite-interpreter').addEventListener('click', openInterpreter);
  $('interpreter-form').addEventListener('submit', guarded(submitInterpreter));
  $('interpreter-modality').addEventListener('change', () => renderChoices($('interpreter-modality').value, null));
  $('interpreter-keep-waiting').addEventListener('click', keepWaiting);
  $('interpreter-retry').addEventListener('click', guarded(retry));
  $('interpreter-cancel').addEventListener('click', guarded(cancel));
  $('book-later').addEventListener('click', bookLater);
}
