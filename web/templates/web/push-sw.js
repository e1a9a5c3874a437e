// The demo's service worker: shows a Web Push from the server as a system notification (the
// payload: docs/CONTRACT.md, "Web Push") and brings the demo forward when it is clicked.
// Served at /push-sw.js, not under /static/, so that its scope is the whole site.

const ICON = "/static/web/favicon.svg";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function pushed(event) {
  if (!event.data) return {};
  try {
    const data = event.data.json();
    return data && typeof data === "object" ? data : {};
  } catch {
    return { body: event.data.text() };
  }
}

self.addEventListener("push", (event) => {
  const data = pushed(event);
  const shown = self.registration.showNotification(data.title || "NUMENEON", {
    body: typeof data.body === "string" ? data.body : "",
    // A newer notification with the same tag (one conversation) replaces the older one.
    tag: data.tag || "numeneon",
    renotify: true, // and still announces itself: a second message is news too
    icon: ICON,
    data: { url: typeof data.url === "string" ? data.url : "/", type: data.type, id: data.id },
  });
  event.waitUntil(Promise.all([shown, setBadge(data.unreadCount)]));
});

/** The app icon's badge (where the browser has one): the unread count the server sent. */
async function setBadge(count) {
  if (!("setAppBadge" in self.navigator) || !Number.isInteger(count)) return;
  try {
    if (count > 0) await self.navigator.setAppBadge(count);
    else await self.navigator.clearAppBadge();
  } catch {
    // No badge where it is not allowed (an uninstalled page): the notification still shows.
  }
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data?.url ?? "/";
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const demo = windows.find((client) => new URL(client.url).pathname === "/");
      if (demo) {
        // The open demo shows what the notification was about (demo.js reads this message).
        demo.postMessage({ type: "notification-click", url });
        return demo.focus();
      }
      // The url is one of the web app's paths; the demo, a single page, reads it after "#".
      return self.clients.openWindow(`/#${url.startsWith("/") ? url : "/"}`);
    })(),
  );
});
