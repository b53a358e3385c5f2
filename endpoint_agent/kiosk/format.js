// Plain words for waits and opening times.

import { t } from './i18n.js';

/** "Arvioitu odotus: noin 5 min" (long, for tiles) or "noin 5 min" (short, for figures). */
export function waitText(seconds, { short = false } = {}) {
  const prefix = short ? 'waitshort' : 'wait';
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return t(`${prefix}.unknown`);
  if (seconds <= 0) return t(`${prefix}.none`);
  if (seconds < 60) return t(`${prefix}.under_minute`);
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return t(`${prefix}.minutes`, { n: minutes });
  return t(`${prefix}.hours`, { h: Math.floor(minutes / 60), m: minutes % 60 });
}

function offsetMinutes(offset) {
  if (!offset || offset === 'Z') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(offset);
  if (!m) return 0;
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  return m[1] === '-' ? -minutes : minutes;
}

/**
 * "Avautuu tiistaina klo 9.00" for an ISO 8601 time with offset (the agency's own clock).
 * The wall-clock time is read from the string itself, so the booth's time zone never
 * shifts it; "today" and "tomorrow" are judged in the same offset.
 */
export function openingText(iso, now = Date.now()) {
  const m = iso && /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(iso);
  if (!m) return t('opening.unknown');
  const [, year, month, day, hour, minute, offset] = m;
  const local = new Date(now + offsetMinutes(offset) * 60000);
  const today = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate());
  const that = Date.UTC(Number(year), Number(month) - 1, Number(day));
  const days = Math.round((that - today) / 86400000);
  const time = t('format.time', { h: String(Number(hour)), mm: minute });
  if (days <= 0) return t('opening.today', { time });
  if (days === 1) return t('opening.tomorrow', { time });
  if (days < 7) {
    return t('opening.weekday', { weekday: t(`weekday.${new Date(that).getUTCDay()}`), time });
  }
  return t('opening.date', { date: t('format.date', { d: Number(day), m: Number(month) }), time });
}
