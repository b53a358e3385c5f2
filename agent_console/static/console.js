// The expert console: log in, say when you are available, answer calls, serve the citizen.
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
import { currentCall, currentSession, renderCall, tickCall, wireCallControls } from './call-view.js';
import { wireChat } from './chat.js';
import { connection } from './connection.js';
import { startDesk } from './desk.js';
import { reportFailure, wireDialogs } from './dialog.js';
import { UI_LANGUAGES, initialLanguage, language, loadCatalogs, setLanguage } from './i18n.js';
import { renderInterpreter, wireInterpreter } from './interpreter.js';
import { renderNotice } from './notice.js';
import { currentOfferId, renderOffer, tickOffer, wireOffer } from './offer.js';
import { renderOutcomes, wireOutcomes } from './outcome.js';
import { renderOverview, tickOverview } from './queues.js';
import { currentScreen } from './screens.js';
import { renderShortcuts, wireShortcuts } from './shortcuts.js';
import { renderSkills } from './skills.js';
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
}

/** Move every clock on the page on by a second. */
function tick() {
  tickOverview();
  tickOffer();
  tickCall();
  if (tickWrapUp()) renderSkills();
}

/** Wire every control of the page. */
function wire() {
  wireLogin(startDesk);
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
  if (await restoreLogin()) await startDesk();
  else showLogin();
  document.body.dataset.ready = 'true';
}

/** Technical state for tests and support staff: no names, no chat, no notes. */
window.consoleDiagnostics = () => ({
  screen: currentScreen(),
  signaling: connection()?.state ?? null,
  availability: currentAvailability().status,
  reason: currentAvailability().reason,
  ringing: ring.ringing,
  ringMuted: ring.muted,
  chimes: ring.chimes,
  offer: currentOfferId(),
  call: currentCall() ? { session: currentCall().sessionId, state: currentSession()?.state ?? null } : null,
  peers: Object.fromEntries([...(currentCall()?.peerConnections ?? new Map())].map(([id, pc]) => [
    id, { connection: pc.connectionState, ice: pc.iceConnectionState },
  ])),
  languages: UI_LANGUAGES,
});

window.addEventListener('unhandledrejection', (event) => console.error('unhandled', event.reason));
boot().catch(reportFailure);
