// FCM web push, when the server is configured for it (FCM_WEB_* settings): Firebase's two compat scripts, served
// by Proxima, obtain a token for this browser, which the device API then stores. Without them, or if the resident
// declines notifications, the app refreshes an open report's timeline instead (see app.js).

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = reject;
    document.head.append(script);
  });
}

/** True when this browser will be told of changes by push. Asks for the notification permission once. */
export async function registerPush(registration, setPushToken) {
  const raw = document.body.dataset.fcm;
  if (!raw || !registration || !("Notification" in window) || !("PushManager" in window)) { return false; }
  const permission = Notification.permission === "default"
    ? await Notification.requestPermission() : Notification.permission;
  if (permission !== "granted") { return false; }
  try {
    const { vapidKey, ...firebaseConfig } = JSON.parse(raw);
    for (const src of document.body.dataset.firebaseScripts.split(" ")) { await loadScript(src); }
    const firebase = window.firebase;
    const app = firebase.apps.length ? firebase.app() : firebase.initializeApp(firebaseConfig);
    const token = await app.messaging().getToken({ vapidKey, serviceWorkerRegistration: registration });
    if (!token) { return false; }
    if (localStorage.getItem("proxima.push-token") !== token) {
      await setPushToken(token);
      localStorage.setItem("proxima.push-token", token);
    }
    return true;
  } catch (exc) {
    return false;  // push is a comfort: the timeline is refreshed while the app is open
  }
}
