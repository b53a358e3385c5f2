// In the call: the Call with the booth, its head (site, facts, duration, a transferred
// call's note), the mute and camera toggles, and the way back to the desk when it ends.

import { Call } from '/client/call.js';
import { setInCall } from './availability.js';
import { closeCaptions, openCaptions } from './captions.js';
import { closeChat, openChat } from './chat.js';
import { connection } from './connection.js';
import { closeDialog } from './dialog.js';
import { $, announce, setIcon } from './dom.js';
import { attachDoccamChannel, detachDoccam, renderDoccam, resetDoccam, wireDoccam } from './doccam-panel.js';
import { agencyName, interpreterText, serviceName, siteOf } from './directory.js';
import { clock } from './format.js';
import { languageName, t } from './i18n.js';
import { localStream, stopLocalMedia } from './local-media.js';
import { tell } from './notice.js';
import { renderQuality, setQuality } from './quality.js';
import { currentScreen, show } from './screens.js';
import {
  attachRemote, detachRemote, emptySlots, renderRemoteWaiting, renderTileLabels, showRemoteWaiting,
} from './video-slots.js';

let call = null;
let session = null;
let startedAt = null; // performance.now() of the start

/** Return the Call under way (null: none). */
export function currentCall() {
  return call;
}

/** Return the call's session as the server last described it. */
export function currentSession() {
  return session;
}

/** Tell whether a call is under way and on the screen. */
export function callShown() {
  return call !== null && currentScreen() === 'call';
}

/** Start the call of `joined` with the local media; `note` is a transferred call's note. */
export function startCall(joined, note) {
  session = joined;
  startedAt = performance.now();
  call = new Call({
    signaling: connection(),
    session,
    localStream: localStream(),
    iceServers: connection().welcome?.ice_servers ?? [],
    siteKind: siteOf({ id: session.site }).kind,
  });
  follow(call);
  $('self-video').srcObject = localStream();
  openChat(call);
  openCaptions(session.session_id);
  setPressed('mute', false);
  setPressed('camera', false);
  emptySlots();
  resetDoccam(); // a new call starts with an empty gallery
  showRemoteWaiting('call.connecting');
  $('call-note').textContent = note ?? '';
  $('call-note-box').hidden = !note;
  renderCallHead();
  setQuality(null);
  setInCall(true);
  show('call');
}

/** Follow the Call's events: streams, participants, quality and its end. */
function follow(active) {
  active.addEventListener('remote-stream', ({ detail }) => attachRemote(detail.participant, detail.stream));
  active.addEventListener('participant-left', ({ detail }) => {
    detachRemote(detail.participantId);
    detachDoccam(detail.participantId);
  });
  active.addEventListener('datachannel', ({ detail }) => {
    // The booth's document camera opens one channel, `doccam` (docs/protocol.md §4.5).
    if (detail.participant?.kind === 'doccam' && detail.channel?.label === 'doccam') {
      attachDoccamChannel(detail.channel, detail.participant);
    }
  });
  active.addEventListener('session', ({ detail }) => { session = detail.session; renderCallHead(); });
  active.addEventListener('participant', ({ detail }) => {
    if (detail.participant.kind === 'booth') showRemoteWaiting(detail.participant.connected ? null : 'call.citizen_away');
  });
  active.addEventListener('connection', ({ detail }) => {
    const kind = active.participants.get(detail.participantId)?.kind;
    if (kind === 'booth' && detail.state === 'connected') showRemoteWaiting(null);
  });
  active.addEventListener('quality', ({ detail }) => {
    if (active.participants.get(detail.participantId)?.kind === 'booth') setQuality(detail);
  });
  active.addEventListener('ended', ({ detail }) => callOver(detail));
}

/** Show the call's site, facts and duration. */
function renderCallHead() {
  if (!session) return;
  const site = siteOf({ id: session.site });
  $('call-title').textContent = t('call.title', { site: site.name, municipality: site.municipality });
  const facts = [agencyName(session.agency), serviceName(session.agency, session.service), languageName(session.language)];
  if (session.interpreter) facts.push(t('call.interpreter_need', { need: interpreterText(session.interpreter) }));
  $('call-facts').textContent = facts.join(' · ');
  tickCall();
}

/** Show how long the call has lasted. */
export function tickCall() {
  if (!call || startedAt === null) return;
  $('call-timer').textContent = clock((performance.now() - startedAt) / 1000);
}

/** Show the call in the chosen language. */
export function renderCall() {
  renderDoccam();
  if (!call) return;
  renderCallHead();
  renderQuality();
  setPressed('camera', $('camera').getAttribute('aria-pressed') === 'true');
  renderRemoteWaiting();
  renderTileLabels();
}

/** Show the mute or camera toggle pressed or not. */
function setPressed(id, pressed) {
  $(id).setAttribute('aria-pressed', String(pressed));
  if (id === 'mute') setIcon('mute-icon', pressed ? 'mic-off' : 'mic');
  if (id === 'camera') {
    setIcon('camera-icon', pressed ? 'camera-off' : 'camera');
    $('self-caption').textContent = t(pressed ? 'call.camera_is_off' : 'call.you');
  }
}

/** Turn the microphone off or on. */
export function toggleMute() {
  if (!callShown()) return;
  const muted = !call.muted;
  call.setMuted(muted);
  setPressed('mute', muted);
  announce(t(muted ? 'call.muted' : 'call.unmuted'));
}

/** Turn the camera off or on. */
export function toggleCamera() {
  if (!callShown()) return;
  const off = call.cameraEnabled;
  call.setCameraEnabled(!off);
  setPressed('camera', off);
  announce(t(off ? 'call.camera_turned_off' : 'call.camera_turned_on'));
}

/** Wire the mute and camera toggles. */
export function wireCallControls() {
  $('mute').addEventListener('click', toggleMute);
  $('camera').addEventListener('click', toggleCamera);
  wireDoccam();
}

/** Go back to the desk after the Call ended, saying why. */
export function callOver({ state, reason, outcome }) {
  if (reason === 'expert_ended') leaveCall(outcome ? 'ended.with_outcome' : 'ended.plain', { outcome });
  else if (reason === 'booth_left') leaveCall('ended.booth_left');
  else if (reason === 'booth_lost' || state === 'failed') leaveCall('ended.booth_lost');
  else if (reason === 'gone') leaveCall('ended.gone');
  else leaveCall('ended.plain');
}

/** Close the call and go back to the desk with the notice `key`. */
export function leaveCall(key, vars = {}) {
  closeCall();
  show('home');
  tell(key, vars);
}

/** Close the Call and forget everything of it. */
function closeCall() {
  call?.close();
  call = null;
  session = null;
  startedAt = null;
  setQuality(null);
  stopLocalMedia();
  emptySlots();
  $('self-video').srcObject = null;
  $('call-note').textContent = '';
  // The chat and the transfer note are gone with the call: nothing of them is kept.
  closeChat();
  closeCaptions();
  // The stills too: their Blob URLs are revoked and the gallery empties.
  resetDoccam();
  $('transfer-note').value = '';
  for (const id of ['outcome-dialog', 'transfer-dialog', 'interpreter-dialog', 'doccam-share-dialog']) closeDialog($(id));
  setInCall(false);
}
