// Plain words for durations, times and call quality.

import { t } from './i18n.js';

/** "0:07", "4:32", "1:02:05" for a number of seconds (null: "–"). */
export function clock(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '–';
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** "12.05" / "12:05" for a Unix time in seconds, in the expert's clock. */
export function timeOfDay(unixS) {
  const date = new Date(unixS * 1000);
  return t('format.time', {
    h: String(date.getHours()), mm: String(date.getMinutes()).padStart(2, '0'),
  });
}

/** Whole minutes to wait, at least 1, for "try again in N min". */
export function minutesUp(seconds) {
  return Math.max(1, Math.ceil((seconds ?? 60) / 60));
}

/**
 * The quality word for a browser_client Call quality sample: good, fair, poor, or bad
 * (nothing arrives); unknown before the first sample.
 */
export function qualityWord({ level, kbps }) {
  if (level === 'good') return 'good';
  if (level === 'weak') return 'fair';
  if (level === 'bad') return kbps === 0 || kbps === null ? 'bad' : 'poor';
  return 'unknown';
}

/** "Round trip 40 ms · loss 0.1 % · 1200 kbit/s · 25 frames/s" (parts that are known). */
export function qualityDetails({ rttMs, lossPct, kbps, fps }) {
  const parts = [];
  parts.push(rttMs === null || rttMs === undefined ? t('quality.rtt_unknown') : t('quality.rtt', { ms: rttMs }));
  parts.push(lossPct === null || lossPct === undefined
    ? t('quality.loss_unknown') : t('quality.loss', { pct: lossPct.toFixed(1) }));
  parts.push(kbps === null || kbps === undefined ? t('quality.kbps_unknown') : t('quality.kbps', { kbps }));
  parts.push(fps === null || fps === undefined ? t('quality.fps_unknown') : t('quality.fps', { fps: Math.round(fps) }));
  return parts.join(' · ');
}
