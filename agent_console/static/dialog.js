// Modal dialogs: the focus goes in, Escape and [data-close] close them, and the focus
// comes back where it was. Also the message dialog, which tells of failures.

import { $ } from './dom.js';
import { t } from './i18n.js';
import { focusHeading } from './screens.js';

const returnFocus = new WeakMap();

/** Open `dialog` as a modal and focus its first control. */
export function openDialog(dialog) {
  if (dialog.open) return;
  returnFocus.set(dialog, document.activeElement);
  dialog.showModal();
  const first = dialog.querySelector('[autofocus], input:not([readonly]):not([type=hidden]), select, textarea, button');
  first?.focus();
}

/** Close `dialog` if it is open. */
export function closeDialog(dialog) {
  if (dialog.open) dialog.close();
}

/** Give the focus back to where it was before `dialog` opened (else the screen's heading). */
function onDialogClosed(dialog) {
  const back = returnFocus.get(dialog);
  returnFocus.delete(dialog);
  if (back && document.contains(back) && back.offsetParent !== null) back.focus();
  else focusHeading();
}

/** Return the focus when a dialog closes; close a dialog with its [data-close] buttons. */
export function wireDialogs() {
  for (const dialog of document.querySelectorAll('dialog')) {
    dialog.addEventListener('close', () => onDialogClosed(dialog));
    for (const button of dialog.querySelectorAll('[data-close]')) {
      button.addEventListener('click', () => closeDialog(dialog));
    }
  }
}

/** Show a message with a title and a text in the message dialog. */
export function showMessage(title, text) {
  $('message-title').textContent = title;
  $('message-text').textContent = text;
  openDialog($('message-dialog'));
}

/** Log an unexpected failure and tell the expert that something went wrong. */
export function reportFailure(error) {
  console.error(error);
  showMessage(t('error.title'), t('error.text'));
}

/** Run an event handler; an unexpected failure is logged and shown, never swallowed. */
export function guarded(handler) {
  return async (event) => {
    try {
      await handler(event);
    } catch (error) {
      reportFailure(error);
    }
  };
}
