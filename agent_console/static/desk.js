// The desk after sign-in: the directory, the first rendering, the signaling connection,
// and each of the server's messages handed to the module it concerns.

import { backToLogin, currentUser } from './auth.js';
import { applyAvailability, renderAvailability } from './availability.js';
import { startBookings } from './bookings.js';
import { receiveCaption } from './captions.js';
import { receiveChat } from './chat.js';
import { connect } from './connection.js';
import { $ } from './dom.js';
import { loadDirectory } from './directory.js';
import { doccamShareRequested, renderDoccamShare } from './doccam-share.js';
import { t } from './i18n.js';
import { followInterpreting } from './interpreter.js';
import { offerWithdrawn, rejoinAfterReload, sessionEnded, sessionUpdated, showOffer } from './offer.js';
import { renderOutcomes } from './outcome.js';
import { applyOverview, renderOverview } from './queues.js';
import { show } from './screens.js';
import { renderSkills } from './skills.js';

let started = false;

/** Start the desk for the signed-in expert (once). */
export async function startDesk() {
  if (started) return;
  started = true;
  const user = currentUser();
  $('who-name').textContent = user.display_name || user.username;
  if (!(user.roles ?? []).includes('expert')) {
    started = false;
    backToLogin(t('login.not_expert'));
    return;
  }
  await loadDirectory();
  renderOutcomes();
  renderSkills();
  renderAvailability();
  renderOverview();
  show('home');
  startBookings().catch((error) => console.warn('bookings', error));
  try {
    await connect({ onMessage: onServerMessage, onWelcome: rejoinAfterReload });
  } catch (error) {
    if (error.code !== 'unauthenticated') throw error;
    started = false;
    backToLogin(t('login.expired'));
  }
}

/** Hand a server message to the module it concerns. */
function onServerMessage(msg) {
  switch (msg.type) {
    case 'availability':
      applyAvailability(msg);
      renderSkills();
      break;
    case 'queue_overview':
      applyOverview(msg);
      break;
    case 'offer':
      showOffer(msg);
      break;
    case 'offer_withdrawn':
      offerWithdrawn(msg);
      break;
    case 'session_update':
      sessionUpdated(msg.session);
      followInterpreting(msg.session);
      renderDoccamShare(msg.session);
      break;
    case 'caption':
      receiveCaption(msg);
      break;
    case 'doccam_share_requested':
      doccamShareRequested(msg);
      break;
    case 'chat':
      receiveChat(msg);
      break;
    case 'session_ended':
      sessionEnded(msg.session_id);
      break;
    case 'error':
      console.warn('server error', msg);
      break;
    default:
      break;
  }
}
