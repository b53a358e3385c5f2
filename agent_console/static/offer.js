// The ringing offer: the card, the ring, the waited and ring times, Accept and Decline;
// and joining the call it brings, or the call a reload left us in.

import { ring } from './bell.js';
import { currentCall, startCall } from './call-view.js';
import { request } from './connection.js';
import { closeDialog, guarded, reportFailure } from './dialog.js';
import { $, announce } from './dom.js';
import { agencyName, interpreterText, serviceName, siteOf } from './directory.js';
import { clock } from './format.js';
import { languageName, t } from './i18n.js';
import { openMedia, stopLocalMedia } from './local-media.js';
import { noticeKey, setNotice, tell } from './notice.js';
import { currentScreen, show } from './screens.js';

// How long past its ring time an offer stays up waiting for the server's word.
const OFFER_GRACE_S = 5;
const CALL_STATES = new Set(['connecting', 'active']);

let offer = null; // {message, at}
let accepting = null; // {sessionId, note} of the call being joined

/** Return the session id of the offer shown (null: none). */
export function currentOfferId() {
  return offer?.message.session_id ?? null;
}

/** Tell whether the call of `sessionId` is the one being joined. */
function joining(sessionId) {
  return accepting !== null && accepting.sessionId === sessionId;
}

/** Tell whether an offer rings on the screen and is not being accepted yet. */
function offerShown() {
  return offer !== null && !accepting && currentScreen() === 'offer';
}

/** Ring and show the server's offer. */
export function showOffer(msg) {
  if (currentCall()) return; // the server rings only a free desk; never hide a live call
  closeDialog($('message-dialog')); // nothing may stand between the expert and Accept
  offer = { message: msg, at: performance.now() };
  accepting = null;
  renderOffer();
  for (const id of ['offer-accept', 'offer-decline']) $(id).disabled = false;
  show('offer');
  ring.start(msg.ring_timeout_s);
  // The tab's title says it too, for a console behind other windows.
  document.title = `${t('offer.title')} – ${t('app.title')}`;
  const site = siteOf(msg.site);
  announce(t('offer.announce', {
    agency: agencyName(msg.agency), service: serviceName(msg.agency, msg.service),
    language: languageName(msg.language), place: site.municipality || site.name,
  }));
}

/** Show the offer's card in the chosen language. */
export function renderOffer() {
  if (!offer) return;
  const msg = offer.message;
  const site = siteOf(msg.site);
  $('offer-site').textContent = t('offer.site', {
    site: site.name, municipality: site.municipality, kind: t(`site.kind_${site.kind}`),
  });
  $('offer-agency').textContent = agencyName(msg.agency);
  $('offer-service').textContent = serviceName(msg.agency, msg.service);
  $('offer-language').textContent = languageName(msg.language);
  $('offer-interpreter').textContent = interpreterText(msg.interpreter);
  $('offer-note-box').hidden = !msg.transfer_note;
  $('offer-note').textContent = msg.transfer_note ?? '';
  tickOffer();
}

/** Show how long the citizen has waited and how long the call still rings. */
export function tickOffer() {
  if (!offer) return;
  const msg = offer.message;
  const elapsed = (performance.now() - offer.at) / 1000;
  $('offer-waited').textContent = clock(msg.waited_s + elapsed);
  const left = Math.max(0, msg.ring_timeout_s - elapsed);
  if (msg.ring_timeout_s - elapsed < -OFFER_GRACE_S && !accepting) {
    // The server's offer_withdrawn never came (a dropped connection): the call is gone.
    clearOffer();
    return;
  }
  $('ring-left').textContent = t('offer.ring_left', { s: Math.ceil(left) });
  $('ring-progress').value = msg.ring_timeout_s > 0 ? Math.round((100 * left) / msg.ring_timeout_s) : 0;
}

/** Stop ringing and go back to the desk. */
function clearOffer() {
  offer = null;
  ring.stop();
  document.title = t('app.title');
  if (currentScreen() === 'offer') show('home');
}

/** Take the server's offer_withdrawn: the call rang out or was cancelled. */
export function offerWithdrawn(msg) {
  if (offer?.message.session_id !== msg.session_id) return;
  if (joining(msg.session_id)) return; // the accept's reply decides
  clearOffer();
  const key = msg.reason === 'timeout' ? 'offer.timed_out' : msg.reason === 'cancelled' ? 'offer.cancelled' : null;
  // Being paused for missed calls says more than "a call rang out": keep that notice.
  if (key && noticeKey() !== 'availability.missed_notice') tell(key);
}

/** Accept the offer: open the camera and microphone, then ask to join. */
export async function acceptOffer() {
  if (!offerShown()) return;
  const sessionId = offer.message.session_id;
  const siteKind = siteOf(offer.message.site).kind;
  // The next expert needs a transferred call's note in the call.
  accepting = { sessionId, note: offer.message.transfer_note ?? null };
  ring.stop();
  for (const id of ['offer-accept', 'offer-decline']) $(id).disabled = true;
  await openMedia(siteKind);
  try {
    await request({ type: 'offer_accept', session_id: sessionId });
  } catch (error) {
    console.warn('offer_accept', error);
    if (currentCall()?.sessionId === sessionId) return;
    accepting = null;
    stopLocalMedia();
    clearOffer();
    tell(error.code === 'conflict' || error.code === 'not_found' ? 'offer.gone' : 'offer.accept_failed');
  }
}

/** Decline the offer: the call goes to the next expert. */
export async function declineOffer() {
  if (!offerShown()) return;
  const sessionId = offer.message.session_id;
  clearOffer();
  try {
    await request({ type: 'offer_decline', session_id: sessionId });
  } catch (error) {
    console.warn('offer_decline', error); // already withdrawn: nothing to do
  }
}

/** Start the call being joined, in the screen of the call. */
function join(session) {
  const { note } = accepting;
  clearOffer();
  accepting = null;
  startCall(session, note);
}

/** Take the server's session_update: join the accepted call once we are its member. */
export function sessionUpdated(session) {
  // The Call is made from the session_update that makes us a member, not after the
  // accept's reply: the booth's first signal may come in between (docs/browser_client.md).
  if (!currentCall() && joining(session?.session_id) && CALL_STATES.has(session.state)) {
    join(session);
  }
}

/** Take the server's session_ended: a call that ended while being joined leaves the desk. */
export function sessionEnded(sessionId) {
  if (currentCall() || !joining(sessionId)) return;
  accepting = null;
  stopLocalMedia();
  clearOffer(); // else the tab's title would say "Incoming call" until the ring time is over
  setNotice('ended.booth_left');
  show('home');
}

/** After a reload the server still counts us in our call: go straight back to it. */
export function rejoinAfterReload(welcome) {
  if (currentCall() || accepting) return;
  const live = (welcome.sessions ?? []).find((s) => CALL_STATES.has(s.state));
  if (live) rejoin(live).catch(reportFailure);
}

/** Join the call the server still has us in, with new media (its note is not known). */
async function rejoin(session) {
  accepting = { sessionId: session.session_id, note: null };
  await openMedia(siteOf({ id: session.site }).kind);
  if (currentCall()) return;
  join(session);
  announce(t('call.rejoined'));
}

/** Wire Accept and Decline. */
export function wireOffer() {
  $('offer-accept').addEventListener('click', guarded(acceptOffer));
  $('offer-decline').addEventListener('click', guarded(declineOffer));
}
