// The only time pressure on the kiosk: after `timeoutS` without a touch or a key, ask
// "Are you still there?" with a visible countdown, then wipe the visit.

const TICK_MS = 1000;

export class Inactivity {
  constructor({ timeoutS, graceS = 20, dialog, countdown, text, continueButton, isWatched, onShow, onExpire }) {
    this.timeoutS = timeoutS;
    this.graceS = graceS;
    this.dialog = dialog;
    this.countdown = countdown;
    this.text = text; // (secondsLeft) => string for the dialog's sentence
    this.continueButton = continueButton;
    this.isWatched = isWatched; // () => whether the current screen may time out
    this.onShow = onShow ?? (() => {});
    this.onExpire = onExpire;
    this._last = Date.now();
    this._shownAt = null;
    this._timer = null;
    this._expired = false;
    this._poke = () => {
      if (this._shownAt === null) this._last = Date.now();
    };
  }

  start() {
    for (const type of ['pointerdown', 'keydown', 'touchstart', 'wheel']) {
      document.addEventListener(type, this._poke, { capture: true, passive: true });
    }
    this.continueButton.addEventListener('click', () => this.stillHere());
    // Escape on the modal dialog also means "I am here".
    this.dialog.addEventListener('cancel', (event) => { event.preventDefault(); this.stillHere(); });
    this._timer = setInterval(() => this._tick(), TICK_MS);
  }

  /** The citizen answered: close the question and start counting again. */
  stillHere() {
    this._shownAt = null;
    this._last = Date.now();
    if (this.dialog.open) this.dialog.close();
  }

  /** Start counting from now (a new screen, a server push the citizen waits for). */
  touch() {
    if (this._shownAt === null) this._last = Date.now();
  }

  stop() {
    clearInterval(this._timer);
    if (this.dialog.open) this.dialog.close();
  }

  _tick() {
    if (this._expired) return;
    const now = Date.now();
    if (!this.isWatched()) {
      this._last = now;
      if (this._shownAt !== null) this.stillHere();
      return;
    }
    if (this._shownAt === null) {
      if (now - this._last < this.timeoutS * 1000) return;
      this._shownAt = now;
      this._render(this.graceS);
      this.onShow();
      if (!this.dialog.open) this.dialog.showModal();
      this.continueButton.focus();
      return;
    }
    const left = Math.max(0, Math.ceil(this.graceS - (now - this._shownAt) / 1000));
    this._render(left);
    if (left <= 0) {
      this._expired = true;
      clearInterval(this._timer);
      this.onExpire();
    }
  }

  _render(secondsLeft) {
    this.countdown.textContent = String(secondsLeft);
    this.text.element.textContent = this.text.sentence(secondsLeft);
  }
}
