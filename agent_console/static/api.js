// The console's REST API (/console/api): JSON both ways, the login's CSRF token on every
// request but GET. The login itself is an HttpOnly cookie that the page never sees.

let csrfToken = null;

/** Keep the CSRF token of the current login (in memory only). */
export function setCsrfToken(token) {
  csrfToken = token;
}

/** Call the console API; resolve with {status, data} (data: the JSON body or null). */
export async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  if (response.status !== 204) {
    try { data = await response.json(); } catch { data = null; }
  }
  return { status: response.status, data };
}

/** Fetch the signed-in staff member's appointments (§5.6), upcoming first; on a failure
 * say so in `errorBox` and resolve with null. */
export async function fetchAppointments(errorBox, sayFailed) {
  let reply;
  try {
    reply = await api('GET', '/console/api/appointments');
  } catch (failure) {
    console.warn('appointments', failure);
    reply = null;
  }
  if (reply?.status !== 200) {
    errorBox.textContent = sayFailed;
    return null;
  }
  errorBox.textContent = '';
  const now = Date.now() / 1000;
  return (reply.data.appointments ?? []).filter((a) => a.end >= now).sort((a, b) => a.start - b.start);
}
