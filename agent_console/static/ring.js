// The incoming-call ring: a soft two-note chime made with WebAudio (no sound files), every
// 2.5 s while an offer is shown. The mute choice is kept in localStorage.
//
// The chimes of a whole ring are scheduled on the audio clock when it starts: timers of a
// tab in the background are throttled (to once a minute after a while), the audio clock
// is not, and an expert's console is often behind other windows.

const STORAGE_KEY = 'etapiste.console.ringMuted';
const PERIOD_S = 2.5;
const DEFAULT_RING_S = 20;
// Two notes a fourth apart (E5, A5): clear but not alarming, 40 times a day.
const NOTES = [[659.25, 0], [880, 0.22]];

export class Ring {
  constructor() {
    this._context = null;
    this._output = null; // the gain node of the current ring; disconnected to stop it
    this._ringing = false;
    this._startedAt = 0; // performance.now() of start
    this._ringS = DEFAULT_RING_S;
    this._muted = false;
    this.chimes = 0; // chimes scheduled to sound (for tests and diagnostics)
    try { this._muted = localStorage.getItem(STORAGE_KEY) === 'true'; } catch { /* disabled */ }
  }

  get muted() { return this._muted; }
  get ringing() { return this._ringing; }

  /** Remember whether the ring is muted; a ring under way goes quiet or sounds at once. */
  setMuted(muted) {
    this._muted = Boolean(muted);
    try { localStorage.setItem(STORAGE_KEY, String(this._muted)); } catch { /* disabled */ }
    if (!this._ringing) return;
    this._silence();
    if (!this._muted) {
      const leftS = this._ringS - (performance.now() - this._startedAt) / 1000;
      this._schedule(leftS);
    }
  }

  /** Make (or resume) the audio context within a user gesture, so that a ring may sound. */
  unlock() {
    try {
      this._context ??= new AudioContext();
      if (this._context.state === 'suspended') this._context.resume().catch(() => {});
    } catch (error) {
      console.warn('no WebAudio', error);
    }
  }

  /** Start ringing for `durationS` seconds at most (idempotent while ringing). */
  start(durationS = DEFAULT_RING_S) {
    if (this._ringing) return;
    this._ringing = true;
    this._startedAt = performance.now();
    this._ringS = Math.max(0, durationS);
    if (!this._muted) this._schedule(this._ringS);
  }

  /** Stop ringing (idempotent). */
  stop() {
    this._ringing = false;
    this._silence();
  }

  _silence() {
    try { this._output?.disconnect(); } catch { /* already */ }
    this._output = null;
  }

  _schedule(durationS) {
    if (durationS <= 0) return;
    this.unlock();
    const ctx = this._context;
    if (!ctx) return;
    const output = ctx.createGain();
    output.connect(ctx.destination);
    this._output = output;
    const first = ctx.currentTime + 0.02;
    for (let offset = 0; offset < durationS; offset += PERIOD_S) {
      for (const [frequency, delay] of NOTES) {
        const oscillator = ctx.createOscillator();
        const gain = ctx.createGain();
        oscillator.type = 'sine';
        oscillator.frequency.value = frequency;
        const at = first + offset + delay;
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.6);
        oscillator.connect(gain).connect(output);
        oscillator.start(at);
        oscillator.stop(at + 0.65);
      }
      this.chimes += 1;
    }
  }
}
