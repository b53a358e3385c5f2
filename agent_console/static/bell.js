// The console's ring and the bell in the top bar that mutes it (remembered in this browser).

import { $, setIcon } from './dom.js';
import { t } from './i18n.js';
import { Ring } from './ring.js';

export const ring = new Ring();

/** Show whether the ring is muted. */
export function renderBell() {
  const muted = ring.muted;
  $('ring-mute').setAttribute('aria-pressed', String(muted));
  setIcon('ring-mute-icon', muted ? 'bell-off' : 'bell');
  $('ring-mute').title = t(muted ? 'ring.unmute' : 'ring.mute');
}

/** Mute and unmute with the bell; let the ring sound from the first click or key press. */
export function wireBell() {
  $('ring-mute').addEventListener('click', () => {
    ring.setMuted(!ring.muted);
    renderBell();
  });
  // A reloaded page may only sound after the expert's first click or key press.
  const unlock = () => ring.unlock();
  document.addEventListener('pointerdown', unlock, { once: true, capture: true });
  document.addEventListener('keydown', unlock, { once: true, capture: true });
}
