// Keyboard shortcuts: Alt+letter by the key's position (event.code), so that they work on
// Finnish, Swedish and English keyboards alike; listed on the desk and in the tooltips.

import { toggleCamera, toggleMute } from './call-view.js';
import { focusChat } from './chat.js';
import { takePicture } from './doccam-panel.js';
import { $, element } from './dom.js';
import { t } from './i18n.js';
import { openInterpreter } from './interpreter.js';
import { acceptOffer, declineOffer } from './offer.js';
import { openOutcomes } from './outcome.js';
import { openTransfer } from './transfer.js';

const SHORTCUTS = [
  { code: 'KeyA', keys: 'Alt+A', label: 'shortcuts.accept', run: acceptOffer },
  { code: 'KeyD', keys: 'Alt+D', label: 'shortcuts.decline', run: declineOffer },
  { code: 'KeyM', keys: 'Alt+M', label: 'shortcuts.mute', run: toggleMute },
  { code: 'KeyV', keys: 'Alt+V', label: 'shortcuts.camera', run: toggleCamera },
  { code: 'KeyE', keys: 'Alt+E', label: 'shortcuts.end', run: openOutcomes },
  { code: 'KeyT', keys: 'Alt+T', label: 'shortcuts.transfer', run: openTransfer },
  { code: 'KeyI', keys: 'Alt+I', label: 'shortcuts.interpreter', run: openInterpreter },
  { code: 'KeyC', keys: 'Alt+C', label: 'shortcuts.chat', run: focusChat },
  { code: 'KeyP', keys: 'Alt+P', label: 'shortcuts.picture', run: takePicture },
];

/** Run the shortcut of an Alt (or Alt+Shift) key press, unless a dialog is open. */
function onKey(event) {
  if (!event.altKey || event.ctrlKey || event.metaKey) return;
  if (document.querySelector('dialog[open]')) return;
  const shortcut = SHORTCUTS.find((s) => s.code === event.code);
  if (!shortcut) return;
  event.preventDefault();
  Promise.resolve(shortcut.run()).catch((error) => console.error(error));
}

/** List the shortcuts on the desk and put each in its button's tooltip. */
export function renderShortcuts() {
  $('shortcuts-list').replaceChildren(...SHORTCUTS.map((s) => {
    const row = element('div');
    const key = element('dt');
    key.append(element('kbd', { text: s.keys }));
    row.append(key, element('dd', { text: t(s.label) }));
    return row;
  }));
  for (const el of document.querySelectorAll('[data-shortcut]')) {
    const label = el.querySelector('span[data-i18n]')?.textContent ?? '';
    el.title = t('shortcuts.title_hint', { label, keys: el.dataset.shortcut });
  }
}

/** Listen for the shortcuts. */
export function wireShortcuts() {
  document.addEventListener('keydown', onKey);
}
