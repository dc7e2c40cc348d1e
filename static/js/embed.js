// One-line embed: <script src="https://<site>/static/js/embed.js" data-service="tiktok" async>,
// data-lang="es" (one of the site's languages) for the card in that language.
// Puts the status card in an iframe where the script tag is; everything comes from this site.
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || !me.dataset.service) return;
  var origin = new URL(me.src).origin;
  var frame = document.createElement("iframe");
  var lang = /^[a-z]{2}(-[a-z]{2})?$/.test(me.dataset.lang || "") && me.dataset.lang !== "en" ? "/" + me.dataset.lang : "";
  frame.src = origin + lang + "/" + encodeURIComponent(me.dataset.service) + "/embed/";
  frame.title = me.dataset.service + " status";
  frame.width = "360";
  frame.height = "190";
  frame.loading = "lazy";
  frame.setAttribute("frameborder", "0");
  me.parentNode.insertBefore(frame, me);
})();
