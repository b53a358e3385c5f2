// The waiting room before every call: see yourself, watch the microphone bar move, hear a
// test sound. The stream opened here is the one the call sends.

import { LevelMeter, describeMediaError, openLocalMedia } from '/client/media.js';
import { t } from './i18n.js';

const TONE_HZ = 660;
const TONE_S = 0.9;

/** Play a short, soft two-note chime through the speaker (no audio file needed). */
export async function playTestSound() {
  const Context = globalThis.AudioContext || globalThis.webkitAudioContext;
  if (!Context) return;
  const context = new Context();
  try {
    await context.resume?.();
    const start = context.currentTime + 0.05;
    for (const [offset, frequency] of [[0, TONE_HZ], [0.45, TONE_HZ * 1.25]]) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = 'sine';
      oscillator.frequency.value = frequency;
      // Fade in and out: no click, nothing startling.
      gain.gain.setValueAtTime(0, start + offset);
      gain.gain.linearRampToValueAtTime(0.35, start + offset + 0.05);
      gain.gain.linearRampToValueAtTime(0, start + offset + TONE_S / 2);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(start + offset);
      oscillator.stop(start + offset + TONE_S / 2 + 0.05);
    }
    await new Promise((resolve) => setTimeout(resolve, (TONE_S + 0.3) * 1000));
  } finally {
    context.close().catch(() => {});
  }
}

/** A microphone alone (a computer without a camera), or null. */
async function microphoneOnly() {
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
  } catch (error) {
    console.warn('microphone', error);
    return null;
  }
}

export class DeviceCheck {
  constructor({
    video, meter, bar, problem, problemText, okButton, retryButton, soundButton, siteKind,
    problemPrefix = 'device.problem', soundOnly = false, onChange = () => {},
  }) {
    Object.assign(this, { video, meter, bar, problem, problemText, okButton, retryButton, soundButton });
    this.siteKind = siteKind;
    // At home (the guest page): the problems in words for a citizen alone at their own
    // computer, and a computer without a camera may still join with sound only.
    this.problemPrefix = problemPrefix;
    this.soundOnly = soundOnly;
    this.onChange = onChange;
    this.cameraMissing = false;
    this.stream = null;
    this._meter = null;
    this._frame = null;
    this._opening = null;
    retryButton.addEventListener('click', () => this.open());
    soundButton.addEventListener('click', async () => {
      soundButton.disabled = true;
      try { await playTestSound(); } finally { soundButton.disabled = false; }
    });
  }

  /** Open the camera and microphone (or reuse the open stream) and start the meter. */
  async open() {
    if (this._opening) return this._opening;
    this._opening = this._open().finally(() => { this._opening = null; });
    return this._opening;
  }

  async _open() {
    this.problem.hidden = true;
    this.okButton.disabled = true;
    if (!this.stream || this.stream.getTracks().some((track) => track.readyState === 'ended')) {
      this.stopTracks();
      this.cameraMissing = false;
      try {
        this.stream = await openLocalMedia({ siteKind: this.siteKind });
      } catch (error) {
        console.warn('camera or microphone', error);
        const kind = describeMediaError(error);
        this.stream = kind === 'not-found' && this.soundOnly ? await microphoneOnly() : null;
        if (!this.stream) {
          this.problemText.textContent = t(`${this.problemPrefix}.${kind}`);
          this.problem.hidden = false;
          this.onChange();
          return null;
        }
        this.cameraMissing = true;
      }
    }
    if (this.cameraMissing) {
      this.problemText.textContent = t(`${this.problemPrefix}.no-camera`);
      this.problem.hidden = false;
    }
    this.video.srcObject = this.stream;
    this.video.play?.().catch(() => {});
    this._startMeter();
    this.okButton.disabled = false;
    this.onChange();
    return this.stream;
  }

  _startMeter() {
    this._stopMeter();
    this._meter = new LevelMeter(this.stream);
    const draw = () => {
      const percent = Math.round(this._meter.level * 100);
      this.bar.style.width = `${percent}%`;
      this.meter.setAttribute('aria-valuenow', String(percent));
      this._frame = requestAnimationFrame(draw);
    };
    draw();
  }

  _stopMeter() {
    if (this._frame !== null) cancelAnimationFrame(this._frame);
    this._frame = null;
    this._meter?.close();
    this._meter = null;
    this.bar.style.width = '0%';
  }

  /** Leave the screen: the stream stays open for the call. */
  pause() {
    this._stopMeter();
    this.video.srcObject = null;
  }

  /** Stop the camera and microphone for good (privacy reset). */
  stopTracks() {
    this._stopMeter();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.video.srcObject = null;
  }
}
