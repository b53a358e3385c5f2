// The booth's page at home: a citizen joins a booked appointment from their own browser
// with a one-time link https://host/guest/#<secret> (docs/protocol.md §5.6, docs/booth.md).
//
// The secret leaves the address bar as soon as this module runs, and is exchanged once
// (POST /auth/guest). What the exchange gives (the guest token, the appointment and its
// names) is kept in this tab's sessionStorage only, so that a reload resumes the wait or
// the call instead of spending the link again; nothing goes to localStorage or cookies.

const KEY = 'etapiste.guest';

/** Whether this page is the guest page (/guest/) rather than a booth's kiosk. */
export const GUEST = typeof location !== 'undefined' && /^\/guest(\/|$)/.test(location.pathname);

// Read the secret and take it out of the address (and so out of the history and of any
// screenshot or shared screen) at once, before anything else can happen.
const secret = (() => {
  if (!GUEST) return null;
  const fragment = location.hash.replace(/^#/, '');
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  return /^[A-Za-z0-9_-]{16,256}$/.test(fragment) ? fragment : null;
})();

/** The secret the page was opened with, or null (opened without one, or a reload). */
export function linkSecret() { return secret; }

/** What this tab knows of its appointment, or null. */
export function load() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    return stored && typeof stored === 'object' ? stored : null;
  } catch {
    return null;
  }
}

/** Change what this tab keeps (merged into it). */
export function save(changes) {
  const next = { ...(load() ?? {}), ...changes };
  try {
    sessionStorage.setItem(KEY, JSON.stringify(next));
  } catch (error) {
    console.warn('guest: sessionStorage', error);
  }
  return next;
}

/** SHA-256 of the secret, to know a reload of the same link without keeping the secret. */
export async function digest(text) {
  if (!globalThis.crypto?.subtle) return null;
  const bytes = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Error with the plain reason the page shows: used, network. */
function failure(code, message) {
  return Object.assign(new Error(message), { code });
}

/**
 * Exchange the link's secret for a guest token (once: the server forgets it after).
 * Resolves with what to keep; rejects with code `used` (404) or `network`.
 */
export async function exchange(link) {
  let response;
  try {
    response = await fetch('/auth/guest', {
      method: 'POST',
      cache: 'no-store',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ link }),
    });
  } catch (error) {
    throw failure('network', String(error));
  }
  if (response.status === 404 || response.status === 400) throw failure('used', `HTTP ${response.status}`);
  if (!response.ok) throw failure('network', `HTTP ${response.status}`);
  const answer = await response.json();
  // The citizen's clock may be off: judge the check-in window by the server's.
  const serverNow = Date.parse(response.headers.get('date') ?? '');
  const skewS = Number.isFinite(serverNow) ? (serverNow - Date.now()) / 1000 : 0;
  return {
    token: answer.token,
    expires_at: answer.expires_at,
    appointment: answer.appointment,
    names: answer.names ?? {},
    checkin_from: answer.checkin_from ?? answer.appointment.start - 15 * 60,
    skew_s: Math.abs(skewS) > 90 ? skewS : 0,
    link: await digest(link),
    resume_token: null,
    over: false,
  };
}

/** The server's time now, in Unix seconds (the tab's clock corrected by the skew seen). */
export function serverNow(stored = load()) {
  return Date.now() / 1000 + (stored?.skew_s ?? 0);
}

/** Where the appointment stands now: `early`, `open` or `over`. */
export function windowState(stored, now = serverNow(stored)) {
  if (now > stored.appointment.end) return 'over';
  if (now < stored.checkin_from) return 'early';
  return 'open';
}

const LOCALES = { fi: 'fi-FI', sv: 'sv-FI', en: 'en-GB' };

/** "torstai 26. marraskuuta 2026" in the citizen's own time zone. */
export function dateText(unixS, lang) {
  return new Intl.DateTimeFormat(LOCALES[lang] ?? lang, {
    weekday: 'long', day: 'numeric', month: 'long', year: 'numeric',
  }).format(new Date(unixS * 1000));
}

/** "14.05" (fi, sv) or "14:05" (en) in the citizen's own time zone. */
export function timeText(unixS, lang) {
  return new Intl.DateTimeFormat(LOCALES[lang] ?? lang, { hour: '2-digit', minute: '2-digit' })
    .format(new Date(unixS * 1000));
}

/** Whether two times fall on the same local day. */
export function sameDay(aS, bS) {
  return new Date(aS * 1000).toDateString() === new Date(bS * 1000).toDateString();
}
