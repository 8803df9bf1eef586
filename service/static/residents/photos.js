// Photos prepared in the browser before upload: turned upright, reduced, and re-encoded from their pixels alone, so
// that no metadata (EXIF position, device, date) ever leaves the phone.
export const MAX_PHOTOS = 3;
const MAX_SIDE = 1600;
const QUALITY = 0.85;

/** A JPEG Blob holding only the pixels of `file`, its longer side at most MAX_SIDE. */
export async function preparePhoto(file) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff";  // a transparent PNG becomes white, not black, in a JPEG
  context.fillRect(0, 0, width, height);
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error("encoding failed"))), "image/jpeg", QUALITY));
}
