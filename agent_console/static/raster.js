// Pictures through a canvas: a still's image turned by quarter turns and encoded again
// (PNG for a download, JPEG for a PDF page).

/** Return `degrees` as 0, 90, 180 or 270. */
export function quarterTurn(degrees) {
  return ((Math.round(degrees / 90) * 90) % 360 + 360) % 360;
}

/** Return a canvas with the image `blob` turned clockwise by `rotation` degrees. */
async function turned(blob, rotation) {
  const bitmap = await createImageBitmap(blob);
  try {
    const turn = quarterTurn(rotation);
    const sideways = turn === 90 || turn === 270;
    const width = sideways ? bitmap.height : bitmap.width;
    const height = sideways ? bitmap.width : bitmap.height;
    const canvas = typeof OffscreenCanvas === 'function'
      ? new OffscreenCanvas(width, height)
      : Object.assign(document.createElement('canvas'), { width, height });
    const context = canvas.getContext('2d');
    context.fillStyle = '#ffffff'; // JPEG has no transparency: white, like paper
    context.fillRect(0, 0, width, height);
    context.translate(width / 2, height / 2);
    context.rotate((turn * Math.PI) / 180);
    context.drawImage(bitmap, -bitmap.width / 2, -bitmap.height / 2);
    return canvas;
  } finally {
    bitmap.close();
  }
}

/** Encode a canvas (OffscreenCanvas or <canvas>) as `type`. */
function encode(canvas, type, quality) {
  if (typeof canvas.convertToBlob === 'function') return canvas.convertToBlob({ type, quality });
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error(`could not encode ${type}`))), type, quality);
  });
}

/** Return the image `blob` turned by `rotation` degrees as a PNG Blob. */
export async function rotatedPng(blob, rotation) {
  return encode(await turned(blob, rotation), 'image/png');
}

/** Return the image `blob` turned by `rotation` degrees as JPEG bytes (a Uint8Array). */
export async function rotatedJpeg(blob, rotation, quality = 0.92) {
  const jpeg = await encode(await turned(blob, rotation), 'image/jpeg', quality);
  return new Uint8Array(await jpeg.arrayBuffer());
}

/** Offer `blob` to the expert as a download named `filename`. */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The browser has taken the bytes once the click has been handled.
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}
