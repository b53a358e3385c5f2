// Interpreters in the booth's call (docs/protocol.md §5.3), as the citizen sees them:
// - their pictures beside the expert's: a sign-language interpreter at the same size as
//   the expert (the hands must be seen large), others smaller beside the expert;
// - the captions a speech-to-text interpreter types, live under the pictures;
// - the interpreter request while nobody has joined yet: "being called", and when nobody
//   answers in time, the citizen's two choices (keep waiting, try again); or, when nobody
//   under the agency's contracts serves the need at all, that plainly.
// Everything is put on the page as text (textContent), never as markup, and nothing of it
// is kept: clear() wipes it at the end of the call.

import { isSignInterpreter } from '/client/call.js';

// Finished caption lines kept on the screen above the one being typed.
const CAPTION_LINES_KEPT = 3;

/** How the call's pictures are laid out for these participants: 'two', 'spoken' or 'sign'. */
export function layoutFor(participants) {
  const interpreters = participants.filter((p) => p.kind === 'interpreter');
  if (interpreters.length === 0) return 'two';
  return interpreters.some(isSignInterpreter) ? 'sign' : 'spoken';
}

/** What an interpreter does, in words: "Tulkki, arabia", "Kirjoitustulkki"… */
export function interpreterRole(participant, { t, languageName }) {
  const need = participant?.interpreting;
  if (need?.modality === 'text') return t('call.text_interpreter');
  if (need?.language) return t('call.interpreter_of', { language: languageName(need.language) });
  return t('call.interpreter');
}

/** The interpreters' pictures in the call grid, and the grid's layout. */
export class InterpreterTiles {
  constructor({ grid, screen, template, before, t, languageName }) {
    Object.assign(this, { grid, screen, template, before, t, languageName });
    this._tiles = new Map(); // participant id -> {figure, video, waiting, who, role}
  }

  /** Participant ids of the interpreters shown now, in the order they joined. */
  get shown() { return [...this._tiles.keys()]; }

  /** Show a tile for every interpreter among `participants`, with its stream; return the layout. */
  render(participants, streams) {
    const interpreters = participants.filter((p) => p.kind === 'interpreter');
    const present = new Set(interpreters.map((p) => p.id));
    for (const id of [...this._tiles.keys()]) if (!present.has(id)) this._remove(id);
    for (const participant of interpreters) {
      const tile = this._tiles.get(participant.id) ?? this._create(participant.id);
      tile.figure.dataset.modality = participant.interpreting?.modality ?? 'spoken';
      const role = interpreterRole(participant, this);
      tile.who.textContent = participant.display_name ?? '';
      tile.who.hidden = !participant.display_name;
      tile.role.textContent = role;
      tile.video.setAttribute('aria-label', `${this.t('call.interpreter_video')}: ${role}`);
      const stream = streams.get(participant.id) ?? null;
      if (tile.video.srcObject !== stream) {
        tile.video.srcObject = stream;
        if (stream) tile.video.play?.().catch(() => {});
      }
    }
    const layout = layoutFor(participants);
    this.grid.dataset.layout = layout;
    this.grid.dataset.interpreters = String(interpreters.length);
    this.screen.classList.toggle('is-sign', layout === 'sign');
    return layout;
  }

  /** Remove every tile: the call is over (or back in the queue). */
  clear() {
    for (const id of [...this._tiles.keys()]) this._remove(id);
    this.grid.dataset.layout = 'two';
    this.grid.dataset.interpreters = '0';
    this.screen.classList.remove('is-sign');
  }

  _create(id) {
    const figure = this.template.content.firstElementChild.cloneNode(true);
    figure.dataset.participant = id;
    const tile = {
      figure,
      video: figure.querySelector('video'),
      waiting: figure.querySelector('.party-waiting'),
      who: figure.querySelector('.party-who'),
      role: figure.querySelector('.party-role'),
    };
    tile.waiting.textContent = this.t('call.connecting');
    // "Connecting…" until the picture moves (the same as the expert's tile).
    tile.video.addEventListener('playing', () => { tile.waiting.hidden = true; });
    tile.video.addEventListener('emptied', () => { tile.waiting.hidden = false; });
    this.grid.insertBefore(figure, this.before);
    this._tiles.set(id, tile);
    return tile;
  }

  _remove(id) {
    const tile = this._tiles.get(id);
    this._tiles.delete(id);
    tile.video.srcObject = null;
    tile.figure.remove();
  }
}

/** The captions band: finished lines above, the line being typed below, updated in place. */
export class Captions {
  constructor({ grid, band, lines, live, waiting }) {
    Object.assign(this, { grid, band, lines, live, waiting });
    this._typing = new Map(); // sender id -> the element of its unfinished line
    this._senders = new Set(); // who has sent captions in this call
    this._expected = false; // a speech-to-text interpreter is a member
  }

  /** Show a relayed `caption` message ({from, text, final}). */
  show({ from, text, final }) {
    const words = typeof text === 'string' ? text : '';
    this._senders.add(from);
    let typing = this._typing.get(from);
    if (final || !words) {
      typing?.remove();
      this._typing.delete(from);
      typing = null;
    }
    if (final && words.trim()) {
      this.lines.append(line(words));
      while (this.lines.childElementCount > CAPTION_LINES_KEPT) this.lines.firstElementChild.remove();
    } else if (!final && words) {
      if (!typing) {
        typing = line('');
        this.live.append(typing);
        this._typing.set(from, typing);
      }
      typing.textContent = words;
    }
    this._render();
  }

  /** Follow the members: captions are expected while a speech-to-text interpreter is in the
   *  call; when the last one who wrote has left, the band goes with its lines. */
  setMembers(participants) {
    const present = new Set(participants.map((p) => p.id));
    for (const from of [...this._senders]) {
      if (present.has(from)) continue;
      this._senders.delete(from);
      this._typing.get(from)?.remove();
      this._typing.delete(from);
    }
    this._expected = participants.some((p) => p.kind === 'interpreter' && p.interpreting?.modality === 'text');
    if (!this._expected && this._senders.size === 0) {
      this.lines.replaceChildren();
      this.live.replaceChildren();
    }
    this._render();
  }

  /** Forget every line (the call ended, or the privacy reset). */
  clear() {
    this.lines.replaceChildren();
    this.live.replaceChildren();
    this._typing.clear();
    this._senders.clear();
    this._expected = false;
    this._render();
  }

  _render() {
    const any = this.lines.childElementCount > 0 || this.live.childElementCount > 0;
    this.band.hidden = !(this._expected || any);
    this.waiting.hidden = any;
    this.grid.classList.toggle('with-captions', !this.band.hidden);
    if (!this.band.hidden) this._fit();
  }

  /** Let the oldest finished lines go while the band cannot show them whole (never the newest). */
  _fit() {
    const style = getComputedStyle(this.band);
    const room = this.band.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    while (this.lines.childElementCount > 1 && this.lines.offsetHeight + this.live.offsetHeight > room + 1) {
      this.lines.firstElementChild.remove();
    }
  }
}

function line(text) {
  const p = document.createElement('p');
  p.className = 'caption-line';
  p.dir = 'auto';
  p.textContent = text;
  return p;
}

/** The open interpreter request (session.interpreter_request) in the side column. */
export class InterpreterRequestStatus {
  constructor({ root, calling, callingTitle, callingNeed, unanswered, unansweredNeed, keepWaiting,
    tryAgain, error, screen, t, languageName, announce, request, afterDismiss }) {
    Object.assign(this, { root, calling, callingTitle, callingNeed, unanswered, unansweredNeed,
      keepWaiting, tryAgain, error, screen, t, languageName, announce, request, afterDismiss });
    this._info = null;
    this._dismissed = false; // "keep waiting": the choices stay away while it is unanswered
    this._told = null; // the request and state last announced
    keepWaiting.addEventListener('click', () => {
      this._dismissed = true;
      this._render();
      this.afterDismiss?.();
    });
    tryAgain.addEventListener('click', () => { this._tryAgain().catch((e) => console.error(e)); });
  }

  /** Whether the citizen is being asked what to do (nobody has answered). */
  get asking() { return Boolean(this._info?.state === 'unanswered' && !this._dismissed); }

  /** Show `info` (an InterpreterRequestInfo, or null when no request is open). */
  update(info) {
    this._info = info ?? null;
    if (!info || info.state !== 'unanswered') {
      this._dismissed = false;
      this.error.textContent = '';
    }
    const told = info ? `${info.request_id}:${info.state}` : null;
    if (told !== this._told) {
      this._told = told;
      if (info?.state === 'ringing') {
        this.announce(`${this.t('interp.calling')} ${this._need(info)}`);
      } else if (info?.state === 'unavailable') {
        this.announce(`${this.t('interp.unavailable_title')}: ${this._need(info)}. `
          + this.t('interp.unavailable_text'));
      } else if (info?.state === 'unanswered') {
        this.announce(`${this.t('interp.unanswered_title')}. ${this.t('interp.unanswered_text')} `
          + this.t('interp.booking'));
      }
    }
    this._render();
  }

  clear() {
    this._info = null;
    this._dismissed = false;
    this._told = null;
    this.error.textContent = '';
    this._render();
  }

  _need(info) {
    return info.modality === 'text'
      ? this.t('interpreter.text_name')
      : this.t('interp.language', { language: this.languageName(info.language) });
  }

  _render() {
    const info = this._info;
    this.root.hidden = !info;
    const asking = this.asking;
    this.screen.classList.toggle('is-asking', asking);
    if (!info) return;
    this.calling.hidden = asking;
    this.unanswered.hidden = !asking;
    this.root.dataset.state = info.state;
    const need = this._need(info);
    this.unansweredNeed.textContent = need;
    if (info.state === 'unavailable') {
      // Nobody can be rung for this need: say so, and that the expert will find a way.
      this.callingTitle.textContent = this.t('interp.unavailable_title');
      this.callingNeed.textContent = `${need}. ${this.t('interp.unavailable_text')}`;
      return;
    }
    this.callingTitle.textContent = this.t(info.state === 'unanswered' ? 'interp.still_calling' : 'interp.calling');
    this.callingNeed.textContent = need;
  }

  /** "Try again": the same need asked for again; the server starts the request over. */
  async _tryAgain() {
    const info = this._info;
    if (!info || this.tryAgain.disabled) return;
    this.tryAgain.disabled = true;
    this.error.textContent = '';
    try {
      await this.request({ language: info.language, modality: info.modality });
      // The server's session_update brings the new "ringing" request; until then the
      // choices go away, as they were answered.
      if (this._info?.state === 'unanswered') this._dismissed = true;
      this._render();
      if (!this.asking) this.afterDismiss?.();
    } catch (error) {
      console.warn('interpreter_request', error);
      this.error.textContent = this.t('interp.try_failed');
    } finally {
      this.tryAgain.disabled = false;
    }
  }
}
