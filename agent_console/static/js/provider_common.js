// Shared by the provider portal's pages: its own messages, dates, the phone's position, photos.
import { api, config, toast } from "/static/js/common.js";

const messages = JSON.parse(document.getElementById("provider-i18n").textContent);

export function pt(key, values = {}) {
  let text = messages[key] ?? key;
  for (const [k, v] of Object.entries(values)) text = text.replaceAll(`{${k}}`, v);
  return text;
}

export { monthDayTime as when } from "/static/js/common.js";

// The phone's position: a one-off fix, high accuracy, not older than a minute.
export function position() {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) { reject(new Error("geolocation unavailable")); return; }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ latitude: p.coords.latitude, longitude: p.coords.longitude, accuracy: p.coords.accuracy }),
      (err) => reject(new Error(err.message || String(err.code))),
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 },
    );
  });
}

// Phone cameras take large pictures: send at most 1600 px on the long side as JPEG.
async function shrink(file) {
  if (!window.createImageBitmap || file.type === "image/png") return file;
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
    if (scale === 1 && file.size < 1_500_000) return file;
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return await new Promise((resolve) => canvas.toBlob((b) => resolve(b || file), "image/jpeg", 0.85));
  } catch {
    return file;
  }
}

export async function uploadPhoto(orderId, fileOrBlob, kind, where = {}) {
  const form = new FormData();
  form.append("photo", kind === "signature" ? fileOrBlob : await shrink(fileOrBlob), `${kind}.jpg`);
  form.append("kind", kind);
  if (where.latitude !== undefined) { form.append("latitude", where.latitude); form.append("longitude", where.longitude); }
  const response = await fetch(`/api/provider/orders/${orderId}/photos`, {
    method: "POST", body: form, headers: { "X-CSRF-Token": config.csrf, Accept: "application/json" },
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) { const err = new Error(data.message || String(response.status)); err.code = data.code; throw err; }
  return data.photo_id;
}

export { api, toast };
