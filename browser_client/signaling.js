// The signaling connection of a browser participant (docs/protocol.md).
//
// One WebSocket to a node. Requests get a unique id and resolve with their reply;
// everything else the server pushes is dispatched as a 'message' event. Once connected,
// the connection is kept up: after a drop, a `going_away` or a silent network, it says
// hello again with a fresh access token and the latest resume token, with back-off.
// Plain ES module, no dependencies.

export const PROTOCOL_VERSION = 1;

const BACKOFF_FIRST_S = 0.5;
const BACKOFF_MAX_S = 5;
const REQUEST_TIMEOUT_S = 15;
// How long opening a socket may take before a fresh attempt.
const OPEN_TIMEOUT_S = 4;
// Without a known heartbeat (before the first welcome) check liveness this often.
const DEFAULT_HEARTBEAT_S = 10;
// A token whose lifetime we can't tell is refreshed after this long.
const DEFAULT_REFRESH_S = 300;
// Close codes after which reconnecting would be wrong (docs/protocol.md §2.3).
const CLOSE_REPLACED = 4000;
const CLOSE_POLICY = 1008;
// Session messages that may arrive before the Call that handles them exists.
const BACKLOG_TYPES = new Set(['session_update', 'participant', 'signal', 'session_ended']);
// A backlog is a short bridge (a reloaded page opening its camera), not a store.
const BACKLOG_MAX_MESSAGES = 500;
const BACKLOG_MAX_AGE_MS = 60000;

/** The server refused a request, or the connection dropped before its reply. */
export class SignalingError extends Error {
  constructor({ code, message = '', field = null, retry_after_s = null, next_opening = null } = {}) {
    super(field ? `${code}: ${message} (${field})` : `${code}: ${message}`);
    this.name = 'SignalingError';
    this.code = code;
    this.field = field ?? null;
    this.retryAfterS = retry_after_s ?? null;
    this.nextOpening = next_opening ?? null;
  }
}

function localError(code, message) {
  return new SignalingError({ code, message });
}

/** Return the session id a pushed message is about, or null. */
export function messageSessionId(message) {
  // session_update carries its session id inside the snapshot.
  if (message?.type === 'session_update') return message.session?.session_id ?? null;
  return message?.session_id ?? null;
}

/** Return seconds to wait before reconnect attempt `attempt` (0-based), with jitter. */
export function backoffDelayS(attempt) {
  const ceiling = Math.min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** attempt);
  // "Equal jitter": at least half the ceiling, so a crowd of booths spreads out but
  // none hammers the server.
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Return the `exp` claim of a JWT-looking token in Unix seconds, or null. */
function tokenExpiry(token) {
  try {
    const part = token.split('.')[1];
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = JSON.parse(json).exp;
    return typeof exp === 'number' ? exp : null;
  } catch {
    return null;
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

export class Signaling extends EventTarget {
  constructor({ url, getToken, resumeToken = null, onResumeToken = () => {} }) {
    super();
    if (!url || typeof getToken !== 'function') {
      throw new TypeError('Signaling needs a url and a getToken function');
    }
    this.url = url;
    this._getToken = getToken;
    this._resumeToken = resumeToken;
    this._onResumeToken = onResumeToken;
    this._state = 'closed';
    this._welcome = null;
    this._ws = null;
    this._pending = new Map();
    this._nextId = 1;
    this._idPrefix = `b${Math.random().toString(36).slice(2, 8)}-`;
    this._closed = false;
    this._running = null; // the supervising loop's promise
    this._wake = null; // AbortController that cuts a back-off wait short
    this._lastReceived = 0;
    this._liveness = null;
    this._refreshTimer = null;
    this._token = null; // the latest access token (from getToken or token_refresh)
    this._tokenExpiresAt = null;
    this._cookieAuth = false; // getToken returned null: no token in hello, no token_refresh
    this._reconnectNow = false;
    this._onOnline = () => this._nudge();
    // Session id -> {since, messages}: pushes for sessions listed in the latest welcome
    // that no Call has claimed yet (see claimSession).
    this._backlogs = new Map();
    this._claimed = new Set();
    this._lastAlive = null; // performance.now() of the last frame on a socket that dropped
  }

  get state() { return this._state; }
  get welcome() { return this._welcome; }
  /** The latest access token: from getToken, or a refreshed one. */
  get token() { return this._token; }
  get resumeToken() { return this._resumeToken; }

  /** Connect and say hello; resolve with the first welcome, then keep the connection up. */
  connect() {
    if (this._closed) return Promise.reject(localError('closed', 'signaling was closed'));
    if (this._running) return this._running.first;
    let resolveFirst;
    let rejectFirst;
    const first = new Promise((resolve, reject) => { resolveFirst = resolve; rejectFirst = reject; });
    this._running = { first };
    this._supervise(resolveFirst, rejectFirst);
    globalThis.addEventListener?.('online', this._onOnline);
    return first;
  }

  /** Send a request; resolve with its reply, reject with SignalingError on an error. */
  request(message, { timeoutS = REQUEST_TIMEOUT_S } = {}) {
    const id = `${this._idPrefix}${this._nextId++}`;
    const ws = this._ws;
    if (this._state !== 'open' || !ws || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(localError('closed', `not connected (${this._state})`));
    }
    return this._exchange(ws, { ...message, id }, timeoutS);
  }

  /**
   * Take over the pushes of `sessionId`: return those that arrived since the latest
   * welcome listed the session (oldest first) and stop keeping them. A Call does this
   * when it is made, so that an offer sent while a reloaded page was still opening its
   * camera is not lost. Until releaseSession, no backlog is kept for the session.
   */
  claimSession(sessionId) {
    this._claimed.add(sessionId);
    const backlog = this._backlogs.get(sessionId);
    this._backlogs.delete(sessionId);
    return backlog?.messages ?? [];
  }

  /**
   * Keep the pushes of a session this page is about to follow (a call it has just been
   * put in, while it still opens its camera), as for a session listed in the welcome,
   * until a Call claims it.
   */
  keepSession(sessionId) {
    if (this._claimed.has(sessionId) || this._backlogs.has(sessionId)) return;
    this._backlogs.set(sessionId, { since: performance.now(), messages: [] });
  }

  /** Give a claimed session back (its Call closed). */
  releaseSession(sessionId) {
    this._claimed.delete(sessionId);
  }

  /** Send a message that has no reply (a `signal`); return whether it went out. */
  send(message) {
    const ws = this._ws;
    if (this._state !== 'open' || !ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }

  /** Drop the current socket and reconnect now (after a network change, or in tests). */
  reconnect() {
    if (this._closed) return;
    this._reconnectNow = true;
    if (this._ws) this._ws.close(3000, 'reconnect');
    this._nudge();
  }

  /** Close for good; idempotent. Pending requests reject with code 'closed'. */
  close() {
    if (this._closed) return;
    this._closed = true;
    globalThis.removeEventListener?.('online', this._onOnline);
    clearTimeout(this._refreshTimer);
    clearInterval(this._liveness);
    this._nudge();
    if (this._ws) this._ws.close(1000, 'client closed');
    this._failPending('signaling was closed');
    this._backlogs.clear();
    this._setState('closed');
  }

  // --- internals -------------------------------------------------------------------

  _setState(state, detail = {}) {
    if (this._state === state) return;
    this._state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, ...detail } }));
  }

  _nudge() {
    this._wake?.abort();
  }

  _exchange(ws, message, timeoutS) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(message.id);
        reject(localError('timeout', `no reply to ${message.type} within ${timeoutS} s`));
      }, timeoutS * 1000);
      this._pending.set(message.id, { ws, resolve, reject, timer });
      ws.send(JSON.stringify(message));
    });
  }

  _failPending(why, ws = null) {
    for (const [id, pending] of this._pending) {
      if (ws && pending.ws !== ws) continue;
      clearTimeout(pending.timer);
      this._pending.delete(id);
      pending.reject(localError('closed', why));
    }
  }

  async _freshToken() {
    try {
      const got = await this._getToken();
      if (got === null) {
        // Cookie authentication (the expert console): hello carries no token, the
        // server reads the HttpOnly cookie sent with the upgrade, and nothing refreshes.
        this._cookieAuth = true;
        this._token = null;
        this._tokenExpiresAt = null;
        return null;
      }
      this._cookieAuth = false;
      // getToken may also return {token, expires_at}.
      const token = typeof got === 'string' ? got : got?.token;
      if (token) {
        this._token = token;
        this._tokenExpiresAt = (typeof got === 'object' && got?.expires_at) || tokenExpiry(token);
        return token;
      }
    } catch (error) {
      // A console whose getToken can't reach its backend may still hold a refreshed one.
      if (!this._token) throw error;
    }
    return this._token;
  }

  /** Open one socket and say hello on it; resolve with [ws, welcome]. */
  async _open() {
    const token = await this._freshToken();
    const ws = new WebSocket(this.url);
    const closed = new Promise((_, reject) => {
      ws.addEventListener('close', (event) => {
        const error = localError('closed', `socket closed (${event.code})`);
        error.closeCode = event.code;
        reject(error);
      }, { once: true });
    });
    closed.catch(() => {});
    ws.addEventListener('message', (event) => this._onFrame(ws, event.data));
    let openTimer;
    try {
      // On a path that just died, the TCP handshake retries with growing gaps; a fresh
      // attempt soon after the link returns beats waiting for the old one.
      await Promise.race([
        new Promise((resolve) => ws.addEventListener('open', resolve, { once: true })),
        closed,
        new Promise((_, reject) => {
          openTimer = setTimeout(
            () => reject(localError('timeout', 'the server did not answer in time')),
            OPEN_TIMEOUT_S * 1000,
          );
        }),
      ]);
    } catch (error) {
      ws.close();
      throw error;
    } finally {
      clearTimeout(openTimer);
    }
    try {
      for (;;) {
        const hello = { type: 'hello', versions: [PROTOCOL_VERSION] };
        if (token !== null) hello.token = token;
        if (this._resumeToken) hello.resume_token = this._resumeToken;
        try {
          const welcome = await Promise.race([
            this._exchange(ws, { ...hello, id: `${this._idPrefix}${this._nextId++}` }, 10),
            closed,
          ]);
          return [ws, welcome];
        } catch (error) {
          // A stale resume token only costs the `resumed` flag: say hello without it.
          if (error.field === 'resume_token' && this._resumeToken) {
            this._resumeToken = null;
            continue;
          }
          throw error;
        }
      }
    } catch (error) {
      ws.close();
      throw error;
    }
  }

  async _supervise(resolveFirst, rejectFirst) {
    let attempt = 0;
    let first = true;
    let immediate = false;
    while (!this._closed) {
      this._setState(first ? 'connecting' : 'reconnecting');
      let ws;
      try {
        let welcome;
        [ws, welcome] = await this._open();
        if (this._closed) { ws.close(1000, 'client closed'); break; }
        attempt = 0;
        this._ws = ws;
        this._lastReceived = performance.now();
        const reconnected = !first;
        // How long we heard nothing: from the last frame on the socket that dropped.
        const outageS = reconnected && this._lastAlive !== null
          ? (performance.now() - this._lastAlive) / 1000 : null;
        this._acceptWelcome(welcome);
        this._setState('open');
        if (first) { first = false; resolveFirst(welcome); }
        this.dispatchEvent(new CustomEvent('welcome', {
          detail: { welcome, resumed: Boolean(welcome.resumed), reconnected, outageS },
        }));
        const reason = await this._watch(ws, welcome);
        this._lastAlive = this._lastReceived;
        this._ws = null;
        this._failPending('connection lost before the reply', ws);
        if (reason.terminal) {
          this._closed = true;
          this._setState('closed', { reason: reason.why, code: reason.code });
          break;
        }
        immediate = reason.goingAway || this._reconnectNow;
        this._reconnectNow = false;
      } catch (error) {
        if (this._closed) break;
        const fatal = error instanceof SignalingError && error.code !== 'closed'
          && error.code !== 'timeout' && error.code !== 'unavailable'
          && error.code !== 'rate_limited' && error.code !== 'internal';
        if (first && fatal) {
          // Wrong credentials or versions: the caller must know, not watch us retry.
          this._closed = true;
          this._setState('closed', { reason: error.code });
          rejectFirst(error);
          break;
        }
        this.dispatchEvent(new CustomEvent('retry', { detail: { error, attempt } }));
      }
      if (this._closed) break;
      this._setState(first ? 'connecting' : 'reconnecting');
      const delayS = immediate ? Math.random() * 0.25 : backoffDelayS(attempt);
      immediate = false;
      attempt += 1;
      this._wake = new AbortController();
      await sleep(delayS * 1000, this._wake.signal);
      this._wake = null;
    }
    if (first) rejectFirst(localError('closed', 'signaling was closed'));
  }

  _acceptWelcome(welcome) {
    this._welcome = welcome;
    // Pushes of a listed session may come before anyone has made its Call.
    const backlogs = new Map();
    for (const session of welcome.sessions ?? []) {
      const id = session.session_id;
      if (this._claimed.has(id)) continue;
      backlogs.set(id, this._backlogs.get(id) ?? { since: performance.now(), messages: [] });
    }
    this._backlogs = backlogs;
    if (welcome.resume_token) {
      this._resumeToken = welcome.resume_token;
      try { this._onResumeToken(welcome.resume_token); } catch (error) { console.error(error); }
    }
    this._scheduleRefresh();
  }

  /** Resolve when this socket is over, saying why. */
  _watch(ws, welcome) {
    return new Promise((resolve) => {
      let goingAway = false;
      const heartbeatS = welcome.heartbeat_s || DEFAULT_HEARTBEAT_S;
      ws._onGoingAway = () => { goingAway = true; };
      // Browsers answer the server's pings, but can't tell us that the server went
      // silent: ask with a `ping` request when nothing arrived for a heartbeat.
      const probe = async (timeoutS) => {
        if (ws.readyState !== WebSocket.OPEN) return;
        try {
          await this._exchange(ws, { type: 'ping', id: `${this._idPrefix}${this._nextId++}` },
            timeoutS);
        } catch (error) {
          if (error.code !== 'timeout' || ws !== this._ws) return;
          // A dead path (the network went away, the address changed) never completes the
          // closing handshake: reconnect now rather than wait for the browser to give up.
          clearInterval(this._liveness);
          ws.close(3001, 'no pong');
          resolve({ terminal: false, why: 'no pong', code: 3001, goingAway: false });
        }
      };
      clearInterval(this._liveness);
      this._liveness = setInterval(() => {
        if (performance.now() - this._lastReceived < heartbeatS * 1000) return;
        probe(Math.max(2, heartbeatS / 2));
      }, Math.max(1000, (heartbeatS * 1000) / 2));
      ws.addEventListener('close', (event) => {
        clearInterval(this._liveness);
        const terminal = event.code === CLOSE_REPLACED || event.code === CLOSE_POLICY;
        const why = event.code === CLOSE_REPLACED ? 'replaced' : event.reason || 'socket closed';
        resolve({ terminal, why, code: event.code, goingAway: goingAway || event.code === 1001 });
      }, { once: true });
    });
  }

  _scheduleRefresh() {
    clearTimeout(this._refreshTimer);
    if (this._cookieAuth) return; // the page renews its cookie itself
    const now = Date.now() / 1000;
    let lifetime = this._tokenExpiresAt ? this._tokenExpiresAt - now : null;
    // A clock far off the server's makes the lifetime meaningless: use a safe interval.
    if (lifetime === null || lifetime <= 0 || lifetime > 86400) lifetime = DEFAULT_REFRESH_S * 1.5;
    const afterS = Math.max(5, (lifetime * 2) / 3);
    this._refreshTimer = setTimeout(() => this._refresh(), afterS * 1000);
  }

  async _refresh() {
    if (this._closed || this._state !== 'open') return;
    try {
      const reply = await this.request({ type: 'token_refresh' });
      this._token = reply.token;
      this._tokenExpiresAt = reply.expires_at;
      this.dispatchEvent(new CustomEvent('token', {
        detail: { token: reply.token, expiresAt: reply.expires_at },
      }));
    } catch (error) {
      console.warn('token_refresh failed', error);
    }
    if (this._state === 'open') this._scheduleRefresh();
  }

  _onFrame(ws, data) {
    if (ws === this._ws || !this._ws) this._lastReceived = performance.now();
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      console.warn('signaling: a frame that is not JSON', data);
      return;
    }
    const pending = message.id !== undefined ? this._pending.get(message.id) : undefined;
    if (pending && pending.ws === ws) {
      this._pending.delete(message.id);
      clearTimeout(pending.timer);
      if (message.type === 'error') pending.reject(new SignalingError(message));
      else pending.resolve(message);
      return;
    }
    if (message.type === 'going_away') ws._onGoingAway?.();
    this._keep(message);
    // Pushes on a socket that is not (yet) the current one still belong to us: a
    // reconnected member's messages can come before its welcome.
    this.dispatchEvent(new CustomEvent('message', { detail: message }));
  }

  /** Keep a session's push for the Call that will claim it (bounded in count and age). */
  _keep(message) {
    if (!BACKLOG_TYPES.has(message.type)) return;
    const backlog = this._backlogs.get(messageSessionId(message));
    if (!backlog) return;
    if (backlog.messages.length >= BACKLOG_MAX_MESSAGES
      || performance.now() - backlog.since > BACKLOG_MAX_AGE_MS) {
      // Nobody claimed it in time: this client does not follow that session.
      this._backlogs.delete(messageSessionId(message));
      return;
    }
    backlog.messages.push(message);
  }
}
