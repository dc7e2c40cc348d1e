// Every page: registers the service worker (the site installs and opens offline), dates the
// offline copy's note, and lists the stored pages on the offline page.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  var uncontrolled = !navigator.serviceWorker.controller;
  navigator.serviceWorker.register("/sw.js").catch(function () {
    // No worker (a private window, storage refused): the site works as before.
  });
  if (uncontrolled) {
    // The first visit loaded before the worker: once it takes over, hand it what this page
    // read, so the stored copy is complete.
    navigator.serviceWorker.addEventListener("controllerchange", function () {
      var worker = navigator.serviceWorker.controller;
      function send(entries) {
        var urls = entries.map(function (entry) { return entry.name; });
        if (urls.length) worker.postMessage({ store: urls });
      }
      send(performance.getEntriesByType("resource"));
      // A read still in flight when the worker took over finishes outside it, after the list
      // above was sent: hand those over as they complete (for the next half minute).
      if (window.PerformanceObserver) {
        var observer = new PerformanceObserver(function (list) { send(list.getEntries()); });
        observer.observe({ type: "resource" });
        setTimeout(function () { observer.disconnect(); }, 30000);
      }
    });
  }

  var root = document.documentElement;
  var time = document.querySelector("[data-offline-time]");
  if (root.hasAttribute("data-offline") && time) {
    // The note says the time the page was made; a copy from another day says the day too,
    // in the reader's own words for dates.
    var made = new Date(time.getAttribute("datetime"));
    if (!isNaN(made) && made.toDateString() !== new Date().toDateString()) {
      time.textContent = made.toLocaleString(root.lang || undefined, {
        day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
        hour12: false, timeZone: "UTC"
      }) + " UTC";
    }
  }

  var list = document.querySelector("[data-stored-pages]");
  if (list && window.caches) {
    caches.open("pages-v1").then(function (cache) { return cache.keys(); }).then(function (keys) {
      keys.forEach(function (request) {
        var url = new URL(request.url);
        if (url.pathname.indexOf("/api/") === 0 || url.pathname === "/offline/") return;
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = url.pathname + url.search;
        link.textContent = url.pathname === "/" ? "/" : url.pathname.replace(/^\/|\/$/g, "");
        item.appendChild(link);
        list.appendChild(item);
      });
    });
  }
})();
