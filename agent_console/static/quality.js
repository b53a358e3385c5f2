// The call's connection quality in a word, with its details (round trip, loss, bitrate,
// frame rate) for hover, focus and screen readers.

import { $, setIcon } from './dom.js';
import { qualityDetails, qualityWord } from './format.js';
import { t } from './i18n.js';

const ICON = { good: 'signal-good', fair: 'signal-weak', poor: 'signal-bad', bad: 'signal-bad' };

let sample = null; // the Call's last quality sample of the booth

/** Show a new quality sample of the booth's connection (null: not measured yet). */
export function setQuality(value) {
  sample = value;
  renderQuality();
}

/** Show the quality in the chosen language. */
export function renderQuality() {
  const shown = sample ?? { level: 'unknown', rttMs: null, lossPct: null, kbps: null, fps: null };
  const word = qualityWord(shown);
  const el = $('quality');
  el.dataset.level = word;
  setIcon('quality-icon', ICON[word] ?? 'signal-unknown');
  $('quality-text').textContent = t(`quality.${word}`);
  const details = sample ? qualityDetails(shown) : t('quality.measuring');
  el.title = details;
  $('quality-details').textContent = details;
}
