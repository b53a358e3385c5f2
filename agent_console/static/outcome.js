// Ending the call: the outcome dialog lists the configured outcomes; only the choice is
// recorded, for statistics.

import { callOver, callShown, currentCall } from './call-view.js';
import { request } from './connection.js';
import { guarded, openDialog } from './dialog.js';
import { $, element } from './dom.js';
import { outcomes } from './directory.js';
import { localized, t } from './i18n.js';

let ending = false; // a session_end is on its way

/** Make a button for each outcome, in the chosen language. */
export function renderOutcomes() {
  $('outcome-list').replaceChildren(...outcomes().map((outcome) => {
    const button = element('button', {
      className: 'secondary outcome', text: localized(outcome.name),
      attrs: { type: 'button', 'data-testid': `outcome-${outcome.id}`, 'data-outcome': outcome.id },
    });
    button.addEventListener('click', guarded(() => endCall(outcome.id)));
    return button;
  }));
}

/** Open the outcome dialog (in a call). */
export function openOutcomes() {
  if (!callShown()) return;
  $('outcome-error').textContent = '';
  openDialog($('outcome-dialog'));
}

/** Wire End call. */
export function wireOutcomes() {
  $('end-call').addEventListener('click', openOutcomes);
}

/** End the call with `outcome`. */
async function endCall(outcome) {
  const call = currentCall();
  if (!call || ending) return;
  ending = true;
  const sessionId = call.sessionId;
  try {
    await request({ type: 'session_end', session_id: sessionId, outcome });
  } catch (error) {
    console.warn('session_end', error);
    $('outcome-error').textContent = t('outcome.failed');
    return;
  } finally {
    ending = false;
  }
  // session_ended came before the ack and ended the Call; if not, end here.
  if (currentCall()?.sessionId === sessionId) callOver({ state: 'ended', reason: 'expert_ended', outcome });
}
