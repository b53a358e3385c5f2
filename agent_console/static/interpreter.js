// Inviting an interpreter: the language, the kind (spoken, sign, text) and when. Not
// connected to Etäpiste yet, and the dialog says so plainly.

import { callShown, currentSession } from './call-view.js';
import { openDialog } from './dialog.js';
import { $, announce, fillSelect } from './dom.js';
import { languageName, t } from './i18n.js';

// Interpreting languages the dialog offers (the kiosk's list); names come from the catalogue.
const INTERPRETING_LANGUAGES = ['ar', 'so', 'ru', 'uk', 'fa', 'ckb', 'et', 'zh', 'vi', 'th', 'fse', 'fss',
  'fi', 'sv', 'en'];

/** Fill the interpreting languages in the chosen language, keeping the one chosen. */
function renderLanguages() {
  const current = $('interpreter-language').value || currentSession()?.interpreter?.language || 'ar';
  fillSelect($('interpreter-language'),
    INTERPRETING_LANGUAGES.map((code) => ({ value: code, text: languageName(code) })), current);
}

/** Show the open interpreter dialog in the chosen language. */
export function renderInterpreter() {
  if ($('interpreter-dialog').open) renderLanguages();
}

/** Open the interpreter dialog (in a call), with the call's interpreter need chosen. */
export function openInterpreter() {
  if (!callShown()) return;
  renderLanguages();
  const need = currentSession()?.interpreter;
  if (need) {
    $('interpreter-language').value = need.language;
    const modality = document.querySelector(`#interpreter-form input[name=modality][value="${need.modality}"]`);
    if (modality) modality.checked = true;
  }
  $('interpreter-result').hidden = true;
  openDialog($('interpreter-dialog'));
}

/** Say that interpreting is not connected yet. */
function submitInterpreter(event) {
  event.preventDefault();
  // Interpreting is not connected yet (it comes with the interpreting service): say so
  // plainly instead of pretending that someone was asked.
  $('interpreter-result').hidden = false;
  announce(t('interpreter.not_connected'));
}

/** Wire Invite interpreter and its form. */
export function wireInterpreter() {
  $('invite-interpreter').addEventListener('click', openInterpreter);
  $('interpreter-form').addEventListener('submit', submitInterpreter);
}
