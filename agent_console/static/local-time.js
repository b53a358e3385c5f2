// Times of appointments in Finnish local time (Europe/Helsinki), whatever the computer's
// own time zone: the wall time the expert types becomes ISO 8601 with the offset that
// holds on that date (+02:00 in winter, +03:00 in summer), and a Unix time is shown as
// the wall time in Finland.

import { language } from './i18n.js';

export const ZONE = 'Europe/Helsinki';
const LOCALES = { fi: 'fi-FI', sv: 'sv-FI', en: 'en-GB' };
const DAY_MS = 24 * 3600 * 1000;

const partsFormat = new Intl.DateTimeFormat('en-GB', {
  timeZone: ZONE, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit',
});

/** The wall clock in Finland at `ms` (Unix milliseconds): {year, month, day, hour, minute, second}. */
function wallAt(ms) {
  const parts = {};
  for (const { type, value } of partsFormat.formatToParts(new Date(ms))) parts[type] = Number(value);
  return parts;
}

/** Finland's offset from UTC in minutes at the instant `ms`. */
function offsetAt(ms) {
  const p = wallAt(ms);
  return Math.round((Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - ms) / 60000);
}

const pad = (n) => String(n).padStart(2, '0');

/** "2026-12-01" for a Finnish wall date `days` from today. */
export function localDate(days = 0) {
  const today = wallAt(Date.now());
  const at = new Date(Date.UTC(today.year, today.month - 1, today.day) + days * DAY_MS);
  return `${at.getUTCFullYear()}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())}`;
}

/** ISO 8601 with the Finnish offset for a wall date "YYYY-MM-DD" and time "HH:MM". */
export function isoInFinland(date, time) {
  const [y, m, d] = date.split('-').map(Number);
  const [hh, mm] = time.split(':').map(Number);
  const wall = Date.UTC(y, m - 1, d, hh, mm);
  // The offset of the instant the wall time names: guess, then correct once (DST).
  let offset = offsetAt(wall - 120 * 60000);
  offset = offsetAt(wall - offset * 60000);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${date}T${pad(hh)}:${pad(mm)}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** The day of a Unix time in Finland, as "YYYY-MM-DD". */
function dayOf(unixS) {
  const p = wallAt(unixS * 1000);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

/** "10.00" / "10:00" for a Unix time, on the Finnish clock in the chosen language. */
export function clockTime(unixS) {
  return new Intl.DateTimeFormat(LOCALES[language()] ?? 'fi-FI', {
    timeZone: ZONE, hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).format(new Date(unixS * 1000));
}

/** The day of a Unix time in words: today, tomorrow, or "ke 2.12." in the chosen language. */
export function dayWords(unixS, todayText, tomorrowText) {
  const day = dayOf(unixS);
  if (day === localDate(0)) return todayText;
  if (day === localDate(1)) return tomorrowText;
  // The year only when it is not this one ("ma 14.6.2027").
  const year = day.slice(0, 4) === localDate(0).slice(0, 4) ? {} : { year: 'numeric' };
  return new Intl.DateTimeFormat(LOCALES[language()] ?? 'fi-FI', {
    timeZone: ZONE, weekday: 'short', day: 'numeric', month: 'numeric', ...year,
  }).format(new Date(unixS * 1000));
}
