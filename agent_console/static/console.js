// The expert console: log in, say when you are available, answer calls, serve the citizen.
// An interpreter's account gets the interpreter desk on the same page (interpreter-desk.js),
// a supervisor's or an admin's the wallboard, history and fleet (supervisor.js).
//
// This module wires the others together: the page's controls, the language switch, the
// clock that ticks every second, the start, and the diagnostics. The login is an HttpOnly
// cookie the page never sees; the WebSocket says hello without a token and the server
// reads the cookie (docs/console.md). Everything the server or a person wrote is shown
// with textContent, never as markup. Nothing about the citizen is kept: the chat lives in
// the page only while the call lasts.

import { currentUser, restoreLogin, showLogin, wireLogin } from './auth.js';
import { currentAvailability, renderAvailability, tickWrapUp, wireAvailability } from './availability.js';
import { renderBell, ring, wireBell } from './bell.js';
import { renderBookings, wireBookings } from './bookings.js';
import { currentCall, renderCall, tickCall, wireCallControls } from './call-view.js';
import { wireCaptionWriter } from './caption-writer.js';
import { wireChat } from './chat.js';
import { connection } from './connection.js';
import { startDesk } from './desk.js';
import { reportFailure, wireDialogs } from './dialog.js';
import { renderDoccamShare, wireDoccamShare } from './doccam-share.js';
import { UI_LANGUAGES, initialLanguage, language, loadCatalogs, setLanguage } from './i18n.js';
import { interpreterCall, renderInterpreterCall, tickInterpreterCall, wireInterpreterCall } from './interpreter-call.js';
import { renderInterpreterBookings, wireInterpreterBookings } from './interpreter-bookings.js';
import { renderInterpreterDesk, startInterpreterDesk } from './interpreter-desk.js';
import { renderInterpreter, tickInterpreter, wireInterpreter } from './interpreter.js';
import { renderNotice } from './notice.js';
import { currentOfferId, renderOffer, tickOffer, wireOffer } from './offer.js';
import { renderOutcomes, wireOutcomes } from './outcome.js';
import { renderOverview, tickOverview } from './queues.js';
import { ringingRequests, tickRequests } from './requests.js';
import { currentScreen } from './screens.js';
import { renderShortcuts, wireShortcuts } from './shortcuts.js';
import { renderSkills } from './skills.js';
import {
  isSupervisorAccount, renderSupervisor, startSupervisorDesk, supervisorView, tickSupervisor,
} from './supervisor.js';
import { renderTransfer, wireTransfer } from './transfer.js';

const TICK_MS = 1000;

/** Switch the page to `lang` (remembered if the expert chose it). */
function applyLanguage(lang, remember) {
  setLanguage(lang, { remember });
  for (const button of document.querySelectorAll('[data-lang]')) {
    button.setAttribute('aria-pressed', String(button.dataset.lang === language()));
  }
  renderShortcuts();
  renderBell();
  if (!currentUser()) return;
  renderAvailability();
  renderSkills();
  renderOverview();
  renderNotice();
  renderOutcomes();
  renderOffer();
  renderCall();
  renderTransfer();
  renderInterpreter();
  renderDoccamShare();
  renderInterpreterDesk();
  renderInterpreterCall();
  renderBookings();
  renderInterpreterBookings();
  renderSupervisor();
}

/** Return the desk of the signed-in account: an interpreter's, unless it is an expert's too. */
function isInterpreterDesk() {
  const roles = currentUser()?.roles ?? [];
  return roles.includes('interpreter') && !roles.includes('expert');
}

/** Name the desk of the signed-in account (null before sign-in). */
function deskName() {
  if (!currentUser()) return null;
  if (isSupervisorAccount(currentUser())) return 'supervisor';
  return isInterpreterDesk() ? 'interpreter' : 'expert';
}

/** Start the desk the signed-in account has. */
async function start() {
  if (isSupervisorAccount(currentUser())) await startSupervisorDesk();
  else if (isInterpreterDesk()) await startInterpreterDesk();
  else await startDesk(); // it refuses an account that is neither
}

/** Move every clock on the page on by a second. */
function tick() {
  tickOverview();
  tickOffer();
  tickCall();
  tickInterpreter();
  tickRequests();
  tickInterpreterCall();
  tickSupervisor();
  if (tickWrapUp()) renderSkills();
}

/** Wire every control of the page. */
function wire() {
  wireLogin(start);
  wireAvailability();
  wireBell();
  for (const button of document.querySelectorAll('[data-lang]')) {
    button.addEventListener('click', () => applyLanguage(button.dataset.lang, true));
  }
  wireOffer();
  wireCallControls();
  wireOutcomes();
  wireChat();
  wireTransfer();
  wireInterpreter();
  wireDoccamShare();
  wireInterpreterCall();
  wireCaptionWriter();
  wireBookings();
  wireInterpreterBookings();
  wireDialogs();
  wireShortcuts();
  setInterval(tick, TICK_MS);
}

/** Load the catalogues, wire the page and go to the desk or the sign-in screen. */
async function boot() {
  try {
    await loadCatalogs();
  } catch (error) {
    console.error(error);
    setTimeout(() => location.reload(), 5000);
    return;
  }
  wire();
  applyLanguage(initialLanguage(), false);
  if (await restoreLogin()) await start();
  else showLogin();
  document.body.dataset.ready = 'true';
}

/** Technical state for tests and support staff: no names, no chat, no notes. */
window.consoleDiagnostics = () => {
  const active = currentCall() ?? interpreterCall();
  return {
    desk: deskName(),
    view: supervisorView(),
    screen: currentScreen(),
    signaling: connection()?.state ?? null,
    availability: currentAvailability().status,
    reason: currentAvailability().reason,
    ringing: ring.ringing,
    ringMuted: ring.muted,
    chimes: ring.chimes,
    offer: currentOfferId(),
    requests: ringingRequests(),
    call: active ? { session: active.sessionId, state: active.session?.state ?? null } : null,
    peers: Object.fromEntries([...(active?.peerConnections ?? new Map())].map(([id, pc]) => [
      id, { connection: pc.connectionState, ice: pc.iceConnectionState, kind: active.participants.get(id)?.kind ?? null },
    ])),
    languages: UI_LANGUAGES,
  };
};

window.addEventListener('unhandledrejection', (event) => console.error('unhandled', event.reason));
boot().catch(reportFailure);
