// The service worker: the site opens without a connection and shows the last status this
// device saw. Pages and the read API: network first, the stored copy when the network fails
// (the page is marked, and says how old it is). Static files: stored first (their names
// change with their content). Nothing personal is stored: only responses that say "public".
"use strict";
var VERSION = {{ version|safe }};
var PRECACHE = {{ precache|safe }};
var ICON = {{ icon|safe }};
var STATIC_CACHE = "static-" + VERSION;
var PAGES_CACHE = "pages-v1";
var MAX_PAGES = 60;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(STATIC_CACHE).then(function (cache) { return cache.addAll(PRECACHE); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf("static-") === 0 && name !== STATIC_CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
      .then(function () { return self.clients.matchAll({ type: "window" }); })
      .then(function (windows) {
        // The page that installed the worker loaded before it: store it now, so the very
        // first visit already opens offline.
        return Promise.all(windows.map(function (client) {
          var request = new Request(client.url);
          return fetch(request).then(function (response) { keep(request, response); })
            .catch(function () {});
        }));
      })
  );
});

function isPublic(response) {
  return response.ok && response.type === "basic" &&
    /(^|,)\s*public\b/.test(response.headers.get("Cache-Control") || "");
}

function keep(request, response) {
  if (!isPublic(response)) return;
  var copy = response.clone();
  caches.open(PAGES_CACHE).then(function (cache) {
    return cache.put(request, copy).then(function () { return cache.keys(); })
      .then(function (keys) {
        // The oldest pages go first past MAX_PAGES (keys come in insertion order).
        return Promise.all(keys.slice(0, Math.max(keys.length - MAX_PAGES, 0))
          .map(function (key) { return cache.delete(key); }));
      });
  });
}

// A stored page, marked so that its stylesheet and script say it is the copy of an earlier
// visit, with the time it was made.
function marked(response) {
  return response.text().then(function (text) {
    var headers = new Headers(response.headers);
    headers.delete("Content-Length");
    return new Response(text.replace("<html ", "<html data-offline "), {
      status: 200, statusText: "OK", headers: headers
    });
  });
}

function page(request) {
  // Past the browser's HTTP cache: pages allow stale-while-revalidate, which would answer
  // from it without a connection, unmarked, as if the copy were current.
  return fetch(new Request(request, { cache: "no-cache" })).then(function (response) {
    keep(request, response);
    return response;
  }).catch(function () {
    return caches.match(request, { ignoreVary: true }).then(function (stored) {
      if (stored) return marked(stored);
      return caches.match("/offline/").then(function (offline) {
        return offline || Response.error();
      });
    });
  });
}

function read(request) {
  return fetch(new Request(request, { cache: "no-cache" })).then(function (response) {
    keep(request, response);
    return response;
  }).catch(function () {
    return caches.match(request, { ignoreVary: true }).then(function (stored) {
      return stored || Response.error();
    });
  });
}

function asset(request) {
  return caches.match(request).then(function (stored) {
    return stored || fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(STATIC_CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    });
  });
}

// The page that installed the worker sends what it loaded before the worker was there (its
// reads and files), so that its offline copy draws the same chart and map.
self.addEventListener("message", function (event) {
  var urls = (event.data && event.data.store) || [];
  event.waitUntil(Promise.all(urls.map(function (href) {
    var url = new URL(href, self.location.origin);
    if (url.origin !== self.location.origin) return null;
    var request = new Request(url.href);
    if (url.pathname.indexOf("/static/") === 0) return asset(request).catch(function () {});
    if (url.pathname.indexOf("/api/v1/") === 0) return read(request).catch(function () {});
    return null;
  })));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(page(request));
  } else if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(asset(request));
  } else if (url.pathname.indexOf("/api/v1/") === 0) {
    event.respondWith(read(request));
  }
});

// Alerts (alerts/): a push carries {title, body, url, tag}.
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {}; }
  event.waitUntil(self.registration.showNotification(data.title || "Outage alert", {
    body: data.body || "",
    tag: data.tag,
    icon: ICON,
    data: { url: data.url || "/" }
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.openWindow(url));
});
