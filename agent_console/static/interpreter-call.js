// The interpreter in a call: the citizen's video large, the expert's beside it (and a team
// partner's), the own picture, the document camera when the expert shows it, asking the
// expert to show it, the caption writer for speech-to-text, and leaving. The call itself is
// the browser client's Call: one peer connection per member (docs/protocol.md §5.3).

import { Call } from '/client/call.js';
import { setInCall } from './availability.js';
import { closeCaptionWriter, openCaptionWriter } from './caption-writer.js';
import { connection, request } from './connection.js';
import { guarded } from './dialog.js';
import { agencyName, interpreterText, serviceName, siteOf } from './directory.js';
import { $, announce, setIcon } from './dom.js';
import { clock } from './format.js';
import { languageName, t } from './i18n.js';
import { localStream, openMedia, stopLocalMedia } from './local-media.js';
import { tell } from './notice.js';
import { currentScreen, show } from './screens.js';
import { VideoSlots } from './video-slots.js';

const CALL_STATES = new Set(['connecting', 'active']);

const slots = new VideoSlots({
  booth: { video: 'icall-booth-video' },
  expert: { video: 'icall-expert-video', empty: 'icall-expert-empty' },
  partner: { video: 'icall-partner-video', box: 'icall-partner' },
  doccam: { video: 'icall-doccam-video', box: 'icall-doccam-live', empty: 'icall-doccam-empty' },
}, { booth: ['booth'], expert: ['expert'], interpreter: ['partner'], doccam: ['doccam'] }, {
  // The document camera's page needs room to be read (sight translation): the side widens.
  onChange: (slot, participant) => {
    if (slot === 'doccam') document.querySelector('section[data-screen=interp-call]').dataset.doccam = String(Boolean(participant));
  },
});

let call = null;
let session = null;
let startedAt = null;
let expected = null; // the interpreter_offer whose call we are joining
let askedDoccam = false;

/** Tell whether the interpreter is in a call (or joining one). */
export function inInterpreterCall() {
  return call !== null || expected !== null;
}

/** Return the interpreter's Call (null: none). */
export function interpreterCall() {
  return call;
}

/** Join the call of `offer` once the server makes us its member. */
export function expectCall(offer) {
  expected = offer;
}

/** Give up joining (the accept was refused). */
export function cancelExpectedCall() {
  expected = null;
}

/** Return our own participant in the session. */
function self() {
  return session?.participants.find((p) => p.id === session.self_id) ?? null;
}

/** Return the kind of interpreting we do in this call. */
function ownNeed() {
  return self()?.interpreting ?? (expected ? { language: expected.language, modality: expected.modality } : null);
}

/** Start the call of `joined` with the local media. */
function startCall(joined) {
  session = joined;
  startedAt = performance.now();
  expected = null;
  askedDoccam = false;
  call = new Call({
    signaling: connection(),
    session,
    localStream: localStream(),
    iceServers: connection().welcome?.ice_servers ?? [],
    siteKind: siteOf({ id: session.site }).kind,
  });
  call.addEventListener('remote-stream', ({ detail }) => {
    slots.attach(detail.participant, detail.stream);
    renderWaiting();
  });
  call.addEventListener('participant-left', ({ detail }) => {
    slots.detach(detail.participantId);
    renderWaiting();
  });
  call.addEventListener('session', ({ detail }) => {
    session = detail.session;
    renderInterpreterCall();
  });
  call.addEventListener('participant', () => renderWaiting());
  call.addEventListener('ended', ({ detail }) => callOver(detail));
  $('icall-self-video').srcObject = localStream();
  setPressed('icall-mute', false);
  setPressed('icall-camera', false);
  slots.clear();
  const need = ownNeed();
  if (need?.modality === 'text') openCaptionWriter(call);
  else closeCaptionWriter();
  setInCall(true);
  renderInterpreterCall();
  show('interp-call');
  announce(t('icall.joined'));
}

/** Take a session snapshot: join the accepted call once we are its member. */
export function interpreterSessionUpdated(snapshot) {
  if (!call && expected?.session_id === snapshot?.session_id && CALL_STATES.has(snapshot.state)) {
    startCall(snapshot);
  }
}

/** Take the server's session_ended: a call that ended while being joined is given up. */
export function interpreterSessionEnded(msg) {
  if (call || expected?.session_id !== msg.session_id) return;
  expected = null;
  stopLocalMedia();
  tell('icall.ended_before');
}

/** After a reload the server still counts us in a call: go straight back to it. */
export function rejoinInterpreterCall(welcome) {
  if (inInterpreterCall()) return;
  const live = (welcome.sessions ?? []).find((s) => CALL_STATES.has(s.state));
  if (!live) return;
  expected = { session_id: live.session_id };
  openMedia(siteOf({ id: live.site }).kind).then(() => {
    if (!call && expected?.session_id === live.session_id) startCall(live);
  }).catch((error) => console.error(error));
}

/** Show the call's head, tiles and controls in the chosen language. */
export function renderInterpreterCall() {
  if (!call || !session) return;
  const site = siteOf({ id: session.site });
  $('icall-title').textContent = t('call.title', { site: site.name, municipality: site.municipality });
  const need = ownNeed();
  const facts = [agencyName(session.agency), serviceName(session.agency, session.service),
    t('icall.call_language', { language: languageName(session.language) })];
  if (need) facts.push(t('icall.you_interpret', { need: interpreterText(need) }));
  $('icall-facts').textContent = facts.join(' · ');
  $('icall-expert-name').textContent = t('icall.expert', { agency: agencyName(session.agency) });
  const partner = session.participants.find((p) => p.kind === 'interpreter' && p.id !== session.self_id);
  $('icall-partner-name').textContent = partner?.interpreting
    ? t('call.interpreter_tile', { need: interpreterText(partner.interpreting) }) : t('chat.from_interpreter');
  renderDoccamRequest();
  renderWaiting();
  tickInterpreterCall();
}

/** Say over the citizen's video while it has not come (or its connection dropped). */
function renderWaiting() {
  if (!session) return;
  const booth = session.participants.find((p) => p.kind === 'booth');
  const waiting = $('icall-waiting');
  let key = null;
  if (booth && booth.connected === false) key = 'call.citizen_away';
  else if (!slots.owner('booth')) key = 'call.connecting';
  waiting.hidden = !key;
  waiting.textContent = key ? t(key) : '';
}

/** Show whether the document camera is shown to us, and the button that asks for it. */
function renderDoccamRequest() {
  const shared = Boolean(session?.doccam_shared);
  const doccam = slots.owner('doccam');
  // When the expert stops showing it, the document camera closes its connection to us
  // (docs/protocol.md §4.5): its last picture must not linger.
  if (!shared && doccam) slots.detach(doccam.id);
  const hasDoccam = (session?.participants ?? []).some((p) => p.kind === 'doccam');
  if (shared) askedDoccam = false; // asked and answered; once it stops, one may ask again
  const button = $('doccam-share-request');
  button.hidden = shared;
  button.disabled = askedDoccam;
  let key;
  if (shared) key = hasDoccam ? 'icall.doccam_shared' : 'icall.doccam_shared_absent';
  else key = askedDoccam ? 'icall.doccam_asked' : 'icall.doccam_not_shared';
  $('icall-doccam-empty').textContent = t(key);
}

/** Show how long the call has lasted. */
export function tickInterpreterCall() {
  if (!call || startedAt === null) return;
  $('icall-timer').textContent = clock((performance.now() - startedAt) / 1000);
}

/** Ask the expert to show the document camera (for sight translation). */
async function askDoccam() {
  if (!call) return;
  try {
    await request({ type: 'doccam_share_request', session_id: call.sessionId });
  } catch (error) {
    console.warn('doccam_share_request', error);
    announce(t('icall.doccam_ask_failed'));
    return;
  }
  askedDoccam = true;
  renderDoccamRequest();
  announce(t('icall.doccam_asked'));
}

/** Show the mute or camera toggle pressed or not. */
function setPressed(id, pressed) {
  $(id).setAttribute('aria-pressed', String(pressed));
  if (id === 'icall-mute') setIcon('icall-mute-icon', pressed ? 'mic-off' : 'mic');
  if (id === 'icall-camera') {
    setIcon('icall-camera-icon', pressed ? 'camera-off' : 'camera');
    $('icall-self-caption').textContent = t(pressed ? 'call.camera_is_off' : 'call.you');
  }
}

function toggleMute() {
  if (!call) return;
  const muted = !call.muted;
  call.setMuted(muted);
  setPressed('icall-mute', muted);
  announce(t(muted ? 'call.muted' : 'call.unmuted'));
}

function toggleCamera() {
  if (!call) return;
  const off = call.cameraEnabled;
  call.setCameraEnabled(!off);
  setPressed('icall-camera', off);
  announce(t(off ? 'call.camera_turned_off' : 'call.camera_turned_on'));
}

/** Leave the call; the citizen and the expert carry on. */
async function leave() {
  if (!call) return;
  const sessionId = call.sessionId;
  $('leave-call').disabled = true;
  try {
    await request({ type: 'session_leave', session_id: sessionId });
  } catch (error) {
    console.warn('session_leave', error);
  } finally {
    $('leave-call').disabled = false;
  }
  // The server says nothing more to a member who left: the ack is the end.
  if (call?.sessionId === sessionId) backToDesk('icall.you_left');
}

/** Go back to the desk after the Call ended, saying why. */
function callOver({ reason }) {
  backToDesk(reason === 'gone' ? 'ended.gone' : 'icall.ended');
}

/** Close the call, forget everything of it and go back to the desk with the notice `key`. */
function backToDesk(key) {
  call?.close();
  call = null;
  session = null;
  startedAt = null;
  askedDoccam = false;
  stopLocalMedia();
  slots.clear();
  $('icall-self-video').srcObject = null;
  closeCaptionWriter();
  setInCall(false);
  if (currentScreen() === 'interp-call') show('interp-home');
  tell(key);
}

/** Wire the call's controls. */
export function wireInterpreterCall() {
  $('icall-mute').addEventListener('click', toggleMute);
  $('icall-camera').addEventListener('click', toggleCamera);
  $('leave-call').addEventListener('click', guarded(leave));
  $('doccam-share-request').addEventListener('click', guarded(askDoccam));
}
