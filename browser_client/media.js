// The local camera and microphone, set up for conversation and sign language.
// Plain ES module, no dependencies.

const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

// Sign language needs motion more than detail: ask for HD, accept VGA, and insist on a
// frame rate that keeps hands readable. Each step is tried when the camera refuses the
// one before it (OverconstrainedError).
function videoSteps(siteKind) {
  const ideal = siteKind === 'XS' ? { width: 960, height: 540 } : { width: 1280, height: 720 };
  return [
    {
      width: { ideal: ideal.width, min: 640 },
      height: { ideal: ideal.height, min: 480 },
      frameRate: { ideal: 30, min: 25 },
    },
    {
      width: { ideal: ideal.width, min: 640 },
      height: { ideal: ideal.height, min: 480 },
      frameRate: { ideal: 30 },
    },
    { width: { ideal: ideal.width }, height: { ideal: ideal.height }, frameRate: { ideal: 30 } },
    true,
  ];
}

/** Open the camera and microphone; return the MediaStream. */
export async function openLocalMedia({ siteKind = 'S' } = {}) {
  if (!navigator.mediaDevices?.getUserMedia) {
    const error = new Error('getUserMedia is not available (not a secure context?)');
    error.name = 'NotSupportedError';
    throw error;
  }
  let lastError = null;
  for (const video of videoSteps(siteKind)) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: AUDIO, video });
      for (const track of stream.getVideoTracks()) {
        // Tell the encoder to keep the frame rate and give up resolution first.
        if ('contentHint' in track) track.contentHint = 'motion';
      }
      for (const track of stream.getAudioTracks()) {
        if ('contentHint' in track) track.contentHint = 'speech';
      }
      return stream;
    } catch (error) {
      lastError = error;
      if (error?.name !== 'OverconstrainedError' && error?.name !== 'ConstraintNotSatisfiedError') {
        throw error;
      }
    }
  }
  throw lastError;
}

/** Sort a getUserMedia failure into what the person in front of the screen can fix. */
export function describeMediaError(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return 'denied';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
    case 'ConstraintNotSatisfiedError':
      return 'not-found';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'in-use';
    default:
      return 'other';
  }
}

/** How loud the microphone is, for a "we can hear you" bar. */
export class LevelMeter {
  constructor(stream) {
    this._level = 0;
    this._closed = false;
    const Context = globalThis.AudioContext || globalThis.webkitAudioContext;
    const track = stream.getAudioTracks()[0];
    if (!Context || !track) {
      this._context = null;
      return;
    }
    this._context = new Context();
    // A kiosk page may start without a user gesture; the meter must still run.
    this._context.resume?.().catch(() => {});
    this._source = this._context.createMediaStreamSource(new MediaStream([track]));
    this._analyser = this._context.createAnalyser();
    this._analyser.fftSize = 1024;
    this._source.connect(this._analyser);
    this._samples = new Float32Array(this._analyser.fftSize);
    this._at = performance.now();
  }

  /** The level from 0 (silence) to 1 (loud), rising fast and falling slowly. */
  get level() {
    if (!this._context || this._closed) return 0;
    this._analyser.getFloatTimeDomainData(this._samples);
    let sum = 0;
    for (const sample of this._samples) sum += sample * sample;
    const rms = Math.sqrt(sum / this._samples.length);
    // -60 dBFS and below shows as silence, 0 dBFS as full.
    const instant = rms > 0 ? Math.min(1, Math.max(0, (20 * Math.log10(rms) + 60) / 60)) : 0;
    const now = performance.now();
    const decay = Math.exp(-(now - this._at) / 300); // falls with a 300 ms time constant
    this._at = now;
    this._level = Math.max(instant, this._level * decay);
    return this._level;
  }

  /** Stop measuring; idempotent. The stream's tracks are left alone. */
  close() {
    if (this._closed) return;
    this._closed = true;
    if (this._context) {
      this._source.disconnect();
      this._context.close().catch(() => {});
    }
  }
}
