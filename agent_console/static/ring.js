// The incoming-call ring: a soft two-note chime made with WebAudio (no sound files), every
// 2.5 s while an offer is shown. The mute choice is kept in localStorage.

const STORAGE_KEY = 'etapiste.console.ringMuted';
const PERIOD_MS = 2500;
// Two notes a sixth apart (E5, G5... then C6): clear but not alarming, 40 times a day.
const NOTES = [[659.25, 0], [880, 0.22]];

export class Ring {
  constructor() {
    this._context = null;
    this._timer = null;
    this._muted = false;
    this.chimes = 0; // chimes played (for tests and diagnostics)
    try { this._muted = localStorage.getItem(STORAGE_KEY) === 'true'; } catch { /* disabled */ }
  }

  get muted() { return this._muted; }
  get ringing() { return this._timer !== null; }

  /** Remember whether the ring is muted (the offer still shows). */
  setMuted(muted) {
    this._muted = Boolean(muted);
    try { localStorage.setItem(STORAGE_KEY, String(this._muted)); } catch { /* disabled */ }
  }

  /** Make the audio context within a user gesture, so that a later ring may sound. */
  unlock() {
    try {
      this._context ??= new AudioContext();
      if (this._context.state === 'suspended') this._context.resume().catch(() => {});
    } catch (error) {
      console.warn('no WebAudio', error);
    }
  }

  /** Start ringing (idempotent). */
  start() {
    if (this._timer !== null) return;
    this._chime();
    this._timer = setInterval(() => this._chime(), PERIOD_MS);
  }

  /** Stop ringing (idempotent). */
  stop() {
    clearInterval(this._timer);
    this._timer = null;
  }

  _chime() {
    if (this._muted) return;
    this.unlock();
    const ctx = this._context;
    if (!ctx) return;
    const start = ctx.currentTime + 0.02;
    for (const [frequency, offset] of NOTES) {
      const oscillator = ctx.createOscillator();
      const gain = ctx.createGain();
      oscillator.type = 'sine';
      oscillator.frequency.value = frequency;
      const at = start + offset;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.6);
      oscillator.connect(gain).connect(ctx.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.65);
    }
    this.chimes += 1;
  }
}
