// The citizen API (/api/v1) as the app uses it: a device registered silently, its bearer token kept locally.
import { locale, t } from "./i18n.js";

const TOKEN_KEY = "proxima.device-token";
const BASE = "/api/v1";

/** An answer of the API that is not a success: its status and the API's own message (one JSON shape). */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || t("server_error"));
    this.status = status;
    this.body = body || {};
  }

  /** The field messages of a 422 ({"errors": {"json": {"location": {"lat": [...]}}}}), flattened. */
  fieldMessages() {
    const out = [];
    const walk = (value) => {
      if (Array.isArray(value)) { value.forEach((v) => (typeof v === "string" ? out.push(v) : walk(v))); }
      else if (value && typeof value === "object") { Object.values(value).forEach(walk); }
    };
    walk(this.body.errors);
    return out.filter((m) => m !== this.message);
  }
}

/** No answer at all (offline, server unreachable): the request may be retried as is. */
export class NetworkError extends Error {}

async function request(path, { method = "GET", body, headers = {}, auth = true } = {}) {
  const options = { method, headers: { Accept: "application/json", ...headers } };
  if (auth) { options.headers.Authorization = `Bearer ${await deviceToken()}`; }
  if (body instanceof FormData) { options.body = body; }
  else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(BASE + path, options);
  } catch (exc) {
    throw new NetworkError(String(exc));
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 401 && auth) {
    // The device was erased on the server (retention): register again on the next request.
    localStorage.removeItem(TOKEN_KEY);
  }
  if (!response.ok) {
    // A 5xx (or a gateway's HTML error page) is worth retrying later, like no answer at all.
    if (response.status >= 500 || data === null) { throw new NetworkError(`HTTP ${response.status}`); }
    throw new ApiError(response.status, data);
  }
  return { data, headers: response.headers, status: response.status };
}

let registering = null;

/** The device's bearer token, registering the device first (once, silently) if it has none. */
export async function deviceToken() {
  const known = localStorage.getItem(TOKEN_KEY);
  if (known) { return known; }
  registering = registering || request("/devices", { method: "POST", auth: false, body: { platform: "web", locale } })
    .then(({ data }) => {
      localStorage.setItem(TOKEN_KEY, data.token);
      return data.token;
    })
    .finally(() => { registering = null; });
  return registering;
}

export const api = {
  categories: () => request("/categories", { auth: false }).then((r) => r.data),
  coverage: (lat, lon, category) => request(
    `/coverage?${new URLSearchParams({ lat, lon, category })}`, { auth: false }).then((r) => r.data),
  communes: (bounds) => request(`/communes?${new URLSearchParams({
    west: bounds.getWest().toFixed(5), south: bounds.getSouth().toFixed(5),
    east: bounds.getEast().toFixed(5), north: bounds.getNorth().toFixed(5),
  })}`, { auth: false }).then((r) => r.data),
  /** POST /reports as multipart (the JSON in `report`, the photos as files), with its Idempotency-Key. */
  sendReport(body, photos, idempotencyKey) {
    const form = new FormData();
    form.append("report", JSON.stringify(body));
    photos.forEach((blob, i) => form.append("photos", blob, `photo-${i + 1}.jpg`));
    return request("/reports", { method: "POST", body: form, headers: { "Idempotency-Key": idempotencyKey } })
      .then((r) => r.data);
  },
  reports: () => request("/reports?page_size=100").then((r) => r.data),
  report: (reference) => request(`/reports/${encodeURIComponent(reference)}`).then((r) => r.data),
  reopen: (reference, reason) => request(`/reports/${encodeURIComponent(reference)}/reopen`,
    { method: "POST", body: reason ? { reason } : {} }).then((r) => r.data),
  feedback: (reference, body) => request(`/reports/${encodeURIComponent(reference)}/feedback`,
    { method: "POST", body }).then((r) => r.data),
  /** The report's thread with its unit: {items: [{author, unit, text, photos, created_at, read_at}], unread, open}. */
  messages: (reference) => request(`/reports/${encodeURIComponent(reference)}/messages`).then((r) => r.data),
  /** POST a message as multipart (the JSON in `message`, the photos as files), with its Idempotency-Key. */
  sendMessage(reference, text, photos, idempotencyKey) {
    const form = new FormData();
    form.append("message", JSON.stringify({ text }));
    photos.forEach((blob, i) => form.append("photos", blob, `photo-${i + 1}.jpg`));
    return request(`/reports/${encodeURIComponent(reference)}/messages`,
      { method: "POST", body: form, headers: { "Idempotency-Key": idempotencyKey } }).then((r) => r.data);
  },
  markMessagesRead: (reference) => request(`/reports/${encodeURIComponent(reference)}/messages/read`,
    { method: "POST", body: {} }).then((r) => r.data),
  setPushToken: (token) => request("/devices/me", { method: "PATCH", body: { fcm_token: token, locale } })
    .then((r) => r.data),
};
