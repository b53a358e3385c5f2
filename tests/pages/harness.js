// Test harness: drives the browser call client from Playwright (tests/test_browser_client.py).
import { Signaling, SignalingError } from '/client/signaling.js';
import { Call } from '/client/call.js';
import { LevelMeter, describeMediaError, openLocalMedia } from '/client/media.js';

const $ = (id) => document.getElementById(id);
const started = performance.now();

const harness = {
  token: null,
  signaling: null,
  call: null,
  stream: null,
  meter: null,
  session: null,
  events: [],
  resumeTokens: [],
  welcomes: [],
  quality: [],

  note(type, detail = {}) {
    this.events.push({ type, at: Math.round(performance.now() - started), ...detail });
    $('status').textContent = type;
  },

  eventsOf(type) {
    return this.events.filter((e) => e.type === type);
  },

  async openMedia(siteKind = 'S') {
    this.stream = await openLocalMedia({ siteKind });
    $('local').srcObject = this.stream;
    const video = this.stream.getVideoTracks()[0];
    const settings = video.getSettings();
    return {
      contentHint: video.contentHint,
      width: settings.width,
      height: settings.height,
      frameRate: settings.frameRate,
      audio: this.stream.getAudioTracks()[0].getSettings(),
    };
  },

  async connect({ url, token }) {
    this.token = token;
    this.signaling = new Signaling({
      url,
      getToken: async () => this.token,
      onResumeToken: (t) => this.resumeTokens.push(t),
    });
    this.signaling.addEventListener('state', (e) => this.note('state', { state: e.detail.state }));
    this.signaling.addEventListener('welcome', (e) => {
      this.welcomes.push(e.detail.welcome);
      this.note('welcome', { resumed: e.detail.resumed, reconnected: e.detail.reconnected });
    });
    this.signaling.addEventListener('message', (e) => {
      if (e.detail.type !== 'signal') this.note('message', { message: e.detail.type });
    });
    const welcome = await this.signaling.connect();
    return { identity: welcome.identity, sessions: welcome.sessions.length };
  },

  startCall(session, siteKind = 'S') {
    this.session = session;
    this.call = new Call({ signaling: this.signaling, session, localStream: this.stream, siteKind });
    this.call.addEventListener('remote-stream', (e) => {
      $('remote').srcObject = e.detail.stream;
      this.note('remote-stream', {
        participant: e.detail.participant.id,
        tracks: e.detail.stream.getTracks().map((t) => t.kind),
      });
    });
    for (const type of ['connection', 'participant-left', 'ended', 'participant']) {
      this.call.addEventListener(type, (e) => this.note(type, JSON.parse(JSON.stringify(e.detail))));
    }
    this.call.addEventListener('quality', (e) => this.quality.push(e.detail));
  },

  /** As an expert: go available, and take the first offer (resolve with the session). */
  async takeNextCall() {
    const accepted = new Promise((resolve) => {
      const onMessage = (e) => {
        const m = e.detail;
        if (m.type === 'offer') {
          this.signaling.request({ type: 'offer_accept', session_id: m.session_id });
        } else if (m.type === 'session_update' && m.session.state === 'connecting') {
          // Start the Call inside this event: the other side's offer may come next,
          // even before the ack of offer_accept.
          this.signaling.removeEventListener('message', onMessage);
          this.startCall(m.session);
          resolve(m.session);
        }
      };
      this.signaling.addEventListener('message', onMessage);
    });
    await this.signaling.request({ type: 'set_availability', status: 'available' });
    return accepted;
  },

  async callRequest(request, siteKind = 'S') {
    const reply = await this.signaling.request({ type: 'call_request', ...request });
    this.startCall(reply.session, siteKind);
    return reply.session;
  },

  /** Send a request and return the SignalingError's fields (or the reply). */
  async tryRequest(message) {
    try {
      return { reply: await this.signaling.request(message) };
    } catch (error) {
      return {
        error: {
          isSignalingError: error instanceof SignalingError,
          code: error.code,
          field: error.field,
          message: error.message,
          retryAfterS: error.retryAfterS,
          nextOpening: error.nextOpening,
        },
      };
    }
  },

  peers() {
    const result = {};
    for (const [id, pc] of this.call?.peerConnections ?? []) {
      result[id] = {
        connectionState: pc.connectionState,
        iceConnectionState: pc.iceConnectionState,
        signalingState: pc.signalingState,
      };
    }
    return result;
  },

  peerIdentity() {
    // Each RTCPeerConnection object gets a stable tag so tests can tell "same" from "new".
    const result = {};
    for (const [id, pc] of this.call?.peerConnections ?? []) {
      pc.__tag ??= Math.random().toString(36).slice(2);
      result[id] = pc.__tag;
    }
    return result;
  },

  /** Our ICE username fragment per peer: it changes with every ICE restart. */
  iceUfrags() {
    const result = {};
    for (const [id, pc] of this.call?.peerConnections ?? []) {
      result[id] = /a=ice-ufrag:(\S+)/.exec(pc.currentLocalDescription?.sdp ?? '')?.[1] ?? null;
    }
    return result;
  },

  async senderParameters() {
    const [pc] = this.call.peerConnections.values();
    return pc.getSenders().filter((s) => s.track).map((s) => {
      const p = s.getParameters();
      return { kind: s.track.kind, degradationPreference: p.degradationPreference ?? null, encodings: p.encodings };
    });
  },

  startMeter() {
    this.meter = new LevelMeter(this.stream);
  },

  describe(name) {
    const error = new Error('x');
    error.name = name;
    return describeMediaError(error);
  },
};

window.harness = harness;
window.etp = { Signaling, SignalingError, Call, LevelMeter, describeMediaError, openLocalMedia };
window.harnessReady = true;
