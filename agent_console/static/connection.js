// The signaling connection (/ws) and its "Reconnecting…" sign. Hello goes without a
// token: the server reads the login cookie.

import { Signaling } from '/client/signaling.js';
import { showMessage } from './dialog.js';
import { $ } from './dom.js';
import { t } from './i18n.js';

let signaling = null;

/** Return the signaling connection (null before the desk starts). */
export function connection() {
  return signaling;
}

/** Send `message` to the server and resolve with its reply. */
export function request(message) {
  return signaling.request(message);
}

function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

/** Connect, handing the server's messages and welcomes on; reject if the first connect fails. */
export async function connect({ onMessage, onWelcome }) {
  // getToken returns null: hello goes without a token, the cookie authenticates.
  signaling = new Signaling({ url: wsUrl(), getToken: async () => null });
  signaling.addEventListener('message', ({ detail }) => onMessage(detail));
  signaling.addEventListener('state', ({ detail }) => {
    $('connection').hidden = detail.state !== 'reconnecting';
    if (detail.state === 'closed' && detail.reason === 'replaced') {
      showMessage(t('replaced.title'), t('replaced.text'));
    }
  });
  signaling.addEventListener('welcome', ({ detail }) => onWelcome(detail.welcome));
  try {
    await signaling.connect();
  } catch (error) {
    console.warn('signaling', error);
    throw error;
  }
}
