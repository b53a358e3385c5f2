// Showing the booth's document camera to the call's interpreters (sight translation): the
// toggle in the interpreter card, and the prompt when an interpreter asks for it
// (doccam_share_requested; docs/protocol.md §4.5, §5.3). The expert decides.

import { currentCall, currentSession } from './call-view.js';
import { request } from './connection.js';
import { closeDialog, guarded, openDialog } from './dialog.js';
import { $, announce } from './dom.js';
import { t } from './i18n.js';

/** Tell whether an interpreter is in the call. */
function interpreterPresent() {
  return (currentSession()?.participants ?? []).some((p) => p.kind === 'interpreter');
}

/** Show the toggle: pressed while the document camera is shown to interpreters. */
export function renderDoccamShare(session = currentSession()) {
  const toggle = $('doccam-share');
  const shared = Boolean(session?.doccam_shared);
  toggle.hidden = !currentCall() || !(session?.participants ?? []).some((p) => p.kind === 'interpreter');
  toggle.setAttribute('aria-pressed', String(shared));
}

/** Show or stop showing the document camera to the interpreters. */
async function share(shared) {
  const call = currentCall();
  if (!call) return;
  try {
    await request({ type: 'doccam_share', session_id: call.sessionId, shared });
  } catch (error) {
    console.warn('doccam_share', error);
    announce(t('doccam_share.failed'));
    return;
  }
  $('doccam-share').setAttribute('aria-pressed', String(shared));
  announce(t(shared ? 'doccam_share.shown' : 'doccam_share.hidden'));
}

/** Take the server's doccam_share_requested: ask the expert plainly. */
export function doccamShareRequested(msg) {
  const call = currentCall();
  if (!call || msg.session_id !== call.sessionId || !interpreterPresent()) return;
  if (currentSession()?.doccam_shared) return; // already shown
  if (document.querySelector('dialog[open]') && !$('doccam-share-dialog').open) {
    // Another dialog is in use: do not take the focus from it; the toggle is there.
    announce(t('doccam_share.asked'));
    return;
  }
  openDialog($('doccam-share-dialog'));
  announce(t('doccam_share.asked'));
}

/** Wire the toggle and the prompt's buttons. */
export function wireDoccamShare() {
  $('doccam-share').addEventListener('click', guarded(() => share($('doccam-share').getAttribute('aria-pressed') !== 'true')));
  $('doccam-share-yes').addEventListener('click', guarded(async () => {
    closeDialog($('doccam-share-dialog'));
    await share(true);
  }));
}
