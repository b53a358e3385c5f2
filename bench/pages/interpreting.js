// bench interpreting: one participant of a call in Chromium, driven by Playwright.
// It records when the first frame of each remote participant's video is shown, on the
// wall clock (performance.timeOrigin + performance.now()) that all pages of one browser
// share, so that an accept on one page and a frame on another can be compared.
import { Signaling } from '/client/signaling.js';
import { Call } from '/client/call.js';
import { openLocalMedia } from '/client/media.js';

const now = () => performance.timeOrigin + performance.now();

const bench = {
  signaling: null,
  stream: null,
  call: null,
  firstFrames: {}, // participant id -> {at, kind}
  offers: [], // interpreter_offer messages, newest last
  takesCalls: false,

  async connect(url, token) {
    this.stream = await openLocalMedia({ siteKind: 'S' });
    this.signaling = new Signaling({ url, getToken: async () => token });
    this.signaling.addEventListener('message', (e) => this.onMessage(e.detail));
    await this.signaling.connect();
  },

  onMessage(message) {
    if (message.type === 'offer' && this.takesCalls) {
      this.signaling.request({ type: 'offer_accept', session_id: message.session_id });
    } else if (message.type === 'interpreter_offer') {
      this.offers.push(message);
    } else if (message.type === 'session_update' && !this.call
      && ['connecting', 'active'].includes(message.session.state)) {
      this.startCall(message.session);
    } else if (message.type === 'session_ended') {
      this.leaveCall();
    }
  },

  startCall(session) {
    this.call = new Call({ signaling: this.signaling, session, localStream: this.stream, siteKind: 'S' });
    this.call.addEventListener('remote-stream', (e) => this.watch(e.detail.participant, e.detail.stream));
  },

  leaveCall() {
    this.call?.close();
    this.call = null;
  },

  watch(participant, stream) {
    const video = document.createElement('video');
    Object.assign(video, { muted: true, autoplay: true, playsInline: true, srcObject: stream });
    document.getElementById('videos').append(video);
    video.requestVideoFrameCallback(() => {
      this.firstFrames[participant.id] ??= { at: now(), kind: participant.kind };
    });
  },

  async request(message) {
    return this.signaling.request(message);
  },

  /** Accept the newest ring and return the wall-clock time the accept was sent. */
  async acceptNewest() {
    const offer = this.offers.at(-1);
    const at = now();
    await this.signaling.request({ type: 'interpreter_accept', request_id: offer.request_id });
    return at;
  },

  async leave(sessionId) {
    await this.signaling.request({ type: 'session_leave', session_id: sessionId });
    this.leaveCall();
  },
};

window.bench = bench;
window.benchReady = true;
