// The still viewer: the corrected page beside the whole frame, with zoom (buttons, wheel,
// + and -), pan (drag, arrow keys), quarter turns (button, R) and reset (button, 0); the
// page (as turned) downloads as PNG. A modal dialog: Escape closes it and the focus goes
// back to the still it was opened from (dialog.js).

import { closeDialog, openDialog } from './dialog.js';
import { $, element } from './dom.js';
import { fileDate, mainPart, renderStill, stillFacts } from './gallery.js';
import { t } from './i18n.js';
import { download, quarterTurn, rotatedPng } from './raster.js';

const ZOOM_STEP = 1.25;
const ZOOM_MIN = 1;
const ZOOM_MAX = 8;
const PAN_STEP = 48; // px per arrow key press

let still = null; // the still on show
const view = { zoom: 1, x: 0, y: 0 };
let drag = null; // {pointerId, x, y} while the image is dragged

/** The image that zooms and turns: the page, else the whole frame. */
function target() {
  return still?.parts.page ? $('doccam-viewer-page') : $('doccam-viewer-original');
}

/** Make the viewer's two images (once: the page has no <img> before the first picture). */
function makeImages() {
  if ($('doccam-viewer-page')) return;
  for (const name of ['page', 'original']) {
    const image = element('img', {
      attrs: { id: `doccam-viewer-${name}`, 'data-testid': `doccam-viewer-${name}`, alt: '', draggable: 'false' },
    });
    image.addEventListener('load', applyView);
    $(`doccam-viewer-${name}-box`).append(image);
  }
}

/** Show the still `shown` in the viewer. */
export function openViewer(shown) {
  makeImages();
  still = shown;
  resetView(false);
  const hasPage = Boolean(still.parts.page);
  $('doccam-viewer-page-pane').hidden = !hasPage;
  if (hasPage) $('doccam-viewer-page').src = still.parts.page.url;
  else $('doccam-viewer-page').removeAttribute('src');
  showOriginal();
  $('doccam-viewer-panes').dataset.layout = hasPage ? 'both' : 'original';
  $('doccam-viewer-note').hidden = hasPage;
  $('doccam-viewer-error').textContent = '';
  renderViewer();
  openDialog($('doccam-viewer'));
  applyView();
}

/** Show the whole frame beside the page, or leave its pane out until it has arrived. */
function showOriginal() {
  const original = still.parts.original;
  $('doccam-viewer-original-pane').hidden = !original;
  if (original) $('doccam-viewer-original').src = original.url;
  else $('doccam-viewer-original').removeAttribute('src');
}

/** The rest of a still arrived: show it if the viewer has that still open. */
export function refreshViewer(arrived) {
  if (still && still.id === arrived.id) showOriginal();
}

/** Close the viewer (the call ended). */
export function closeViewer() {
  closeDialog($('doccam-viewer'));
  still = null;
  $('doccam-viewer-page')?.removeAttribute('src');
  $('doccam-viewer-original')?.removeAttribute('src');
}

/** Show the viewer's texts in the chosen language. */
export function renderViewer() {
  if (!still) return;
  $('doccam-viewer-title').textContent = t('doccam.still_name', { n: still.number });
  $('doccam-viewer-facts').textContent = stillFacts(still);
  $('doccam-viewer-page').alt = t('doccam.viewer.page_alt', { n: still.number });
  $('doccam-viewer-original').alt = t('doccam.viewer.original_alt', { n: still.number });
  renderZoom();
}

function renderZoom() {
  $('doccam-zoom-in').title = t('doccam.viewer.zoom_in');
  $('doccam-zoom-out').title = t('doccam.viewer.zoom_out');
  $('doccam-viewer-zoom').textContent = t('doccam.viewer.zoom_level', { pct: Math.round(view.zoom * 100) });
  $('doccam-zoom-in').disabled = view.zoom >= ZOOM_MAX;
  $('doccam-zoom-out').disabled = view.zoom <= ZOOM_MIN;
}

/** Fit the image in its pane as turned, then zoom, pan and turn it. */
function applyView() {
  if (!still) return;
  const image = target();
  const other = image.id === 'doccam-viewer-page' ? $('doccam-viewer-original') : $('doccam-viewer-page');
  other.style.transform = '';
  other.classList.remove('zoomable');
  image.classList.add('zoomable');
  const pane = image.parentElement;
  const w = image.naturalWidth || mainPart(still).width || 1;
  const h = image.naturalHeight || mainPart(still).height || 1;
  const sideways = still.rotation === 90 || still.rotation === 270;
  const fit = Math.min(pane.clientWidth / (sideways ? h : w), pane.clientHeight / (sideways ? w : h)) || 1;
  image.style.transform = `translate(-50%, -50%) translate(${view.x}px, ${view.y}px) `
    + `rotate(${still.rotation}deg) scale(${fit * view.zoom})`;
  Object.assign(image.dataset, { zoom: String(view.zoom), rotation: String(still.rotation), panX: String(view.x), panY: String(view.y) });
  renderZoom();
}

function zoomBy(factor) {
  const zoom = Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, view.zoom * factor));
  // Keep the point in the middle of the pane where it was.
  view.x *= zoom / view.zoom;
  view.y *= zoom / view.zoom;
  view.zoom = zoom;
  if (zoom === ZOOM_MIN) { view.x = 0; view.y = 0; }
  applyView();
}

function panBy(dx, dy) {
  view.x += dx;
  view.y += dy;
  applyView();
}

function rotate() {
  still.rotation = quarterTurn(still.rotation + 90);
  view.x = 0;
  view.y = 0;
  applyView();
  renderStill(still); // the thumbnail turns too, and the PDF uses the turn
}

function resetView(apply = true) {
  view.zoom = 1;
  view.x = 0;
  view.y = 0;
  if (still && apply) {
    still.rotation = 0;
    renderStill(still);
  }
  if (apply) applyView();
}

async function downloadPng() {
  if (!still) return;
  const shown = still;
  try {
    const png = await rotatedPng(mainPart(shown).blob, shown.rotation);
    download(png, `etapiste-${fileDate(shown.capturedAt)}-page-${shown.number}.png`);
  } catch (error) {
    console.error(error);
    $('doccam-viewer-error').textContent = t('doccam.error.png');
  }
}

/** The viewer's keys: + and - zoom, arrows pan, R turns, 0 resets (Escape: the dialog). */
function onKey(event) {
  if (!still || event.altKey || event.ctrlKey || event.metaKey) return;
  const keys = {
    '+': () => zoomBy(ZOOM_STEP),
    '=': () => zoomBy(ZOOM_STEP),
    '-': () => zoomBy(1 / ZOOM_STEP),
    r: rotate,
    R: rotate,
    0: () => resetView(),
    ArrowLeft: () => panBy(PAN_STEP, 0),
    ArrowRight: () => panBy(-PAN_STEP, 0),
    ArrowUp: () => panBy(0, PAN_STEP),
    ArrowDown: () => panBy(0, -PAN_STEP),
  };
  const run = keys[event.key];
  if (!run) return;
  event.preventDefault();
  run();
}

/** Wire the viewer's buttons, keys, wheel and dragging. */
export function wireViewer() {
  $('doccam-zoom-in').addEventListener('click', () => zoomBy(ZOOM_STEP));
  $('doccam-zoom-out').addEventListener('click', () => zoomBy(1 / ZOOM_STEP));
  $('doccam-rotate').addEventListener('click', rotate);
  $('doccam-reset').addEventListener('click', () => resetView());
  $('doccam-download-png').addEventListener('click', () => { downloadPng(); });
  $('doccam-viewer-close').addEventListener('click', () => closeDialog($('doccam-viewer')));
  const dialog = $('doccam-viewer');
  dialog.addEventListener('keydown', onKey);
  dialog.addEventListener('close', () => { drag = null; });
  const panes = $('doccam-viewer-panes');
  // The wheel and dragging work on the pane of the image that zooms.
  const onTarget = (event) => Boolean(still) && target().parentElement.contains(event.target);
  panes.addEventListener('wheel', (event) => {
    if (!onTarget(event)) return;
    event.preventDefault();
    zoomBy(event.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP);
  }, { passive: false });
  panes.addEventListener('pointerdown', (event) => {
    if (!onTarget(event) || event.button !== 0) return;
    event.preventDefault();
    drag = { pointerId: event.pointerId, x: event.clientX, y: event.clientY };
    target().parentElement.setPointerCapture(event.pointerId);
  });
  panes.addEventListener('pointermove', (event) => {
    if (!drag || event.pointerId !== drag.pointerId) return;
    panBy(event.clientX - drag.x, event.clientY - drag.y);
    drag.x = event.clientX;
    drag.y = event.clientY;
  });
  for (const type of ['pointerup', 'pointercancel']) {
    panes.addEventListener(type, (event) => { if (drag?.pointerId === event.pointerId) drag = null; });
  }
  window.addEventListener('resize', applyView);
}
