// The document camera panel in the call: the live picture with the page's outline, what
// the booth tells the citizen about the paper (in the expert's language), Take picture,
// black and white, auto-capture, a still's progress and errors. The stills themselves
// are in gallery.js; the channel protocol in doccam.js.

import { announce, $ } from './dom.js';
import { DoccamReceiver } from './doccam.js';
import { addStill, clearStills, removeStill, renderGallery, wireGallery } from './gallery.js';
import { t } from './i18n.js';
import { closeViewer, renderViewer, wireViewer } from './page-viewer.js';

const FEEDBACK = new Set(['no_document', 'blur', 'glare', 'not_in_view', 'too_small', 'ok']);
const FAILED = new Set(['doccam_missing', 'doccam_busy', 'doccam_stalled', 'doccam_denied', 'no_frame']);
const CAPTURE_TIMEOUT_MS = 20_000;
const PROGRESS_SHOWN_MS = 4000; // how long "Picture 3 arrived" stays after the bar is full

let receiver = null;
let cameraId = null; // the document camera participant whose channel we listen to
const state = {
  autoCapture: true,
  bw: false,
  feedback: null,
  corners: null,
  progress: null, // {received, total, number} of the latest still, or null
  error: null, // {key, vars}
  capturing: null, // {requestId, timer} while a still the expert asked for is awaited
};
let progressTimer = null;

/** Listen to a document camera's data channel (a new one replaces the old). */
export function attachDoccamChannel(channel, participant = null) {
  if (receiver?.channel === channel) return;
  forget();
  cameraId = participant?.id ?? null;
  const active = new DoccamReceiver(channel);
  receiver = active;
  const on = (type, handler) => active.addEventListener(type, ({ detail }) => {
    if (receiver === active) handler(detail);
  });
  on('open', renderDoccam);
  on('close', () => { stopCapturing(); renderDoccam(); });
  on('hello', ({ hello }) => {
    state.autoCapture = hello.auto_capture !== false;
    state.bw = hello.bw === true;
    renderDoccam();
  });
  on('status', ({ status }) => {
    state.feedback = FEEDBACK.has(status.feedback) ? status.feedback : null;
    state.corners = validCorners(status.corners);
    renderFeedback();
  });
  on('progress', ({ received: got, total }) => {
    clearTimeout(progressTimer);
    if (got === 0) {
      state.error = null;
      state.progress = { received: 0, total, number: null };
    } else if (state.progress) {
      state.progress.received = got;
    }
    renderProgress();
    renderError();
  });
  // The page is shown as soon as it is in; the whole frame follows in the same still.
  on('page', ({ still }) => {
    const kept = addStill(still);
    if (state.progress) state.progress.number = kept.number;
    if (state.capturing && still.requestId === state.capturing.requestId) stopCapturing();
    renderDoccam();
  });
  on('still', ({ still }) => {
    const kept = addStill(still);
    if (state.progress) state.progress.number = kept.number;
    clearTimeout(progressTimer);
    progressTimer = setTimeout(() => { state.progress = null; renderProgress(); }, PROGRESS_SHOWN_MS);
    if (state.capturing && still.requestId === state.capturing.requestId) stopCapturing();
    renderDoccam();
    announce(t('doccam.received', { n: kept.number }));
  });
  on('dropped', ({ stillId, reason }) => {
    removeStill(stillId); // its page may be on show already
    state.progress = null;
    showDoccamError(`doccam.error.${reason}`);
  });
  on('failed', ({ requestId, code }) => {
    if (state.capturing && (requestId === null || requestId === state.capturing.requestId)) stopCapturing();
    showDoccamError(FAILED.has(code) ? `doccam.failed.${code}` : 'doccam.failed.other');
    renderControls();
  });
  renderDoccam();
}

/** Stop listening to the document camera (`participantId` left the call); the stills stay. */
export function detachDoccam(participantId = null) {
  if (participantId !== null && participantId !== cameraId) return;
  cameraId = null;
  forget();
  stopCapturing();
  state.feedback = null;
  state.corners = null;
  renderDoccam();
}

/** Stop listening to the current channel; a still it was bringing is lost, and said so. */
function forget() {
  const cut = receiver?.receiving;
  receiver?.close();
  receiver = null;
  if (cut) {
    state.progress = null;
    showDoccamError('doccam.error.interrupted');
  }
}

/** Forget everything of the call's document camera: channel, stills, messages. */
export function resetDoccam() {
  detachDoccam();
  closeViewer();
  clearStills();
  clearTimeout(progressTimer);
  Object.assign(state, { autoCapture: true, bw: false, progress: null, error: null });
  renderDoccam();
}

/** Show a plain error line in the panel (`key` from the catalogue). */
export function showDoccamError(key, vars = {}) {
  state.error = { key, vars };
  renderError();
}

function validCorners(corners) {
  if (!Array.isArray(corners) || corners.length !== 4) return null;
  const ok = corners.every((c) => Array.isArray(c) && c.length === 2
    && c.every((v) => Number.isFinite(v) && v >= -0.5 && v <= 1.5));
  return ok ? corners : null;
}

function stopCapturing() {
  if (state.capturing) clearTimeout(state.capturing.timer);
  state.capturing = null;
  renderControls();
}

/** Ask the document camera for a still now (a no-op while it is not in the call). */
export function takePicture() {
  if (!receiver?.open || state.capturing) return;
  const requestId = receiver.capture({ bw: state.bw });
  if (!requestId) return;
  state.error = null;
  renderError();
  const timer = setTimeout(() => {
    if (state.capturing?.requestId !== requestId) return;
    stopCapturing();
    showDoccamError('doccam.error.timeout');
  }, CAPTURE_TIMEOUT_MS);
  state.capturing = { requestId, timer };
  renderControls();
}

function toggle(name) {
  if (!receiver?.open) return;
  state[name] = !state[name];
  receiver.setOptions({ autoCapture: state.autoCapture, bw: state.bw });
  renderControls();
}

function renderControls() {
  const open = Boolean(receiver?.open);
  $('doccam-controls').hidden = !open;
  const capture = $('doccam-capture');
  capture.disabled = !open || Boolean(state.capturing);
  capture.setAttribute('aria-busy', String(Boolean(state.capturing)));
  $('doccam-capture-label').textContent = t(state.capturing ? 'doccam.capturing' : 'doccam.capture');
  $('doccam-bw').setAttribute('aria-pressed', String(state.bw));
  $('doccam-auto').setAttribute('aria-pressed', String(state.autoCapture));
}

function renderFeedback() {
  const line = $('doccam-feedback');
  const open = Boolean(receiver?.open);
  line.hidden = !open;
  line.dataset.feedback = state.feedback ?? '';
  line.textContent = state.feedback ? t(`doccam.feedback.${state.feedback}`) : t('doccam.feedback.waiting');
  const outline = $('doccam-outline');
  // An <svg> has no `hidden` property: the attribute itself.
  outline.toggleAttribute('hidden', !open || !state.corners);
  $('doccam-outline-shape').setAttribute('points', (state.corners ?? []).map(([x, y]) => `${x},${y}`).join(' '));
  outline.dataset.feedback = state.feedback ?? '';
}

function renderProgress() {
  const box = $('doccam-progress-box');
  const progress = state.progress;
  box.hidden = !progress;
  if (!progress) return;
  const pct = progress.total ? Math.floor((progress.received / progress.total) * 100) : 100;
  $('doccam-progress').value = pct;
  $('doccam-progress').dataset.received = String(progress.received);
  $('doccam-progress').dataset.total = String(progress.total);
  $('doccam-progress-text').textContent = progress.number
    ? t('doccam.progress_done', { n: progress.number })
    : t('doccam.progress', { pct });
}

function renderError() {
  const line = $('doccam-error');
  line.textContent = state.error ? t(state.error.key, state.error.vars) : '';
  line.hidden = !state.error;
}

/** Show the whole panel in the chosen language. */
export function renderDoccam() {
  renderControls();
  renderFeedback();
  renderProgress();
  renderError();
  renderGallery();
  renderViewer();
}

/** Wire the panel's controls, the gallery and the viewer. */
export function wireDoccam() {
  $('doccam-capture').addEventListener('click', takePicture);
  $('doccam-bw').addEventListener('click', () => toggle('bw'));
  $('doccam-auto').addEventListener('click', () => toggle('autoCapture'));
  wireGallery(showDoccamError);
  wireViewer();
  renderDoccam();
}
