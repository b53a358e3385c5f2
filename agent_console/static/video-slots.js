// The call's video slots: the citizen (large), the interpreter's tile and the document
// camera panel. Each remembers whom it shows and empties only when they leave.

import { $ } from './dom.js';
import { t } from './i18n.js';

// Which participant kind each slot shows; anyone else goes in the citizen's slot.
const SLOTS = {
  booth: { video: 'remote-video' },
  interpreter: { video: 'interpreter-video', box: 'interpreter-tile' },
  doccam: { video: 'doccam-video', box: 'doccam-live', empty: 'doccam-empty' },
};
const owners = new Map(); // slot name -> participant id
let waitingKey = null; // the message over the citizen's video

/** Show `stream` in `slot` (null: empty it). */
function fill(slot, stream) {
  const { video, box, empty } = SLOTS[slot];
  $(video).srcObject = stream;
  if (box) $(box).hidden = !stream;
  if (empty) $(empty).hidden = Boolean(stream);
}

/** Show a participant's stream in the slot of their kind. */
export function attachRemote(participant, stream) {
  const slot = SLOTS[participant.kind] ? participant.kind : 'booth';
  owners.set(slot, participant.id);
  fill(slot, stream);
  if (slot === 'booth') showRemoteWaiting(null);
}

/** Empty the slots that show the participant who left. */
export function detachRemote(participantId) {
  for (const [slot, owner] of owners) {
    if (owner !== participantId) continue;
    owners.delete(slot);
    fill(slot, null);
  }
}

/** Empty every slot. */
export function emptySlots() {
  owners.clear();
  for (const slot of Object.keys(SLOTS)) fill(slot, null);
}

/** Say the message `key` over the citizen's video (null: nothing). */
export function showRemoteWaiting(key) {
  waitingKey = key;
  renderRemoteWaiting();
}

/** Show the message over the citizen's video in the chosen language. */
export function renderRemoteWaiting() {
  const waiting = $('remote-waiting');
  waiting.hidden = !waitingKey;
  waiting.textContent = waitingKey ? t(waitingKey) : '';
}
