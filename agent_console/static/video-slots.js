// Video slots: which <video> shows which participant. Each participant kind has its slots
// (an interpreter two: team interpreting); a slot remembers whom it shows and empties only
// when they leave. The expert's call view and the interpreter's have a set each.

import { interpreterText } from './directory.js';
import { $ } from './dom.js';
import { t } from './i18n.js';

export class VideoSlots {
  /**
   * `slots`: name -> {video, box?, empty?, label?} element ids; `kinds`: participant kind
   * -> slot names in order of use; `fallback`: the kind whose slots take anyone else.
   */
  constructor(slots, kinds, { fallback = null, onChange = () => {} } = {}) {
    this._slots = slots;
    this._kinds = kinds;
    this._fallback = fallback;
    this._onChange = onChange;
    this._owners = new Map(); // slot name -> participant
  }

  /** Return the participant a slot shows (null: empty). */
  owner(slot) {
    return this._owners.get(slot) ?? null;
  }

  /** Show a participant's stream in their slot, or in the first free slot of their kind. */
  attach(participant, stream) {
    const names = this._kinds[participant.kind] ?? (this._fallback ? this._kinds[this._fallback] : null);
    if (!names) return null;
    let slot = names.find((name) => this._owners.get(name)?.id === participant.id);
    slot ??= names.find((name) => !this._owners.has(name));
    if (!slot) return null; // more participants of a kind than slots: not shown
    this._owners.set(slot, participant);
    this._fill(slot, stream);
    this._onChange(slot, participant);
    return slot;
  }

  /** Empty the slots that show the participant who left. */
  detach(participantId) {
    for (const [slot, owner] of [...this._owners]) {
      if (owner.id !== participantId) continue;
      this._owners.delete(slot);
      this._fill(slot, null);
      this._onChange(slot, null);
    }
  }

  /** Empty every slot. */
  clear() {
    this._owners.clear();
    for (const slot of Object.keys(this._slots)) {
      this._fill(slot, null);
      this._onChange(slot, null);
    }
  }

  _fill(slot, stream) {
    const { video, box, empty } = this._slots[slot];
    $(video).srcObject = stream;
    if (box) $(box).hidden = !stream;
    if (empty) $(empty).hidden = Boolean(stream);
  }
}

// --- the expert's call view ---------------------------------------------------------------

const expertSlots = new VideoSlots({
  booth: { video: 'remote-video' },
  interpreter: { video: 'interpreter-video', box: 'interpreter-tile' },
  interpreter2: { video: 'interpreter-video-2', box: 'interpreter-tile-2' },
  doccam: { video: 'doccam-video', box: 'doccam-live', empty: 'doccam-empty' },
}, {
  booth: ['booth'],
  interpreter: ['interpreter', 'interpreter2'],
  doccam: ['doccam'],
}, { fallback: 'booth', onChange: () => renderTileLabels() });
let waitingKey = null; // the message over the citizen's video

/** Show a participant's stream in the slot of their kind. */
export function attachRemote(participant, stream) {
  if (expertSlots.attach(participant, stream) === 'booth') showRemoteWaiting(null);
}

/** Empty the slots that show the participant who left. */
export function detachRemote(participantId) {
  expertSlots.detach(participantId);
}

/** Empty every slot. */
export function emptySlots() {
  expertSlots.clear();
}

/** Name each interpreter tile by its language and kind of interpreting. */
export function renderTileLabels() {
  for (const [slot, label] of [['interpreter', 'interpreter-label'], ['interpreter2', 'interpreter-label-2']]) {
    const need = expertSlots.owner(slot)?.interpreting;
    $(label).textContent = need ? t('call.interpreter_tile', { need: interpreterText(need) }) : t('chat.from_interpreter');
  }
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
