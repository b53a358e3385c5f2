// Transferring the call: the agency, one of its services, one of that service's languages
// and an optional note for the next expert. The citizen goes first in the new queue.

import { callShown, currentCall, currentSession, leaveCall } from './call-view.js';
import { request } from './connection.js';
import { guarded, openDialog } from './dialog.js';
import { $, fillSelect } from './dom.js';
import { agencies, agencyName } from './directory.js';
import { languageName, localized, t } from './i18n.js';

const NOTE_MAX = 500;

/** Return the languages a service (else its agency) is served in. */
function languagesOf(agency, service) {
  return service?.languages ?? agency?.languages ?? ['fi', 'sv', 'en'];
}

/** Fill the agency, service and language choices, keeping what `keep` names. */
function renderChoices(keep = {}) {
  const all = agencies();
  const session = currentSession();
  const agencyId = keep.agency ?? $('transfer-agency').value ?? session?.agency;
  fillSelect($('transfer-agency'), all.map((a) => ({ value: a.id, text: localized(a.name) })), agencyId);
  const agency = all.find((a) => a.id === $('transfer-agency').value);
  const services = agency?.services ?? [];
  fillSelect($('transfer-service'), services.map((s) => ({ value: s.id, text: localized(s.name) })),
    keep.service ?? $('transfer-service').value);
  const service = services.find((s) => s.id === $('transfer-service').value);
  fillSelect($('transfer-language'), languagesOf(agency, service).map((code) => ({ value: code, text: languageName(code) })),
    keep.language ?? session?.language);
}

/** Show how many characters the note has of its maximum. */
function renderNoteCount() {
  $('transfer-count').textContent = t('transfer.count', { n: $('transfer-note').value.length, max: NOTE_MAX });
}

/** Show the open transfer dialog in the chosen language. */
export function renderTransfer() {
  if (!$('transfer-dialog').open) return;
  renderChoices();
  renderNoteCount();
}

/** Open the transfer dialog (in a call), another agency chosen first. */
export function openTransfer() {
  if (!callShown()) return;
  const session = currentSession();
  const other = agencies().find((a) => a.id !== session?.agency);
  renderChoices({ agency: other?.id, language: session?.language });
  $('transfer-error').textContent = '';
  $('transfer-submit').disabled = false;
  renderNoteCount();
  openDialog($('transfer-dialog'));
}

/** Return the words for a refused transfer to `agency`. */
function refusalText(failure, agency) {
  if (failure.code === 'closed') return t('transfer.closed', { agency: agencyName(agency) });
  if (failure.code === 'not_found') return t('transfer.not_found');
  if (failure.code === 'conflict') return t('transfer.conflict');
  return t('transfer.failed');
}

/** Transfer the call to the chosen queue, with the note. */
async function submitTransfer(event) {
  event.preventDefault();
  const call = currentCall();
  if (!call) return;
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
  const message = { type: 'transfer', session_id: call.sessionId, ...target };
  if (note) message.note = note;
  $('transfer-submit').disabled = true;
  try {
    await request(message);
  } catch (failure) {
    console.warn('transfer', failure);
    $('transfer-submit').disabled = false;
    error.textContent = refusalText(failure, target.agency);
    return;
  }
  // The call is no longer ours: the citizen waits first in the new queue.
  leaveCall('ended.transferred', target);
}

/** Wire Transfer and its form: choices that follow each other, the note's count, the submit. */
export function wireTransfer() {
  $('transfer').addEventListener('click', openTransfer);
  $('transfer-form').addEventListener('submit', guarded(submitTransfer));
  $('transfer-agency').addEventListener('change', () => renderChoices({ service: null, language: currentSession()?.language }));
  $('transfer-service').addEventListener('change', () => renderChoices({ language: $('transfer-language').value }));
  $('transfer-note').addEventListener('input', renderNoteCount);
}
