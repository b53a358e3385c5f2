// A small PDF writer for the document camera's pages: one A4 page per JPEG image, the
// JPEG bytes embedded as they are (an image XObject with /DCTDecode), so nothing is
// decoded or re-compressed here. Rotation and PNG pages are handled by the caller, which
// re-encodes them to JPEG through a canvas (raster.js).

const A4 = { short: 595.28, long: 841.89 }; // points
const MARGIN = 28; // points, about 1 cm

/** Raised when bytes are not a JPEG this writer can embed. */
export class UnsupportedJpegError extends Error {}

/**
 * Return {width, height, components} from a JPEG's frame header (SOFn).
 * Throws UnsupportedJpegError when the bytes are not a JPEG or have no frame header.
 */
export function jpegInfo(bytes) {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    throw new UnsupportedJpegError('not a JPEG: no SOI marker');
  }
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw new UnsupportedJpegError(`not a JPEG: no marker at byte ${at}`);
    const marker = bytes[at + 1];
    if (marker === 0xff) { at += 1; continue; } // fill byte
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { at += 2; continue; }
    const length = (bytes[at + 2] << 8) | bytes[at + 3];
    // Frame headers: SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      if (at + 9 >= bytes.length) break;
      return {
        height: (bytes[at + 5] << 8) | bytes[at + 6],
        width: (bytes[at + 7] << 8) | bytes[at + 8],
        components: bytes[at + 9],
      };
    }
    if (marker === 0xda || marker === 0xd9) break; // scan data or end before a frame header
    at += 2 + length;
  }
  throw new UnsupportedJpegError('not a JPEG: no frame header');
}

const COLOR_SPACES = { 1: '/DeviceGray', 3: '/DeviceRGB' };

/** Tell whether `bytes` are a JPEG this writer embeds as it is (grey or RGB). */
export function embeddable(bytes) {
  try {
    return Boolean(COLOR_SPACES[jpegInfo(bytes).components]);
  } catch (error) {
    if (error instanceof UnsupportedJpegError) return false;
    throw error;
  }
}

/** Return a number as PDF writes it (at most two decimals). */
function num(value) {
  return String(Math.round(value * 100) / 100);
}

/** Return the A4 page (portrait or landscape, as the image) and where the image goes. */
export function placeOnA4(width, height) {
  const landscape = width > height;
  const pageW = landscape ? A4.long : A4.short;
  const pageH = landscape ? A4.short : A4.long;
  const scale = Math.min((pageW - 2 * MARGIN) / width, (pageH - 2 * MARGIN) / height);
  const w = width * scale;
  const h = height * scale;
  return { pageW, pageH, x: (pageW - w) / 2, y: (pageH - h) / 2, w, h };
}

/**
 * Return a PDF (a Blob) with one A4 page per JPEG in `jpegs` (Uint8Arrays, grey or RGB),
 * in order.
 */
export function pdfFromJpegs(jpegs) {
  if (!jpegs.length) throw new RangeError('a PDF needs at least one page');
  const encoder = new TextEncoder();
  const chunks = [];
  const offsets = [];
  let length = 0;
  const put = (data) => {
    const bytes = typeof data === 'string' ? encoder.encode(data) : data;
    chunks.push(bytes);
    length += bytes.length;
  };
  const object = (number, dictionary, stream = null) => {
    offsets[number] = length;
    put(`${number} 0 obj\n${dictionary}\n`);
    if (stream) {
      put('stream\n');
      put(stream);
      put('\nendstream\n');
    }
    put('endobj\n');
  };

  // The header, and a comment with bytes above 127 so that tools treat the file as binary.
  put('%PDF-1.4\n');
  put(new Uint8Array([0x25, 0xe2, 0xe3, 0xcf, 0xd3, 0x0a]));
  const pageRefs = jpegs.map((_, i) => `${3 + 3 * i} 0 R`);
  object(1, '<< /Type /Catalog /Pages 2 0 R >>');
  object(2, `<< /Type /Pages /Kids [${pageRefs.join(' ')}] /Count ${jpegs.length} >>`);
  jpegs.forEach((jpeg, i) => {
    const info = jpegInfo(jpeg);
    const colorSpace = COLOR_SPACES[info.components];
    if (!colorSpace) throw new UnsupportedJpegError(`a JPEG with ${info.components} components`);
    const [pageNo, contentNo, imageNo] = [3 + 3 * i, 4 + 3 * i, 5 + 3 * i];
    const at = placeOnA4(info.width, info.height);
    object(pageNo, `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${num(at.pageW)} ${num(at.pageH)}] `
      + `/Resources << /XObject << /Im${i} ${imageNo} 0 R >> >> /Contents ${contentNo} 0 R >>`);
    const content = encoder.encode(`q ${num(at.w)} 0 0 ${num(at.h)} ${num(at.x)} ${num(at.y)} cm /Im${i} Do Q`);
    object(contentNo, `<< /Length ${content.length} >>`, content);
    object(imageNo, `<< /Type /XObject /Subtype /Image /Width ${info.width} /Height ${info.height} `
      + `/ColorSpace ${colorSpace} /BitsPerComponent 8 /Filter /DCTDecode /Length ${jpeg.length} >>`, jpeg);
  });

  const count = 2 + 3 * jpegs.length;
  const xref = length;
  // Each cross-reference entry is exactly 20 bytes: 10 digits, 5 digits, a flag, CR-less EOL.
  let table = `xref\n0 ${count + 1}\n0000000000 65535 f \n`;
  for (let n = 1; n <= count; n += 1) table += `${String(offsets[n]).padStart(10, '0')} 00000 n \n`;
  put(table);
  put(`trailer\n<< /Size ${count + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`);
  return new Blob(chunks, { type: 'application/pdf' });
}
