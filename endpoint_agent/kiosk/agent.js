// The local endpoint agent's HTTP API (docs/booth.md). Only 127.0.0.1 answers it.

async function call(method, path, body) {
  const options = { method, cache: 'no-store', headers: {} };
  if (body !== undefined) {
    options.headers['content-type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
  return response.status === 204 ? null : response.json();
}

/** The site, the server and a fresh token: GET /api/kiosk. */
export function kioskConfig() {
  return call('GET', '/api/kiosk');
}

/** A fresh access token for the signaling connection. */
export async function freshToken() {
  const config = await kioskConfig();
  return { token: config.token, expires_at: config.expires_at };
}

/** Let the agent keep (or forget, with null) the resume token across page reloads. */
export function storeResumeToken(resumeToken) {
  return call('PUT', '/api/resume', { resume_token: resumeToken }).catch((error) => {
    console.warn('could not store the resume token', error);
  });
}

/** Tell the agent the page is alive (every 5 s); without it Chromium is relaunched. */
export function alive() {
  return call('POST', '/api/alive').catch(() => {});
}

/** Ask the agent to forget everything about this citizen. */
export function privacyReset() {
  return call('POST', '/api/reset');
}

/** Tell the agent which call the document camera joins (null: the call ended). */
export function setCall(sessionId) {
  return call('PUT', '/api/call', { session_id: sessionId });
}

/** The document camera's state, feedback and outline: GET /api/doccam. */
export function doccamStatus() {
  return call('GET', '/api/doccam');
}
