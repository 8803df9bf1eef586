// Service worker of the residents' app, served at /sw.js (scope /). It keeps the app's shell so the app opens
// offline, and shows push notifications. Network first, so a deployment is picked up at once; the cache only
// answers when the network does not. Reports written offline wait in IndexedDB (outbox.js), not here.
const CACHE = "proxima-residents-v1";
const SHELL = [
  "/",
  "/manifest.webmanifest",
  "/static/residents/app.css",
  "/static/residents/app.js",
  "/static/residents/api.js",
  "/static/residents/i18n.js",
  "/static/residents/map.js",
  "/static/residents/outbox.js",
  "/static/residents/photos.js",
  "/static/residents/push.js",
  "/static/residents/icons/icon-192.png",
  "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css",
  "/static/vendor/leaflet/images/marker-icon.png",
  "/static/vendor/leaflet/images/marker-icon-2x.png",
  "/static/vendor/leaflet/images/marker-shadow.png",
];
// GET answers worth showing offline (the categories; commune outlines already seen). Never a device's reports:
// they carry its bearer token and are cached by the app itself.
const CACHED_API = ["/api/v1/categories", "/api/v1/communes"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
    .then(() => self.clients.claim()));
});

function cacheable(request, url) {
  if (request.method !== "GET" || url.origin !== self.location.origin) { return false; }
  if (request.mode === "navigate") { return url.pathname === "/"; }
  return url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest" ||
    CACHED_API.some((prefix) => url.pathname.startsWith(prefix));
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (!cacheable(event.request, url)) { return; }
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(event.request);
      if (response.ok) { cache.put(event.request, response.clone()); }
      return response;
    } catch (exc) {
      const cached = await cache.match(event.request, { ignoreSearch: event.request.mode === "navigate" });
      if (cached) { return cached; }
      throw exc;
    }
  })());
});

// FCM web push: {"notification": {...}, "data": {...}}. A sensitive report's message is data only, with a neutral
// text (service.followup.push_texts): nothing of it appears on the lock screen.
self.addEventListener("push", (event) => {
  let payload = {};
  try { payload = event.data ? event.data.json() : {}; } catch (exc) { payload = {}; }
  const data = payload.data || {};
  const note = payload.notification || {};
  const title = note.title || "Proxima";
  const body = note.body || data.text || "";
  const reference = data.reference || "";
  event.waitUntil(Promise.all([
    self.registration.showNotification(title, {
      body, tag: reference || undefined, icon: "/static/residents/icons/icon-192.png",
      data: { url: reference ? `/#/signalement/${encodeURIComponent(reference)}` : "/#/mes-signalements" },
    }),
    // An open app refreshes the report at once instead of waiting for its next look.
    self.clients.matchAll({ type: "window" }).then((windows) => windows.forEach(
      (client) => client.postMessage({ type: "report-changed", reference }))),
  ]));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
    const open = windows.find((client) => new URL(client.url).origin === self.location.origin);
    if (open) { return open.navigate(target).then((client) => (client || open).focus()); }
    return self.clients.openWindow(target);
  }));
});
