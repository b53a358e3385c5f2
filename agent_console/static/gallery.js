// The call's stills from the document camera: kept in memory only (Blob URLs, revoked
// when the call ends), shown newest first with their trigger and time, chosen with
// checkboxes and downloaded together as one PDF.

import { $, element } from './dom.js';
import { timeOfDay } from './format.js';
import { t } from './i18n.js';
import { openViewer, refreshViewer } from './page-viewer.js';
import { embeddable, pdfFromJpegs } from './pdf.js';
import { download, rotatedJpeg } from './raster.js';

const stills = []; // oldest first
const selected = new Set(); // still ids
let numbered = 0; // the last still's number in this call
let busy = false; // a PDF is being made
let onError = (key) => console.error(key);

/** Return the call's stills, oldest first. */
export function allStills() {
  return stills;
}

/** Return the still with this id (undefined: none). */
export function stillById(id) {
  return stills.find((still) => still.id === id);
}

/** Return the part the expert reads: the corrected page, else the whole frame. */
export function mainPart(still) {
  return still.parts.page ?? still.parts.original;
}

/** Keep a received part in memory as a Blob with its URL. */
function keptPart(part) {
  const blob = new Blob([part.data], { type: part.mime });
  return {
    mime: part.mime, width: part.width, height: part.height, sha256: part.sha256, blob, url: URL.createObjectURL(blob),
  };
}

/** Tell whether every part of a still is in (the page comes first, the whole frame after). */
export function complete(still) {
  return Boolean(still.parts.original);
}

/** Keep a verified still, or its page ahead of the rest, from the receiver (doccam.js);
 * return the gallery's still. */
export function addStill(received) {
  const known = stillById(received.id);
  if (known) {
    const missing = Object.keys(received.parts).filter((name) => !known.parts[name]);
    for (const name of missing) known.parts[name] = keptPart(received.parts[name]);
    if (missing.length) {
      renderGallery();
      refreshViewer(known);
    }
    return known;
  }
  numbered += 1;
  const parts = {};
  for (const [name, part] of Object.entries(received.parts)) parts[name] = keptPart(part);
  const still = {
    id: received.id,
    number: numbered,
    trigger: received.trigger,
    capturedAt: received.capturedAt,
    requestId: received.requestId,
    parts,
    rotation: 0, // quarter turns chosen in the viewer, used by the downloads
  };
  stills.push(still);
  renderGallery();
  return still;
}

/** Forget one still (the rest of it never came, or failed its check). */
export function removeStill(id) {
  const at = stills.findIndex((still) => still.id === id);
  if (at < 0) return;
  for (const part of Object.values(stills[at].parts)) URL.revokeObjectURL(part.url);
  // Its number goes to the next still, so the numbers the expert sees stay 1, 2, 3…
  if (stills[at].number === numbered) numbered -= 1;
  stills.splice(at, 1);
  selected.delete(id);
  renderGallery();
}

/** Forget every still and free its memory (the call ended, or a new one starts). */
export function clearStills() {
  for (const still of stills) for (const part of Object.values(still.parts)) URL.revokeObjectURL(part.url);
  stills.length = 0;
  selected.clear();
  numbered = 0;
  renderGallery();
}

/** "2026-11-25" in the expert's time zone, for file names. */
export function fileDate(unixS) {
  const d = new Date(unixS * 1000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** The trigger and time of a still in words: "Automatic · 12:05". */
export function stillFacts(still) {
  return `${t(`doccam.trigger.${still.trigger}`)} · ${timeOfDay(still.capturedAt)}`;
}

const items = new Map(); // still id -> its <li>, kept so that focus stays on it

/** Make the gallery item of `still` (its texts are filled by fillItem). */
function makeItem(still) {
  const item = element('li', {
    className: 'still',
    attrs: {
      'data-testid': 'doccam-still',
      'data-still-id': still.id,
      'data-trigger': still.trigger,
      'data-number': String(still.number),
    },
  });
  if (still.parts.page) item.dataset.sha256Page = still.parts.page.sha256;
  const open = element('button', { className: 'still-open', attrs: { type: 'button' } });
  const frame = element('span', { className: 'still-frame' });
  frame.append(element('img', {
    className: 'still-thumb', attrs: { src: mainPart(still).url, alt: '', draggable: 'false' },
  }));
  const meta = element('span', { className: 'still-meta' });
  meta.append(
    element('span', { className: 'strong still-name' }),
    element('span', { className: 'small still-facts' }),
  );
  if (!still.parts.page) meta.append(element('span', { className: 'small muted still-no-page' }));
  meta.append(element('span', { className: 'small muted still-arriving' }));
  open.append(frame, meta);
  open.addEventListener('click', () => openViewer(still));

  const choose = element('label', { className: 'still-select' });
  const box = element('input', {
    attrs: { type: 'checkbox', 'data-testid': 'doccam-select', 'data-still-id': still.id },
  });
  box.addEventListener('change', () => {
    if (box.checked) selected.add(still.id);
    else selected.delete(still.id);
    renderPdfButton();
  });
  choose.append(box, element('span', { className: 'visually-hidden still-select-label' }));
  item.append(open, choose);
  return item;
}

/** Fill an item's texts in the chosen language, its turn and its check. */
function fillItem(item, still) {
  item.querySelector('.still-open').title = t('doccam.open_still', { n: still.number });
  item.querySelector('.still-name').textContent = t('doccam.still_name', { n: still.number });
  item.querySelector('.still-facts').textContent = stillFacts(still);
  item.dataset.complete = String(complete(still));
  if (still.parts.original) item.dataset.sha256Original = still.parts.original.sha256;
  const arriving = item.querySelector('.still-arriving');
  arriving.hidden = complete(still);
  arriving.textContent = complete(still) ? '' : t('doccam.arriving');
  const noPage = item.querySelector('.still-no-page');
  if (noPage) noPage.textContent = t('doccam.no_page_short');
  item.querySelector('.still-select-label').textContent = t('doccam.select_still', { n: still.number });
  item.querySelector('input').checked = selected.has(still.id);
  item.querySelector('.still-thumb').dataset.rotation = String(still.rotation);
}

/** Show a still's turn on its thumbnail (the viewer turned it). */
export function renderStill(still) {
  const item = items.get(still.id);
  if (item) fillItem(item, still);
}

/** Show the stills, newest first, their count and the PDF button, in the chosen language. */
export function renderGallery() {
  $('doccam-gallery-box').hidden = stills.length === 0;
  $('doccam-count').textContent = t('doccam.count', { n: stills.length });
  $('doccam-count').dataset.count = String(stills.length);
  for (const id of [...items.keys()]) if (!stillById(id)) items.delete(id);
  const list = $('doccam-gallery');
  const ordered = stills.slice().reverse().map((still) => {
    if (!items.has(still.id)) items.set(still.id, makeItem(still));
    const item = items.get(still.id);
    fillItem(item, still);
    return item;
  });
  // Only new stills are inserted; the others stay where they are (and keep the focus).
  ordered.forEach((item, index) => {
    if (list.children[index] !== item) list.insertBefore(item, list.children[index] ?? null);
  });
  while (list.children.length > ordered.length) list.lastElementChild.remove();
  renderPdfButton();
}

function renderPdfButton() {
  for (const id of [...selected]) if (!stillById(id)) selected.delete(id);
  const button = $('doccam-download-pdf');
  button.disabled = busy || selected.size === 0;
  $('doccam-pdf-label').textContent = selected.size
    ? t('doccam.download_pdf_n', { n: selected.size }) : t('doccam.download_pdf');
}

/** Return the JPEG bytes of a still's page for the PDF, turned as in the viewer. */
async function pdfPage(still) {
  const part = mainPart(still);
  if (part.mime === 'image/jpeg' && still.rotation === 0) {
    const bytes = new Uint8Array(await part.blob.arrayBuffer());
    if (embeddable(bytes)) return bytes;
  }
  return rotatedJpeg(part.blob, still.rotation);
}

/** Download the chosen stills, oldest first, as one PDF. */
async function downloadPdf() {
  const chosen = stills.filter((still) => selected.has(still.id));
  if (!chosen.length || busy) return;
  busy = true;
  renderPdfButton();
  try {
    const pages = [];
    for (const still of chosen) pages.push(await pdfPage(still));
    const numbers = chosen.map((still) => still.number).join('-');
    download(pdfFromJpegs(pages), `etapiste-${fileDate(chosen[0].capturedAt)}-page-${numbers}.pdf`);
  } catch (error) {
    console.error(error);
    onError('doccam.error.pdf');
  } finally {
    busy = false;
    renderPdfButton();
  }
}

/** Wire the PDF button; `reportError(key)` shows a failure in the panel. */
export function wireGallery(reportError) {
  onError = reportError;
  $('doccam-download-pdf').addEventListener('click', () => { downloadPdf(); });
}
