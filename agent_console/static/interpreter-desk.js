// The interpreter's desk after sign-in: availability (in the top bar), the languages and
// kinds of interpreting of the account, the requests that ring, and each of the server's
// messages handed to the module it concerns. Same page, same sign-in as the expert's.

import { backToLogin, currentUser } from './auth.js';
import { applyAvailability, configureAvailability, renderAvailability } from './availability.js';
import { connect } from './connection.js';
import { $, element } from './dom.js';
import { loadDirectory, providerName } from './directory.js';
import { languageName, t, translate } from './i18n.js';
import {
  interpreterSessionEnded, interpreterSessionUpdated, rejoinInterpreterCall,
} from './interpreter-call.js';
import { startInterpreterBookings } from './interpreter-bookings.js';
import { addRequest, renderRequests, requestWithdrawn } from './requests.js';
import { show } from './screens.js';

let started = false;
let grant = null; // {languages, modalities, provider, hours?} from welcome.identity.grants

/** Start the desk for the signed-in interpreter (once). */
export async function startInterpreterDesk() {
  if (started) return;
  started = true;
  const user = currentUser();
  $('who-name').textContent = user.display_name || user.username;
  grant = user.grants?.interpreter ?? null;
  configureAvailability({ interpreter: true });
  $('brand-name').dataset.i18n = 'app.name_interpreter';
  translate($('brand-name').parentElement);
  await loadDirectory();
  renderInterpreterDesk();
  renderAvailability();
  show('interp-home');
  startInterpreterBookings().catch((error) => console.warn('bookings', error));
  try {
    await connect({ onMessage: onServerMessage, onWelcome });
  } catch (error) {
    if (error.code !== 'unauthenticated') throw error;
    started = false;
    backToLogin(t('login.expired'));
  }
}

/** Take a welcome: the account's scope as the directory has it now, and a call to rejoin. */
function onWelcome(welcome) {
  grant = welcome.identity?.grants?.interpreter ?? grant;
  renderInterpreterDesk();
  rejoinInterpreterCall(welcome);
}

/** Show the languages and kinds of interpreting, and the requests, in the chosen language. */
export function renderInterpreterDesk() {
  const languages = grant?.languages ?? [];
  const modalities = grant?.modalities ?? [];
  $('interp-languages').replaceChildren(...languages.map((code) =>
    element('li', { text: languageName(code), attrs: { 'data-testid': `interp-language-${code}` } })));
  $('interp-modalities').replaceChildren(...modalities.map((m) =>
    element('li', { text: t(`modality.${m}`), attrs: { 'data-testid': `interp-modality-${m}` } })));
  $('interp-provider').textContent = providerName(grant?.provider);
  $('interp-provider-row').hidden = !grant?.provider;
  renderRequests();
}

/** Hand a server message to the module it concerns. */
function onServerMessage(msg) {
  switch (msg.type) {
    case 'availability':
      applyAvailability(msg);
      break;
    case 'interpreter_offer':
      addRequest(msg);
      break;
    case 'interpreter_offer_withdrawn':
      requestWithdrawn(msg);
      break;
    case 'session_update':
      interpreterSessionUpdated(msg.session);
      break;
    case 'session_ended':
      interpreterSessionEnded(msg);
      break;
    case 'error':
      console.warn('server error', msg);
      break;
    default:
      break;
  }
}
