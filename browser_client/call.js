// A session's media in the browser: one RTCPeerConnection per remote participant (mesh).
//
// Rules shared with the Python client (signaling/client/call.py, docs/protocol.md §4.4):
// - the participant with the smaller id (string comparison) makes the first offer;
// - perfect negotiation: on glare the smaller id's offer wins, the larger id rolls back
//   and answers;
// - SDP goes without candidates, candidates trickle as `ice` signals (null = end);
// - after a network change or a signaling resume, the connection is repaired with an
//   ICE restart, or with a new peer connection when the other side (aiortc) answers
//   from a new one (its DTLS fingerprint changes).
// Plain ES module; it needs only signaling.js.

import { messageSessionId } from './signaling.js';

const MESH_KINDS = new Set(['booth', 'expert', 'interpreter', 'guest', 'doccam']);
const QUALITY_INTERVAL_MS = 2000;
// How often the call's running quality summary goes to the server for the statistics,
// and the first one early, so that a short call is measured too.
const QUALITY_REPORT_MS = 10000;
const QUALITY_FIRST_REPORT_MS = 5000;
const DISCONNECTED_GRACE_MS = 2000;
// The side whose offer would lose a glare waits this long before it repairs by itself.
const POLITE_REPAIR_DELAY_MS = 1000;
// A negotiation that has not connected after this long is started again.
const CONNECT_WATCHDOG_MS = 15000;
// On a service bus's mobile uplink the video must leave room for the audio.
const XS_VIDEO_MAX_BITRATE = 600_000;
// With a sign-language interpreter in the call the hands must stay readable
// (docs/protocol.md §5.3 "Sign language"): at least this frame rate from the camera.
const SIGN_MIN_FPS = 25;
const SIGN_IDEAL_FPS = 30;

/** Whether a participant is a sign-language interpreter. */
export function isSignInterpreter(participant) {
  return participant?.kind === 'interpreter' && participant.interpreting?.modality === 'sign';
}

/** Return the SDP without candidate lines (they trickle as `ice` signals). */
export function stripCandidates(sdp) {
  return sdp
    .split(/\r?\n/)
    .filter((line) => line && !line.startsWith('a=candidate:') && !line.startsWith('a=end-of-candidates'))
    .join('\r\n') + '\r\n';
}

/** Return the DTLS fingerprints of an SDP as one comparable string. */
export function fingerprints(sdp) {
  return [...new Set(sdp.split(/\r?\n/).filter((l) => l.startsWith('a=fingerprint:')))]
    .sort()
    .join('|');
}

function dispatch(target, type, detail) {
  target.dispatchEvent(new CustomEvent(type, { detail }));
}

/** One remote participant and our peer connection to it. */
class Peer {
  constructor(id) {
    this.id = id;
    this.pc = null;
    this.stream = null;
    this.chain = Promise.resolve();
    this.ignoreOffer = false;
    this.pendingRemote = [];
    this.outbox = null; // local candidates held back until their description is sent
    this.disconnectedTimer = null;
    this.repairTimer = null;
    this.watchdog = null;
    // Set once the other side answered an ICE restart from a new peer connection
    // (aiortc does): from then on repairs start from a new peer connection at once.
    this.freshPeerPerOffer = false;
    this.statsPrevious = null;
  }

  /** Run `task` after every earlier operation on this peer (negotiation is sequential). */
  run(task) {
    const next = this.chain.then(task).catch((error) => {
      console.error(`peer ${this.id}:`, error);
    });
    this.chain = next;
    return next;
  }

  clearTimers() {
    clearTimeout(this.disconnectedTimer);
    clearTimeout(this.repairTimer);
    clearTimeout(this.watchdog);
    this.disconnectedTimer = this.repairTimer = this.watchdog = null;
  }
}

export class Call extends EventTarget {
  constructor({
    signaling,
    session,
    localStream,
    iceServers,
    siteKind = 'S',
    iceTransportPolicy,
  }) {
    super();
    this.signaling = signaling;
    this.session = session;
    this.sessionId = session.session_id;
    this.selfId = session.self_id;
    this.localStream = localStream ?? null;
    this.iceServers = iceServers ?? signaling.welcome?.ice_servers ?? [];
    this.siteKind = siteKind;
    // 'relay' when the directory sets ice.relay_only (welcome.ice_transport_policy);
    // a policy given to the constructor wins over the server's.
    this._explicitPolicy = iceTransportPolicy ?? null;
    this.iceTransportPolicy = this._explicitPolicy
      ?? signaling.welcome?.ice_transport_policy ?? 'all';
    this.participants = new Map();
    this._peers = new Map();
    this._closed = false;
    this._muted = false;
    this._cameraEnabled = true;
    // A sign-language interpreter is a member: the camera and the video senders follow
    // the sign-language policy (see _applySignPolicy).
    this._signLanguage = false;
    this._constraintsBefore = new Map(); // local video track -> its constraints before
    this._onMessage = (event) => this._handleMessage(event.detail);
    this._onWelcome = (event) => this._handleWelcome(event.detail.welcome);
    signaling.addEventListener('message', this._onMessage);
    signaling.addEventListener('welcome', this._onWelcome);
    this._quality = setInterval(() => this._sampleQuality(), QUALITY_INTERVAL_MS);
    this._summary = new QualitySummary();
    this._qualityReport = setInterval(() => this._reportQuality(), QUALITY_REPORT_MS);
    this._firstQualityReport = setTimeout(() => this._reportQuality(), QUALITY_FIRST_REPORT_MS);
    // A Call made for a session that our latest welcome already listed is a rejoin
    // (a reloaded page): the other side may hold a dead peer connection to us, so we
    // offer to everyone instead of waiting for the smaller ids.
    const rejoining = (signaling.welcome?.sessions ?? []).some((s) => s.session_id === this.sessionId);
    // What the session's members sent before this Call existed (an offer to a reloaded
    // page that was still opening its camera) is handled next, in order, once the
    // caller has had the chance to listen to this Call's events.
    const early = signaling.claimSession?.(this.sessionId) ?? [];
    this._applySession(session, { offerToAll: rejoining });
    if (early.length) {
      queueMicrotask(() => { for (const message of early) this._handleMessage(message); });
    }
  }

  /** Our peer connections by participant id (for diagnostics and tests). */
  get peerConnections() {
    const result = new Map();
    for (const [id, peer] of this._peers) if (peer.pc) result.set(id, peer.pc);
    return result;
  }

  get muted() { return this._muted; }
  get cameraEnabled() { return this._cameraEnabled; }
  /** Whether a sign-language interpreter is in the call (the video policy is raised). */
  get signLanguage() { return this._signLanguage; }

  /** Mute or unmute the microphone for everyone in the call. */
  setMuted(muted) {
    this._muted = Boolean(muted);
    for (const track of this.localStream?.getAudioTracks() ?? []) track.enabled = !this._muted;
  }

  /** Turn the camera picture on or off for everyone in the call. */
  setCameraEnabled(enabled) {
    this._cameraEnabled = Boolean(enabled);
    for (const track of this.localStream?.getVideoTracks() ?? []) track.enabled = this._cameraEnabled;
  }

  /** Restart ICE towards every participant (call after the device's network changed). */
  restartIce() {
    for (const peer of this._peers.values()) this._repair(peer, 'requested', { force: true });
  }

  /** Close every peer connection and stop following the session; idempotent. */
  close() {
    if (this._closed) return;
    this._closed = true;
    clearInterval(this._quality);
    clearInterval(this._qualityReport);
    clearTimeout(this._firstQualityReport);
    this._reportQuality();
    this.signaling.removeEventListener('message', this._onMessage);
    this.signaling.removeEventListener('welcome', this._onWelcome);
    this.signaling.releaseSession?.(this.sessionId);
    for (const peer of this._peers.values()) this._closePeer(peer);
    this._peers.clear();
    // The tracks belong to the caller: give them back as they were lent.
    this._restoreCamera();
  }

  // --- membership --------------------------------------------------------------------

  _handleMessage(message) {
    const sessionId = messageSessionId(message);
    if (this._closed || sessionId !== this.sessionId) return;
    switch (message.type) {
      case 'session_update':
        this._applySession(message.session);
        break;
      case 'participant':
        this._onParticipant(message.participant, message.event);
        break;
      case 'signal':
        this._onSignal(message.from, message.payload);
        break;
      case 'session_ended':
        this._end({ state: message.state, reason: message.reason, outcome: message.outcome ?? null });
        break;
      default:
        break;
    }
  }

  _handleWelcome(welcome) {
    if (this._closed) return;
    const session = (welcome.sessions ?? []).find((s) => s.session_id === this.sessionId);
    if (!session) {
      // It ended while we were away; its session_ended was not replayed.
      this._end({ state: null, reason: 'gone', outcome: null });
      return;
    }
    this.iceServers = welcome.ice_servers ?? this.iceServers;
    this.iceTransportPolicy = this._explicitPolicy
      ?? welcome.ice_transport_policy ?? this.iceTransportPolicy;
    for (const peer of this._peers.values()) {
      try { peer.pc?.setConfiguration(this._configuration()); } catch { /* closed */ }
    }
    // Signals sent while we were away were dropped: every connection that is not
    // working is negotiated again, whoever would normally offer. So is one still
    // waiting for the answer to an offer (an ICE restart sent as the network died): that
    // answer never comes, even when the media came back by itself on the old path, and
    // the connection would stay in have-local-offer, refusing every later negotiation.
    const existing = [...this._peers.values()];
    this._applySession(session, { offerToAll: true });
    for (const peer of existing) {
      this._repair(peer, 'resumed', { force: peer.pc?.signalingState === 'have-local-offer' });
    }
  }

  _applySession(session, { offerToAll = false } = {}) {
    this.session = session;
    this.selfId = session.self_id ?? this.selfId;
    const present = new Set();
    for (const participant of session.participants) {
      if (participant.id === this.selfId) continue;
      present.add(participant.id);
      this.participants.set(participant.id, { ...participant });
    }
    for (const id of [...this.participants.keys()]) {
      if (!present.has(id)) this._removeParticipant(id);
    }
    dispatch(this, 'session', { session });
    this._connectNewcomers({ offerToAll });
    this._updateSignLanguage();
  }

  /** Offer to every participant we have no peer for and should offer to. */
  _connectNewcomers({ offerToAll = false } = {}) {
    for (const participant of this.participants.values()) {
      if (!MESH_KINDS.has(participant.kind) || this._peers.has(participant.id)) continue;
      // A document camera always makes the offers (it opens the data channel).
      if (participant.kind === 'doccam') continue;
      if (this._offersTo(participant.id) || offerToAll) {
        const peer = this._peer(participant.id);
        peer.run(() => this._offer(peer, { fresh: true }));
      }
    }
  }

  _onParticipant(participant, event) {
    if (participant.id === this.selfId) return;
    if (event === 'left') {
      this._removeParticipant(participant.id);
      return;
    }
    this.participants.set(participant.id, { ...this.participants.get(participant.id), ...participant });
    dispatch(this, 'participant', { participant: this.participants.get(participant.id), event });
    if (event === 'joined') this._connectNewcomers();
    this._updateSignLanguage();
    if (event === 'reconnected') {
      const peer = this._peers.get(participant.id) ?? this._peer(participant.id);
      this._repair(peer, 'reconnected');
    }
  }

  _removeParticipant(id) {
    const known = this.participants.delete(id);
    const peer = this._peers.get(id);
    if (peer) {
      this._closePeer(peer);
      this._peers.delete(id);
    }
    if (known || peer) dispatch(this, 'participant-left', { participantId: id });
    this._updateSignLanguage();
  }

  _end(detail) {
    if (this._closed) return;
    this.close();
    dispatch(this, 'ended', detail);
  }

  _offersTo(id) {
    return this.selfId !== undefined && this.selfId !== null && this.selfId < id;
  }

  // --- peer connections --------------------------------------------------------------

  _configuration() {
    return {
      iceServers: (this.iceServers ?? []).map(({ urls, username, credential }) =>
        (username ? { urls, username, credential } : { urls })),
      iceTransportPolicy: this.iceTransportPolicy,
      bundlePolicy: 'max-bundle',
    };
  }

  _peer(id) {
    let peer = this._peers.get(id);
    if (!peer) {
      peer = new Peer(id);
      this._peers.set(id, peer);
    }
    return peer;
  }

  _participant(id) {
    return this.participants.get(id) ?? { id, kind: null, connected: true };
  }

  _isDoccam(id) {
    return this.participants.get(id)?.kind === 'doccam';
  }

  _closePeer(peer) {
    peer.clearTimers();
    if (peer.pc) {
      peer.pc.close();
      peer.pc = null;
    }
  }

  /** Replace the peer's connection with a new one that sends our tracks. */
  _newConnection(peer) {
    this._closePeer(peer);
    const pc = new RTCPeerConnection(this._configuration());
    peer.pc = pc;
    peer.stream = new MediaStream();
    peer.pendingRemote = [];
    peer.statsPrevious = null;
    const current = () => peer.pc === pc && !this._closed;
    if (this._isDoccam(peer.id)) {
      // A document camera only sends: its offer brings the video and the data channel.
      pc.addEventListener('datachannel', ({ channel }) => {
        if (current()) dispatch(this, 'datachannel', { participant: this._participant(peer.id), channel });
      });
    } else {
      const tracks = this.localStream?.getTracks() ?? [];
      for (const track of tracks) pc.addTrack(track, this.localStream);
      for (const kind of ['audio', 'video']) {
        if (!tracks.some((t) => t.kind === kind)) pc.addTransceiver(kind, { direction: 'recvonly' });
      }
    }

    pc.addEventListener('icecandidate', ({ candidate }) => {
      if (!current()) return;
      if (candidate && !candidate.candidate) return; // a per-generation end marker
      const payload = candidate
        ? { kind: 'ice', candidate: candidate.candidate, sdp_mid: candidate.sdpMid,
          sdp_mline_index: candidate.sdpMLineIndex }
        : { kind: 'ice', candidate: null };
      if (peer.outbox) peer.outbox.push(payload);
      else this._signal(peer.id, payload);
    });
    pc.addEventListener('track', ({ track }) => {
      if (!current()) return;
      for (const old of peer.stream.getTracks()) {
        if (old.kind === track.kind && old !== track) peer.stream.removeTrack(old);
      }
      peer.stream.addTrack(track);
      dispatch(this, 'remote-stream', { participant: this._participant(peer.id), stream: peer.stream });
    });
    pc.addEventListener('iceconnectionstatechange', () => {
      if (!current()) return;
      const state = pc.iceConnectionState;
      if (state === 'disconnected') {
        clearTimeout(peer.disconnectedTimer);
        peer.disconnectedTimer = setTimeout(() => {
          if (current() && pc.iceConnectionState === 'disconnected') this._repair(peer, 'network');
        }, DISCONNECTED_GRACE_MS);
      } else if (state === 'failed') {
        this._repair(peer, 'network');
      } else if (state === 'connected' || state === 'completed') {
        clearTimeout(peer.disconnectedTimer);
      }
    });
    pc.addEventListener('connectionstatechange', () => {
      if (!current()) return;
      const state = pc.connectionState;
      if (state === 'connected') {
        clearTimeout(peer.watchdog);
        clearTimeout(peer.repairTimer);
      }
      dispatch(this, 'connection', { participantId: peer.id, state });
      if (state === 'failed') this._repair(peer, 'network');
    });
    return pc;
  }

  _signal(to, payload) {
    this.signaling.send({ type: 'signal', session_id: this.sessionId, to, payload });
  }

  /** Set the local description and send it, then the candidates gathered meanwhile. */
  async _describe(peer, pc, description) {
    peer.outbox = [];
    try {
      await pc.setLocalDescription(description);
      this._signal(peer.id, {
        kind: 'sdp', sdp_type: pc.localDescription.type, sdp: stripCandidates(pc.localDescription.sdp),
      });
    } finally {
      const held = peer.outbox;
      peer.outbox = null;
      for (const payload of held) this._signal(peer.id, payload);
    }
    await this._applySenderPolicy(pc);
    this._armWatchdog(peer, pc);
  }

  async _offer(peer, { fresh = false, iceRestart = false } = {}) {
    if (this._closed) return;
    let pc = peer.pc;
    if (fresh || !pc || pc.signalingState === 'closed' || !pc.currentRemoteDescription) {
      pc = this._newConnection(peer);
      iceRestart = false;
    } else if (pc.signalingState !== 'stable') {
      return; // an exchange is under way; its outcome decides
    }
    peer.ignoreOffer = false;
    await this._describe(peer, pc, await pc.createOffer({ iceRestart }));
  }

  async _answer(peer, pc) {
    await this._describe(peer, pc, await pc.createAnswer());
  }

  _onSignal(from, payload) {
    if (!from || from === this.selfId) return;
    const peer = this._peer(from);
    if (payload.kind === 'sdp') peer.run(() => this._onDescription(peer, payload));
    else if (payload.kind === 'ice') peer.run(() => this._onCandidate(peer, payload));
  }

  async _onDescription(peer, { sdp_type: type, sdp }) {
    if (this._closed) return;
    let pc = peer.pc;
    if (type === 'offer') {
      const collision = pc !== null && pc.signalingState !== 'stable';
      if (collision && this._offersTo(peer.id)) {
        // Both offered at once: ours wins; theirs, and its candidates, are ignored.
        peer.ignoreOffer = true;
        return;
      }
      peer.ignoreOffer = false;
      clearTimeout(peer.repairTimer);
      const known = pc?.currentRemoteDescription;
      // An offer with another DTLS identity comes from a new peer connection over
      // there: ours can't follow it (no DTLS restart), so answer from a new one too.
      const fresh = !pc || pc.signalingState === 'closed' || !known
        || fingerprints(known.sdp) !== fingerprints(sdp);
      if (fresh) pc = this._newConnection(peer);
      // In have-local-offer this rolls our own offer back implicitly.
      await pc.setRemoteDescription({ type: 'offer', sdp });
      await this._flushCandidates(peer, pc);
      await this._answer(peer, pc);
    } else if (type === 'answer') {
      if (!pc || pc.signalingState !== 'have-local-offer') return; // stale
      const known = pc.currentRemoteDescription;
      if (known && fingerprints(known.sdp) !== fingerprints(sdp)) {
        // They answered our ICE restart from a new peer connection: start over from one.
        peer.freshPeerPerOffer = true;
        await this._offer(peer, { fresh: true });
        return;
      }
      peer.ignoreOffer = false;
      await pc.setRemoteDescription({ type: 'answer', sdp });
      await this._flushCandidates(peer, pc);
      await this._applySenderPolicy(pc);
    } else if (type === 'rollback') {
      if (pc && pc.signalingState === 'have-remote-offer') {
        await pc.setRemoteDescription({ type: 'rollback' });
      }
    }
  }

  async _onCandidate(peer, payload) {
    const pc = peer.pc;
    if (this._closed || !pc || peer.ignoreOffer || pc.signalingState === 'closed') return;
    if (!pc.remoteDescription) {
      peer.pendingRemote.push(payload);
      return;
    }
    await this._addCandidate(pc, payload);
  }

  async _flushCandidates(peer, pc) {
    const pending = peer.pendingRemote;
    peer.pendingRemote = [];
    for (const payload of pending) await this._addCandidate(pc, payload);
  }

  async _addCandidate(pc, payload) {
    try {
      if (!payload.candidate) {
        await pc.addIceCandidate({ candidate: '' }); // null or "" both mean end
      } else {
        await pc.addIceCandidate({
          candidate: payload.candidate,
          sdpMid: payload.sdp_mid ?? null,
          sdpMLineIndex: payload.sdp_mline_index ?? null,
        });
      }
    } catch (error) {
      // A candidate of an older generation or an m-line we bundled away: harmless.
      console.debug('addIceCandidate', error.message);
    }
  }

  /** Renegotiate with a participant unless media to it still flows. */
  _repair(peer, reason, { force = false } = {}) {
    if (this._closed || !this._peers.has(peer.id)) return;
    if (this._isDoccam(peer.id)) return; // the document camera repairs: it offers again
    const pc = peer.pc;
    const working = pc && pc.connectionState === 'connected'
      && !['disconnected', 'failed'].includes(pc.iceConnectionState);
    if (working && !force) return;
    // After a network failure both sides notice; the side whose offer would lose a
    // glare gives the other a moment to restart first. After a resume or a reconnect
    // only one side reacts, so it offers at once.
    const wait = reason === 'network' && !this._offersTo(peer.id) ? POLITE_REPAIR_DELAY_MS : 0;
    clearTimeout(peer.repairTimer);
    peer.repairTimer = setTimeout(() => {
      peer.repairTimer = null;
      peer.run(async () => {
        const now = peer.pc;
        if (this._closed || !this._peers.has(peer.id)) return;
        if (!force && now && now.connectionState === 'connected'
          && !['disconnected', 'failed'].includes(now.iceConnectionState)) return;
        if (now && now !== pc && wait) return; // they renegotiated meanwhile
        if (now && now.signalingState === 'have-remote-offer') return;
        const restartable = now && now.currentRemoteDescription && !peer.freshPeerPerOffer
          && now.signalingState !== 'closed';
        if (restartable && now.signalingState === 'have-local-offer') {
          // Our earlier offer went unanswered (its signal was dropped): start it over.
          await now.setLocalDescription({ type: 'rollback' });
        }
        await this._offer(peer, restartable ? { iceRestart: true } : { fresh: true });
      });
    }, wait);
  }

  _armWatchdog(peer, pc) {
    clearTimeout(peer.watchdog);
    peer.watchdog = setTimeout(() => {
      peer.watchdog = null;
      if (peer.pc === pc && pc.connectionState !== 'connected') this._repair(peer, 'network');
    }, CONNECT_WATCHDOG_MS);
  }

  // --- media policy ------------------------------------------------------------------

  /**
   * Follow whether a sign-language interpreter is a member (another, or ourselves); apply
   * the policy on change. It is for the pictures that carry the signing, the booth's and
   * the interpreter's (docs/protocol.md §5.3): an expert's own camera keeps its policy.
   */
  _updateSignLanguage() {
    if (this._closed) return;
    const self = this.session?.participants?.find((p) => p.id === this.selfId) ?? null;
    const sign = self?.kind !== 'expert'
      && (isSignInterpreter(self) || [...this.participants.values()].some(isSignInterpreter));
    if (sign === this._signLanguage) return;
    this._signLanguage = sign;
    dispatch(this, 'sign-language', { active: sign });
    this._applySignPolicy().catch((error) => console.warn('sign-language policy', error));
  }

  /** Raise (or lower again) the camera's frame rate and every peer's sender parameters. */
  async _applySignPolicy() {
    if (this._signLanguage) await this._raiseCamera();
    else this._restoreCamera();
    for (const peer of this._peers.values()) {
      if (peer.pc && peer.pc.signalingState !== 'closed') await this._applySenderPolicy(peer.pc);
    }
  }

  /** Ask the local camera for at least 25 fps (30 ideal), keeping its other constraints. */
  async _raiseCamera() {
    for (const track of this.localStream?.getVideoTracks() ?? []) {
      if (track.readyState === 'ended' || typeof track.applyConstraints !== 'function') continue;
      if (!this._constraintsBefore.has(track)) this._constraintsBefore.set(track, track.getConstraints());
      const before = this._constraintsBefore.get(track);
      try {
        await track.applyConstraints({ ...before, frameRate: { min: SIGN_MIN_FPS, ideal: SIGN_IDEAL_FPS } });
      } catch (error) {
        // A camera that cannot do 25 fps at this size: the most it can, rather than nothing.
        console.warn('sign language: the camera refused 25 fps', error?.name, error?.constraint);
        try {
          await track.applyConstraints({ ...before, frameRate: { ideal: SIGN_IDEAL_FPS } });
        } catch { /* the track keeps its constraints */ }
      }
    }
  }

  /** Give the camera back the constraints it had before the sign-language policy. */
  _restoreCamera() {
    for (const [track, before] of this._constraintsBefore) {
      if (track.readyState !== 'ended') track.applyConstraints(before).catch(() => {});
    }
    this._constraintsBefore.clear();
  }

  /**
   * Set the senders' parameters: audio first on weak links, and video by who is in the call.
   *
   * Without a sign-language interpreter, video keeps its frame rate and gives up resolution
   * first. With one (docs/protocol.md §5.3), video keeps its resolution, so that hands and
   * faces stay sharp, and goes out with high priority, like the audio; the camera then
   * delivers at least 25 fps (_raiseCamera).
   */
  async _applySenderPolicy(pc) {
    for (const sender of pc.getSenders()) {
      if (!sender.track) continue;
      const params = sender.getParameters();
      if (!params.encodings || params.encodings.length === 0) continue;
      if (sender.track.kind === 'video') {
        params.degradationPreference = this._signLanguage ? 'maintain-resolution' : 'maintain-framerate';
        for (const encoding of params.encodings) {
          if (this.siteKind === 'XS') encoding.maxBitrate = XS_VIDEO_MAX_BITRATE;
          const priority = this._signLanguage ? 'high' : 'low';
          encoding.priority = priority;
          encoding.networkPriority = priority;
        }
      } else {
        for (const encoding of params.encodings) {
          encoding.priority = 'high';
          encoding.networkPriority = 'high';
        }
      }
      try {
        await sender.setParameters(params);
      } catch (error) {
        console.warn(`setParameters (${sender.track.kind})`, error.message);
      }
    }
  }

  /** The video senders' parameters towards each participant (for diagnostics and tests). */
  videoSenderParameters() {
    const result = {};
    for (const [id, peer] of this._peers) {
      const sender = peer.pc?.getSenders().find((s) => s.track?.kind === 'video');
      if (!sender) continue;
      const params = sender.getParameters();
      const encoding = params.encodings?.[0] ?? {};
      result[id] = {
        degradationPreference: params.degradationPreference ?? null,
        priority: encoding.priority ?? null,
        networkPriority: encoding.networkPriority ?? null,
        maxBitrate: encoding.maxBitrate ?? null,
      };
    }
    return result;
  }

  // --- quality -----------------------------------------------------------------------

  async _sampleQuality() {
    for (const peer of this._peers.values()) {
      const pc = peer.pc;
      if (!pc) continue;
      if (pc.connectionState !== 'connected') {
        if (peer.statsPrevious && ['disconnected', 'failed'].includes(pc.connectionState)) {
          // The media stopped: say so rather than keep showing the last good reading.
          dispatch(this, 'quality', {
            participantId: peer.id, rttMs: null, lossPct: null, fps: null, kbps: 0, level: 'bad',
          });
        }
        continue;
      }
      let report;
      try {
        report = await pc.getStats();
      } catch {
        continue;
      }
      if (peer.pc !== pc || this._closed) continue;
      const sample = { at: performance.now(), bytes: 0, lost: 0, received: 0, fps: null, rtt: null };
      let selectedPair = null;
      const pairs = [];
      report.forEach((stat) => {
        if (stat.type === 'transport' && stat.selectedCandidatePairId) {
          selectedPair = stat.selectedCandidatePairId;
        } else if (stat.type === 'candidate-pair') {
          pairs.push(stat);
        } else if (stat.type === 'inbound-rtp') {
          sample.bytes += stat.bytesReceived ?? 0;
          sample.lost += Math.max(0, stat.packetsLost ?? 0);
          sample.received += stat.packetsReceived ?? 0;
          if (stat.kind === 'video' && typeof stat.framesPerSecond === 'number') {
            sample.fps = stat.framesPerSecond;
          }
        }
      });
      const pair = pairs.find((p) => p.id === selectedPair)
        ?? pairs.find((p) => p.nominated && p.state === 'succeeded');
      if (pair && typeof pair.currentRoundTripTime === 'number') sample.rtt = pair.currentRoundTripTime;
      const previous = peer.statsPrevious;
      peer.statsPrevious = sample;
      if (!previous) continue;
      const seconds = (sample.at - previous.at) / 1000;
      const lost = sample.lost - previous.lost;
      const received = sample.received - previous.received;
      const detail = {
        participantId: peer.id,
        rttMs: sample.rtt === null ? null : Math.round(sample.rtt * 1000),
        lossPct: lost + received > 0 ? (100 * Math.max(0, lost)) / (lost + received) : null,
        fps: sample.fps,
        kbps: seconds > 0 ? Math.round(((sample.bytes - previous.bytes) * 8) / seconds / 1000) : null,
      };
      detail.level = qualityLevel(detail);
      this._summary.add(detail);
      dispatch(this, 'quality', detail);
    }
  }

  /** Send the call's quality so far (means of every sample) for the statistics. */
  _reportQuality() {
    const quality = this._summary.figures();
    if (!quality) return;
    this.signaling.send({ type: 'quality_report', session_id: this.sessionId, quality });
  }
}

/** Running means of a call's quality samples: round trip, loss and frame rate. */
export class QualitySummary {
  constructor() {
    this._sums = { rtt_ms: [0, 0], loss_pct: [0, 0], fps: [0, 0] };
    this._samples = 0;
  }

  /** Take one sample ({rttMs, lossPct, fps}; null fields were not measured). */
  add({ rttMs, lossPct, fps }) {
    this._samples += 1;
    for (const [name, value] of [['rtt_ms', rttMs], ['loss_pct', lossPct], ['fps', fps]]) {
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      this._sums[name][0] += value;
      this._sums[name][1] += 1;
    }
  }

  /** The means so far, in the protocol's QualityFigures shape (null: no samples yet). */
  figures() {
    if (this._samples === 0) return null;
    const limits = { rtt_ms: 60000, loss_pct: 100, fps: 240 };
    const figures = { samples: Math.min(this._samples, 1000000) };
    for (const [name, [sum, count]] of Object.entries(this._sums)) {
      if (count > 0) figures[name] = Math.min(limits[name], Math.max(0, Math.round((sum / count) * 100) / 100));
    }
    return figures;
  }
}

/** Grade one quality sample: 'good', 'weak', 'bad' or 'unknown'. */
export function qualityLevel({ rttMs, lossPct, fps, kbps }) {
  if (rttMs === null && lossPct === null) return 'unknown';
  if (kbps === 0) return 'bad'; // nothing arrives
  if ((lossPct ?? 0) > 10 || (rttMs ?? 0) > 1000 || (fps !== null && fps < 10)) return 'bad';
  if ((lossPct ?? 0) > 3 || (rttMs ?? 0) > 400 || (fps !== null && fps < 20)) return 'weak';
  return 'good';
}
