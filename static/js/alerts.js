// The alert page's push option: shown where the browser has push and the site a VAPID key.
// Subscribing asks the browser (which asks the person), then hands the subscription to
// POST /api/v1/alerts/push with the place and events chosen in the e-mail form.
(function () {
  "use strict";
  var box = document.querySelector("[data-push]");
  if (!box || !box.dataset.vapidKey) return;
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return;
  box.hidden = false;
  var on = box.querySelector("[data-push-on]");
  var off = box.querySelector("[data-push-off]");
  var status = box.querySelector("[data-push-status]");

  function key(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4))
      .replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function choices() {
    var place = document.getElementById("id_country");
    var events = Array.prototype.slice.call(document.querySelectorAll("input[name=events]:checked"))
      .map(function (input) { return input.value; });
    return { service: box.dataset.service, country: place ? place.value : "", events: events };
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.ok) return response;
      return response.json().then(function (error) {
        var fields = error.fields || {};
        var first = Object.keys(fields)[0];
        throw new Error(first ? first + ": " + fields[first][0] : error.message);
      });
    });
  }

  // A device already subscribed (to any service here) is offered the stop button.
  navigator.serviceWorker.getRegistration("/").then(function (registration) {
    return registration ? registration.pushManager.getSubscription() : null;
  }).then(function (subscription) {
    if (subscription) {
      on.hidden = true;
      off.hidden = false;
    }
  }).catch(function () {});

  on.addEventListener("click", function () {
    status.textContent = "";
    navigator.serviceWorker.register("/sw.js").then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      return registration.pushManager.subscribe({
        userVisibleOnly: true, applicationServerKey: key(box.dataset.vapidKey)
      });
    }).then(function (subscription) {
      var body = choices();
      body.subscription = subscription.toJSON();
      return post(box.dataset.api, body);
    }).then(function () {
      status.textContent = box.dataset.okText || "This device will be notified.";
      on.hidden = true;
      off.hidden = false;
    }).catch(function (error) {
      status.textContent = (box.dataset.failText || "Could not turn on notifications: ") + error.message;
    });
  });

  off.addEventListener("click", function () {
    navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription();
    }).then(function (subscription) {
      if (!subscription) return null;
      var body = choices();
      return post(box.dataset.apiStop, {
        service: body.service, country: body.country, endpoint: subscription.endpoint
      });
    }).then(function () {
      status.textContent = box.dataset.offText || "Notifications stopped.";
      on.hidden = false;
      off.hidden = true;
    });
  });
})();
