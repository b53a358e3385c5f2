// The expert's own camera and microphone, open from the accept to the end of the call.

import { describeMediaError, openLocalMedia } from '/client/media.js';
import { showMessage } from './dialog.js';
import { t } from './i18n.js';

let stream = null;

/** Return the open camera and microphone (null: none). */
export function localStream() {
  return stream;
}

/** Open the camera and microphone for a call with a site of `siteKind`. */
export async function openMedia(siteKind) {
  if (stream) return;
  try {
    stream = await openLocalMedia({ siteKind });
  } catch (error) {
    // The citizen still sees and hears nothing from us, but we can see them and chat.
    console.warn('camera or microphone', error);
    stream = null;
    setTimeout(() => showMessage(t('media.title'), t(`media.${describeMediaError(error)}`)), 0);
  }
}

/** Stop the camera and microphone. */
export function stopLocalMedia() {
  for (const track of stream?.getTracks() ?? []) track.stop();
  stream = null;
}
