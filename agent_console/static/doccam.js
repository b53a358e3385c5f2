// The document camera's data channel, the console's side (docs/protocol.md §4.5): the
// text messages both ways, and a still's parts assembled from binary chunks, each part
// checked against its SHA-256 before the still is handed on. No DOM here.
//
// Events (CustomEvent detail):
//   open, close                        the channel opened or closed
//   hello   {hello}                    the camera's resolution and its auto-capture settings
//   status  {status}                   feedback, steady, corners (0–1 of the frame)
//   progress {stillId, received, total}
//   page    {still}                    the page of a still, verified, before the whole frame
//   still   {still}                    a verified still: its facts and its parts' bytes
//   dropped {stillId, reason}          reason: checksum | interrupted | malformed
//   failed  {requestId, code, message} the camera could not take a requested still

const PART_NAMES = new Set(['page', 'original']);
const MIMES = new Set(['image/jpeg', 'image/png']);
const SHA256_HEX = /^[0-9a-f]{64}$/;
// A still larger than this is refused before anything is buffered (a 12 MP PNG page and
// original stay far below it).
const STILL_MAX_BYTES = 256 * 1024 * 1024;

/** Return the SHA-256 of `bytes` as lowercase hex. */
export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Return a fresh capture request id (1–64 characters). */
export function newRequestId() {
  return `r-${crypto.randomUUID()}`;
}

function dispatch(target, type, detail = {}) {
  target.dispatchEvent(new CustomEvent(type, { detail }));
}

/** Return the still's parts if `message` is a well-formed `still`, else null. */
function validParts(message) {
  if (typeof message.still_id !== 'string' || !message.still_id) return null;
  if (!Array.isArray(message.parts) || !message.parts.length || message.parts.length > 4) return null;
  const names = new Set();
  for (const part of message.parts) {
    if (!part || !PART_NAMES.has(part.name) || names.has(part.name)) return null;
    if (!MIMES.has(part.mime)) return null;
    if (!Number.isSafeInteger(part.bytes) || part.bytes <= 0) return null;
    if (typeof part.sha256 !== 'string' || !SHA256_HEX.test(part.sha256.toLowerCase())) return null;
    names.add(part.name);
  }
  if (!names.has('original')) return null;
  return message.parts;
}

/** The console's end of one `doccam` data channel. */
export class DoccamReceiver extends EventTarget {
  constructor(channel) {
    super();
    this.channel = channel;
    // Stills arrive as ArrayBuffers: they are hashed and sliced, never streamed.
    channel.binaryType = 'arraybuffer';
    this.hello = null;
    this._pending = null; // the still whose bytes are arriving
    this._closed = false;
    this._listeners = {
      open: () => dispatch(this, 'open'),
      close: () => this._onClose(),
      message: ({ data }) => this._receive(data),
    };
    for (const [type, listener] of Object.entries(this._listeners)) channel.addEventListener(type, listener);
  }

  /** Tell whether messages can be sent now. */
  get open() {
    return !this._closed && this.channel.readyState === 'open';
  }

  /** The still being received: {stillId, received, total}, or null. */
  get receiving() {
    const p = this._pending;
    return p ? { stillId: p.message.still_id, received: p.received, total: p.total } : null;
  }

  /** Send a JSON message; return whether it went. */
  send(message) {
    if (!this.open) return false;
    this.channel.send(JSON.stringify(message));
    return true;
  }

  /** Ask for a still now; return its request id (null: the channel is not open). */
  capture({ bw = false } = {}) {
    const requestId = newRequestId();
    return this.send({ type: 'capture', request_id: requestId, bw: Boolean(bw) }) ? requestId : null;
  }

  /** Turn auto-capture on or off and choose black and white for auto-captured stills. */
  setOptions({ autoCapture, bw }) {
    return this.send({ type: 'options', auto_capture: Boolean(autoCapture), bw: Boolean(bw) });
  }

  /** Stop listening to the channel (it stays open for its owner, the peer connection). */
  close() {
    if (this._closed) return;
    this._closed = true;
    for (const [type, listener] of Object.entries(this._listeners)) {
      this.channel.removeEventListener(type, listener);
    }
    this._pending = null;
  }

  _onClose() {
    this._dropPending('interrupted');
    dispatch(this, 'close');
  }

  _dropPending(reason) {
    const pending = this._pending;
    if (!pending) return;
    this._pending = null;
    dispatch(this, 'dropped', { stillId: pending.message.still_id, reason });
  }

  _receive(data) {
    if (this._closed) return;
    if (typeof data === 'string') this._text(data);
    else if (data instanceof ArrayBuffer) this._bytes(new Uint8Array(data));
    else console.warn('doccam: a message of an unexpected kind', data);
  }

  _text(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      console.warn('doccam: a text message that is not JSON');
      return;
    }
    if (!message || typeof message !== 'object') return;
    switch (message.type) {
      case 'hello':
        this.hello = message;
        dispatch(this, 'hello', { hello: message });
        break;
      case 'status':
        dispatch(this, 'status', { status: message });
        break;
      case 'still':
        this._startStill(message);
        break;
      case 'still_failed':
        dispatch(this, 'failed', {
          requestId: message.request_id ?? null, code: String(message.code ?? ''), message: message.message ?? '',
        });
        break;
      default:
        // Newer cameras may say more; what we do not know we leave alone.
        break;
    }
  }

  _startStill(message) {
    // A new still while one is arriving: the earlier one can no longer be completed.
    this._dropPending('interrupted');
    const parts = validParts(message);
    const total = parts ? parts.reduce((sum, p) => sum + p.bytes, 0) : 0;
    if (!parts || total > STILL_MAX_BYTES) {
      dispatch(this, 'dropped', { stillId: String(message.still_id ?? ''), reason: 'malformed' });
      return;
    }
    this._pending = {
      message,
      parts: parts.map((p) => ({ ...p, sha256: p.sha256.toLowerCase(), data: new Uint8Array(p.bytes), filled: 0 })),
      index: 0,
      received: 0,
      total,
    };
    dispatch(this, 'progress', { stillId: message.still_id, received: 0, total });
  }

  _bytes(chunk) {
    const pending = this._pending;
    if (!pending) {
      // Bytes of a still we already dropped (a malformed header): nothing to fill.
      return;
    }
    let at = 0;
    while (at < chunk.length) {
      const part = pending.parts[pending.index];
      if (!part) {
        this._dropPending('malformed'); // more bytes than the parts announced
        return;
      }
      const take = Math.min(part.bytes - part.filled, chunk.length - at);
      part.data.set(chunk.subarray(at, at + take), part.filled);
      part.filled += take;
      at += take;
      if (part.filled === part.bytes) {
        pending.index += 1;
        if (part.name === 'page' && pending.index < pending.parts.length) this._earlyPage(pending, part);
      }
    }
    pending.received += chunk.length;
    dispatch(this, 'progress', { stillId: pending.message.still_id, received: pending.received, total: pending.total });
    if (pending.received === pending.total) {
      this._pending = null;
      this._verify(pending).catch((error) => console.error('doccam: checking a still', error));
    }
  }

  /** Hand on the page as soon as it is in and checked: the expert reads it meanwhile. */
  _earlyPage(pending, part) {
    sha256Hex(part.data).then((sum) => {
      if (this._closed || sum !== part.sha256) return; // the whole still's check says so
      dispatch(this, 'page', { still: stillOf(pending.message, [part]) });
    }).catch((error) => console.error('doccam: checking a page', error));
  }

  async _verify({ message, parts }) {
    const sums = await Promise.all(parts.map((part) => sha256Hex(part.data)));
    if (this._closed) return;
    if (sums.some((sum, i) => sum !== parts[i].sha256)) {
      dispatch(this, 'dropped', { stillId: message.still_id, reason: 'checksum' });
      return;
    }
    dispatch(this, 'still', { still: stillOf(message, parts) });
  }
}

/** The still as the console keeps it: its facts and the parts received so far. */
function stillOf(message, parts) {
  return {
    id: message.still_id,
    trigger: message.trigger === 'auto' ? 'auto' : 'expert',
    requestId: message.request_id ?? null,
    capturedAt: Number(message.captured_at) || Date.now() / 1000,
    width: message.width,
    height: message.height,
    corners: message.corners ?? null,
    quality: message.quality ?? null,
    parts: Object.fromEntries(parts.map((p) => [p.name, {
      name: p.name, mime: p.mime, width: p.width, height: p.height, sha256: p.sha256, data: p.data,
    }])),
  };
}
