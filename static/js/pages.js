// Live pages: draws the report chart and the choropleth maps as SVG, and refreshes every
// page's data from the JSON API. The server renders every number as text and tables first;
// this script only adds pictures and keeps them current, so the pages work without it.
// Its words come from Django's JavaScript catalogue (loaded before it: /<lang>/jsi18n/), its
// numbers and dates are written the page's language's way, and the API answers in it (?lang=).
(function () {
  "use strict";
  var LANG = document.documentElement.lang || "en";
  var CODE = LANG.toLowerCase();  // Django's code: "pt-br"
  var PREFIX = CODE === "en" ? "" : "/" + CODE;  // the pages' URLs in this language
  function _(s) { return window.gettext ? window.gettext(s) : s; }
  var ngettext = window.ngettext || function (one, many, n) { return n === 1 ? one : many; };
  function fmt(s, words) { return s.replace(/%\((\w+)\)s/g, function (m, k) { return String(words[k]); }); }
  // Numbers as the server writes them: the language's separators and grouping from Django's
  // formats (in the catalogue), so a number the script refreshes reads as the page printed it.
  // Not Intl.NumberFormat: its first use sets up the browser's locale data, about as long as
  // laying out the whole page, on every page load.
  var FORMATS = window.get_format ? {
    decimal: get_format("DECIMAL_SEPARATOR"), thousands: get_format("THOUSAND_SEPARATOR"),
    grouping: get_format("NUMBER_GROUPING")
  } : null;
  function grouped(digits) {
    // NUMBER_GROUPING: one size for every group, or sizes from the right with 0 repeating the
    // last (India: [3, 2, 0] writes 12,34,567), as django.utils.numberformat reads it.
    var sizes = [].concat(FORMATS.grouping), size = sizes.shift(), out = "", count = 0;
    if (!size) return digits;
    for (var i = digits.length - 1; i >= 0; i--) {
      if (count === size) {
        out = FORMATS.thousands + out;
        count = 0;
        if (sizes.length) size = sizes.shift() || size;
      }
      out = digits.charAt(i) + out;
      count += 1;
    }
    return out;
  }
  // Rounded half up on the number as written (63.55 is 63.6), as Django's floatformat does;
  // toFixed rounds the binary value (63.549999…, so 63.5).
  function rounded(x, digits) {
    var text = String(Math.abs(x));
    if (text.indexOf("e") !== -1) return Math.abs(x).toFixed(digits);
    var parts = text.split("."), frac = (parts[1] || "") + "0".repeat(digits + 1);
    var n = Number(parts[0] + frac.slice(0, digits)) + (frac.charAt(digits) >= "5" ? 1 : 0);
    var out = String(n);
    while (out.length <= digits) out = "0" + out;
    return digits ? out.slice(0, -digits) + "." + out.slice(-digits) : out;
  }
  function formatNumber(x, digits) {
    if (!FORMATS) return new Intl.NumberFormat(LANG, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(x);
    var parts = rounded(x, digits).split(".");
    var sign = x < 0 && /[1-9]/.test(parts.join("")) ? "-" : "";
    return sign + grouped(parts[0]) + (parts[1] ? FORMATS.decimal + parts[1] : "");
  }
  function num(x) { return formatNumber(x, 0); }
  function page(path) { return PREFIX + path; }
  // The API's words in the page's language; English requests stay the same for everyone.
  var RANGES = { "6h": _("6 h"), "24h": _("24 h"), "7d": _("7 d") };
  function api(url) { return CODE === "en" ? url : url + (url.indexOf("?") < 0 ? "?" : "&") + "lang=" + CODE; }
  var REFRESH_MS = 45000;
  var SVG = "http://www.w3.org/2000/svg";
  // ColorBrewer YlOrBr (colour-blind safe, sequential) by reports relative to usual.
  var BINS = [1.5, 2, 4, 8];
  var COLOURS = ["#ffffd4", "#fed98e", "#fe9929", "#d95f0e", "#993404"];
  var NO_DATA = "#e6e6e6";
  var LEVEL_LABELS = {
    ok: window.pgettext ? pgettext("level", "No problems") : "No problems",
    possible: window.pgettext ? pgettext("level", "Possible problems") : "Possible problems",
    outage: window.pgettext ? pgettext("level", "Problems") : "Problems"
  };

  function svg(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  // Styles go through the CSSOM (node.style), never a style attribute: the site's
  // Content-Security-Policy allows no inline style.
  function html(name, attrs, text, parent, style) {
    var node = document.createElement(name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    Object.keys(style || {}).forEach(function (k) { node.style[k] = style[k]; });
    if (text !== undefined && text !== null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  // What a refresh writes goes in only where it says something new: the server rendered the
  // same numbers in the same words, and replacing a table or a list with an equal one makes
  // the browser lay it out and paint it again for nothing (a whole page's worth on a phone).
  // What a part of the page says: its words in order, whatever the markup's spacing.
  function said(node) {
    var words = [], walk = document.createTreeWalker(node, NodeFilter.SHOW_TEXT), text;
    while ((text = walk.nextNode())) {
      var word = text.data.replace(/\s+/g, " ").trim();
      if (word) words.push(word);
    }
    return words.join("\n");
  }
  function place(parent, build) {
    var next = parent.cloneNode(false);
    build(next);
    if (said(next) === said(parent)) return;
    parent.replaceChildren.apply(parent, Array.prototype.slice.call(next.childNodes));
  }
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }
  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r.json();
    });
  }
  function every(task) {
    task();
    setInterval(function () { if (!document.hidden) task(); }, REFRESH_MS);
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function hhmm(iso) { var d = new Date(iso); return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()); }
  function utc(time) { return fmt(_("%(time)s UTC"), { time: time }); }
  // Day and weekday names from Intl, made when first needed (the 7-day chart, the table, a
  // delay of more than a day): most page loads need none.
  var dateFormats = {};
  function dateFormat(name, options) {
    if (!dateFormats[name]) dateFormats[name] = new Intl.DateTimeFormat(LANG, options);
    return dateFormats[name];
  }
  function weekday(d) { return dateFormat("weekday", { weekday: "short", timeZone: "UTC" }).format(d); }
  function dayMonth(d) { return dateFormat("day", { day: "numeric", month: "short", timeZone: "UTC" }).format(d); }
  function dayHhmm(iso) { return weekday(new Date(iso)) + " " + hhmm(iso); }
  function fixed(x, digits) {
    if (x === null || x === undefined) return "—";
    return formatNumber(x, digits);
  }
  function colour(ratio) {
    for (var i = 0; i < BINS.length; i++) if (ratio < BINS[i]) return COLOURS[i];
    return COLOURS[BINS.length];
  }
  function levelBadge(level) {
    var span = html("span", { "class": "level level-" + level });
    html("span", { "class": "level-icon", "aria-hidden": "true" }, null, span);
    span.appendChild(document.createTextNode(LEVEL_LABELS[level] || level));
    return span;
  }
  // What the pages say instead of a level when detection has not run lately (the API's
  // delayed_since), as the server renders it.
  function delayedText(iso) {
    var d = new Date(iso), now = new Date();
    var sameDay = d.toISOString().slice(0, 10) === now.toISOString().slice(0, 10);
    var day = sameDay ? "" : dayMonth(d) + " ";
    return fmt(_("Data delayed since %(time)s"), { time: utc(day + hhmm(iso)) });
  }
  function statusBadge(s) {
    if (!s.delayed_since) return levelBadge(s.level);
    var span = html("span", { "class": "level level-delayed" });
    html("span", { "class": "level-icon", "aria-hidden": "true" }, null, span);
    span.appendChild(document.createTextNode(delayedText(s.delayed_since)));
    return span;
  }
  // The smallest "round" top (4 gridlines of 1, 2 or 5 × 10^k) at or above v.
  function niceMax(v) {
    var step = Math.max(v / 4, 1);
    var p = Math.pow(10, Math.floor(Math.log10(step)));
    var nice = [1, 2, 5, 10].filter(function (m) { return m * p >= step; })[0];
    return 4 * nice * p;
  }

  // ------------------------------------------------------------------ report chart
  function drawTrend(canvas, data) {
    // Drawn at the box's own size, so labels keep their size on a phone; the stylesheet sets
    // that size before the script runs, so drawing shifts nothing on the page.
    var W = Math.max(300, Math.min(960, canvas.clientWidth || 720));
    var H = canvas.clientHeight || (W < 500 ? 200 : 260), L = 40, R = 8, T = 10, B = 28;
    var buckets = data.buckets;
    var n = buckets.length;
    var top = 0;
    buckets.forEach(function (b) {
      top = Math.max(top, b.reports, b.high || 0, b.threshold || 0);
    });
    top = niceMax(top * 1.05);
    function x(i) { return L + (i + 0.5) * (W - L - R) / n; }
    function y(v) { return T + (H - T - B) * (1 - v / top); }
    var last = buckets[n - 1] || { reports: 0 };
    var peak = buckets.reduce(function (m, b) { return b.reports > m.reports ? b : m; }, last);
    var root = svg("svg", {
      viewBox: "0 0 " + W + " " + H, role: "img",
      "aria-label": fmt(_("Reports per %(minutes)s minutes, %(range)s: latest %(latest)s, peak %(peak)s at %(time)s."), {
        minutes: data.bucket_minutes, range: RANGES[data.range] || data.range, latest: num(last.reports),
        peak: num(peak.reports), time: utc(hhmm(peak.t))
      })
    });
    for (var g = 0; g <= 4; g++) {
      var v = top * g / 4;
      svg("line", { "class": "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }, root);
      svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, root).textContent = num(Math.round(v));
    }
    var every_ = Math.max(1, Math.round(n / (W < 500 ? 3 : 6)));
    buckets.forEach(function (b, i) {
      if ((n - 1 - i) % every_ !== 0) return;
      var label = data.range === "7d" ? dayHhmm(b.t) : hhmm(b.t);
      // The newest label ends at its bucket: centred, it would run past the right edge.
      var anchor = i === n - 1 ? "end" : "middle";
      svg("text", { x: i === n - 1 ? W - R : x(i), y: H - 8, "text-anchor": anchor }, root).textContent = label;
    });
    // The usual range as a band, drawn where a baseline exists.
    var hi = [], lo = [], exp = [], thr = [];
    buckets.forEach(function (b, i) {
      if (b.expected === null) return;
      hi.push(x(i) + "," + y(b.high)); lo.unshift(x(i) + "," + y(b.low));
      exp.push(x(i) + "," + y(b.expected)); thr.push(x(i) + "," + y(b.threshold));
    });
    if (hi.length) {
      svg("polygon", { "class": "band", points: hi.concat(lo).join(" ") }, root);
      svg("polyline", { "class": "expected", points: exp.join(" ") }, root);
      svg("polyline", { "class": "threshold", points: thr.join(" ") }, root);
    }
    var pts = buckets.map(function (b, i) { return x(i) + "," + y(b.reports); });
    svg("polygon", { "class": "reports-area", points: x(0) + "," + y(0) + " " + pts.join(" ") + " " + x(n - 1) + "," + y(0) }, root);
    svg("polyline", { "class": "reports-line", points: pts.join(" ") }, root);
    canvas.replaceChildren(root);
  }

  // The table sits in a closed <details> until someone opens it. A refresh fills it only while
  // it is open (the server rendered it for the page's minute), and opening it fills in the
  // latest buckets; a range someone chose goes in at once.
  function trendTable(table) {
    var details = table.closest("details"), latest = null;
    function fill(now) {
      if (latest && (now || !details || details.open)) { fillTrendTable(table, latest); latest = null; }
    }
    if (details) details.addEventListener("toggle", function () { fill(false); });
    return function (data, now) { latest = data; fill(now); };
  }
  function fillTrendTable(table, data) {
    var body = table.tBodies[0];
    body.replaceChildren();
    data.buckets.slice().reverse().forEach(function (b) {
      var tr = html("tr", {}, null, body);
      var td = html("td", {}, null, tr);
      html("time", { datetime: b.t }, dayHhmm(b.t), td);
      html("td", {}, num(b.reports), tr);
      html("td", {}, fixed(b.expected, 1), tr);
      html("td", {}, fixed(b.threshold, 1), tr);
    });
  }

  // --------------------------------------------------------------------------- maps
  var geometry = {};
  function loadGeometry(url) {
    if (!geometry[url]) geometry[url] = getJSON(url);
    return geometry[url];
  }

  // Where a region's marker goes: the centroid of its largest ring. The projections are
  // equal-area, so the largest ring is the mainland (not Alaska, French Guiana or Svalbard).
  function labelPoint(d) {
    var best = null;
    d.split("M").forEach(function (part) {
      var pts = part.replace("Z", "").split("L").filter(Boolean).map(function (p) {
        var xy = p.split(","); return [Number(xy[0]), Number(xy[1])];
      });
      if (pts.length < 3) return;
      var a = 0, cx = 0, cy = 0;
      for (var i = 0; i < pts.length; i++) {
        var p = pts[i], q = pts[(i + 1) % pts.length], k = p[0] * q[1] - q[0] * p[1];
        a += k; cx += (p[0] + q[0]) * k; cy += (p[1] + q[1]) * k;
      }
      if (a === 0) return;
      if (!best || Math.abs(a) > best.area) best = { area: Math.abs(a), x: cx / (3 * a), y: cy / (3 * a) };
    });
    return best;
  }
  function worksAgainText(count) {
    return fmt(ngettext("%(count)s person says it works again", "%(count)s people say it works again", count), { count: num(count) });
  }
  // People who say it works again, as a marker of its own over the shading: a white pill with
  // a check mark and the number, so it reads as something else than reports without colour.
  // Sized in screen pixels whatever the map's scale; the country under it stays clickable.
  function drawRecoveries(root, geo, canvas, recoveries, features) {
    var scale = geo.width / Math.max(canvas.clientWidth || geo.width, 1);
    var h = 20 * scale, font = 13 * scale;
    recoveries.slice().reverse().forEach(function (rec) {
      var f = features[rec.code];
      var at = f && labelPoint(f.d);
      if (!at) return;
      var label = "\u2713 " + num(rec.count);
      // The check mark, a space and the digits, with room either side.
      var w = (30 + 8 * num(rec.count).length) * scale;
      var g = svg("g", { "class": "recovery", "aria-hidden": "true", "data-code": rec.code }, root);
      svg("rect", { x: at.x - w / 2, y: at.y - h / 2, width: w, height: h, rx: h / 2, "stroke-width": 1.5 * scale }, g);
      svg("text", { x: at.x, y: at.y + font * 0.36, "text-anchor": "middle", "font-size": font }, g).textContent = label;
    });
  }

  function drawMap(canvas, geo, rows, opts) {
    var byCode = {}, recoveredIn = {}, features = {};
    var recoveries = opts.recoveries || [];
    rows.forEach(function (r) { byCode[r.code] = r; });
    recoveries.forEach(function (r) { recoveredIn[r.code] = r; });
    // With countries to select, the map is a group of links (an image's content is out of a
    // screen reader's reach); without, one image with its summary.
    var label = opts.label + " " + _("The table below lists the same numbers.");
    if (recoveries.length) label += " " + _("A check mark and a number show how many people say it works again there; the list below has the same.");
    var root = svg("svg", {
      viewBox: "0 0 " + geo.width + " " + geo.height, role: opts.onSelect ? "group" : "img",
      "aria-label": label
    });
    // The box keeps the geometry's shape before and after drawing (no layout shift).
    canvas.style.aspectRatio = geo.width + " / " + geo.height;
    geo.features.forEach(function (f) {
      var r = byCode[f.code], rec = recoveredIn[f.code];
      features[f.code] = f;
      var path = svg("path", { d: f.d, fill: r ? colour(r.ratio) : NO_DATA, "data-code": f.code }, root);
      var title = svg("title", {}, path);
      title.textContent = r
        ? fmt(ngettext("%(name)s: %(count)s report, %(ratio)s× usual", "%(name)s: %(count)s reports, %(ratio)s× usual", r.reports),
              { name: r.name, count: num(r.reports), ratio: fixed(r.ratio, 1) })
        : fmt(_("%(name)s: no reports"), { name: rec ? rec.name : f.code });
      if (rec) title.textContent += " \u00b7 " + worksAgainText(rec.count);
      if (opts.onSelect && (r || rec || opts.selectAll)) {
        path.setAttribute("tabindex", "0");
        path.setAttribute("role", "link");
        path.setAttribute("aria-label", title.textContent);
        var go = function () { opts.onSelect(f.code); };
        path.addEventListener("click", go);
        path.addEventListener("keydown", function (e) {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); }
        });
      }
    });
    canvas.replaceChildren(root);
    // After the paths are in the page: the marker's size depends on the drawn width.
    drawRecoveries(root, geo, canvas, recoveries, features);
  }

  // The markers' text alternative: the list under the map, as the server renders it.
  function fillRecoveries(box, recoveries, opts) {
    if (!box) return;
    box.hidden = !opts.open;
    place(box.querySelector("ul"), function (list) {
      if (!recoveries.length) {
        html("li", { "class": "muted" }, _("No one has said it works again yet."), list);
        return;
      }
      recoveries.forEach(function (r) {
        var li = html("li", { "data-code": r.code }, null, list);
        if (opts.href && r.level === "country") html("a", { href: opts.href(r) }, r.name, li);
        else li.appendChild(document.createTextNode(r.name));
        li.appendChild(document.createTextNode(": " + worksAgainText(r.count)));
        if (opts.services && r.services) {
          li.appendChild(document.createTextNode(" "));
          html("span", { "class": "muted" }, "(" + r.services.map(function (s) {
            return s.name + " " + num(s.count);
          }).join(window.pgettext ? pgettext("list separator", ", ") : ", ") + ")", li);
        }
      });
    });
  }

  function fillRegionTable(table, rows, href) {
    place(table.tBodies[0], function (body) {
      if (!rows.length) {
        html("td", { colspan: "4" }, _("No reports in the last hour."), html("tr", {}, null, body));
        return;
      }
      var first = table.dataset.regionLabel || _("Region");
      rows.slice(0, 15).forEach(function (r) {
        var tr = html("tr", {}, null, body);
        var th = html("th", { scope: "row", "data-label": first }, null, tr);
        if (href) html("a", { href: href(r) }, r.name, th); else th.textContent = r.name;
        html("td", { "data-label": _("Reports") }, num(r.reports), tr);
        html("td", { "data-label": _("Usually") }, fixed(r.expected, 1), tr);
        html("td", { "data-label": _("Relative to usual") }, fixed(r.ratio, 1) + "×", tr);
      });
    });
  }

  // -------------------------------------------------------------------------- pages
  function homePage(root) {
    var input = document.getElementById("q");
    var select = document.getElementById("category");
    var cards = Array.prototype.slice.call(document.querySelectorAll(".service-card"));
    var levels = {};
    cards.forEach(function (c) { levels[c.dataset.slug] = c.querySelector("[data-field=level]"); });
    var count = root.parentNode.querySelector("[data-region=count]");
    function filter() {
      var q = input.value.trim().toLowerCase(), cat = select.value, shown = 0;
      cards.forEach(function (c) {
        var ok = (!q || c.dataset.name.indexOf(q) !== -1) && (!cat || c.dataset.category === cat);
        c.hidden = !ok;
        if (ok) shown += 1;
      });
      if (count) count.textContent = fmt(_("%(shown)s of %(total)s services."), { shown: num(shown), total: num(cards.length) });
    }
    if (input && select) {
      input.addEventListener("input", filter);
      select.addEventListener("change", filter);
    }
    every(function () {
      getJSON(api("/api/v1/services")).then(function (data) {
        var bad = [], delayed = null;
        data.services.forEach(function (s) {
          var card = levels[s.slug];
          if (card) place(card, function (box) { box.appendChild(statusBadge(s)); });
          if (s.delayed_since) delayed = s.delayed_since;
          else if (s.level !== "ok") bad.push(s);
        });
        var rank = { outage: 2, possible: 1, ok: 0 };
        bad.sort(function (a, b) {
          return rank[b.level] - rank[a.level] || (b.current - b.expected) - (a.current - a.expected);
        });
        place(root.querySelector("[data-region=problems-now]"), function (region) {
          if (delayed) {
            var p = html("p", { "class": "delayed" }, null, region);
            html("strong", {}, delayedText(delayed) + ".", p);
            p.appendChild(document.createTextNode(" " + _("Reports are still received; levels return when detection catches up.")));
            return;
          }
          if (!bad.length) { html("p", {}, _("No service has unusual reports right now."), region); return; }
          var ul = html("ul", { "class": "now-list" }, null, region);
          bad.forEach(function (s) {
            var li = html("li", {}, null, ul);
            html("strong", {}, s.name, html("a", { href: page("/" + s.slug + "/") }, null, li));
            li.appendChild(levelBadge(s.level));
            var muted = html("span", { "class": "muted" }, fmt(_("%(current)s reports in 15 min, usually %(expected)s"),
              { current: num(Math.round(s.current)), expected: num(Math.round(s.expected)) }), li);
            if (s.since) {
              muted.appendChild(document.createTextNode(" · " + fmt(_("since %(time)s"), { time: utc(hhmm(s.since)) })));
            }
          });
        });
      }).catch(console.warn);
    });
  }

  // Is it just me: the visitor's country is chosen here, in the browser, so that the page
  // itself stays the same for everyone (and cacheable); the numbers come from one cached answer.
  function visitorCountry(select) {
    var saved = (document.cookie.match(/(?:^|; )or_country=([A-Z]{2})/) || [])[1];
    var fromLanguage = (navigator.languages || [navigator.language || ""]).map(function (tag) {
      return (tag.split("-")[1] || "").toUpperCase();
    }).filter(function (code) { return code.length === 2; })[0];
    var pick = saved || fromLanguage || "";
    return select.querySelector('option[value="' + pick + '"]') ? pick : "";
  }
  function justMeText(name, level, country, row) {
    var words = { service: name, country: country.name };
    if (row && row.reports >= 5 && row.ratio >= 2) {
      words.ratio = num(Math.round(row.ratio));
      return fmt(_("Reports about %(service)s from %(country)s are %(ratio)s \u00d7 usual: it\u2019s not just you."), words);
    }
    if (row && row.all_reports >= 20 && row.all_ratio >= 2) {
      words.ratio = num(Math.round(row.all_ratio));
      return fmt(_("Many services have more reports than usual from %(country)s (%(ratio)s \u00d7 usual): it may be your network or a wider problem in %(country)s, not %(service)s alone."), words);
    }
    if (level !== "ok") {
      return fmt(_("Few reports about %(service)s from %(country)s, but %(service)s has problems elsewhere: it may reach you too."), words);
    }
    return fmt(_("Few reports about %(service)s from %(country)s: the problem may be on your side \u2014 check your connection."), words);
  }
  function justMe(root, slug, win) {
    var box = root.querySelector("[data-just-me]");
    if (!box) return;
    var select = box.querySelector("select"), out = box.querySelector("[data-testid=just-me]");
    var name = box.dataset.serviceName;
    function show() {
      var code = select.value;
      if (!code) return;
      var label = select.options[select.selectedIndex].textContent;
      getJSON("/api/v1/services/" + slug + "/just-me?window=" + win).then(function (data) {
        var row = data.countries.filter(function (c) { return c.country === code; })[0];
        out.textContent = justMeText(name, data.level, { code: code, name: label }, row);
      }).catch(function () { out.textContent = _("Could not load the reports just now."); });
    }
    select.value = visitorCountry(select);
    select.addEventListener("change", show);
    every(show);
  }

  function servicePage(root) {
    var slug = root.dataset.slug, win = root.dataset.window;
    justMe(root, slug, win);
    var range = "24h", area = "world";
    var chart = root.querySelector("[data-chart=trend] .chart-canvas");
    var showTrendTable = trendTable(root.querySelector("[data-table=trend]"));
    var mapFig = root.querySelector("[data-map=service]");
    var regionTable = root.querySelector("[data-table=regions]");
    var recoveryBox = root.querySelector("[data-region=recoveries]");
    var rangeButtons = root.querySelectorAll(".range-switch button");
    var areaButtons = root.querySelectorAll(".map-switch button");

    function press(buttons, attr, value) {
      buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset[attr] === value)); });
    }
    function loadTrend(chosen) {
      return getJSON("/api/v1/services/" + slug + "/trend?range=" + range).then(function (data) {
        drawTrend(chart, data);
        showTrendTable(data, chosen);
        var sentences = {
          "6h": _("Reports per 5 minutes over 6 hours."),
          "24h": _("Reports per 15 minutes over 24 hours."),
          "7d": _("Reports per hour over 7 days.")
        };
        setText(root.querySelector("[data-region=chart-desc]"), sentences[data.range] || "");
      });
    }
    function loadMap() {
      var us = area === "US";
      var url = api("/api/v1/services/" + slug + "/heatmap?window=" + win +
        (us ? "&level=subdivision&country=US" : ""));
      var geoUrl = us ? mapFig.dataset.usGeometry : mapFig.dataset.geometry;
      return Promise.all([getJSON(url), loadGeometry(geoUrl)]).then(function (got) {
        var rows = got[0].regions;
        drawMap(mapFig.querySelector(".map-canvas"), got[1], rows, {
          recoveries: recoveryBox ? got[0].recoveries : [],
          label: us ? _("Reports by US state, last hour.") : _("Reports by country, last hour."),
          onSelect: us ? null : function (code) {
            if (code === "US") { area = "US"; press(areaButtons, "area", area); loadMap(); }
            else window.location.href = page("/region/" + code + "/");
          },
          selectAll: false
        });
        setText(regionTable.caption, us ? _("Top US states, last hour") : _("Top regions, last hour"));
        fillRegionTable(regionTable, rows, us ? null : function (r) { return page("/region/" + r.code + "/"); });
        // Only while an incident is open: the page renders the list then, and not otherwise.
        fillRecoveries(recoveryBox, got[0].recoveries, {
          open: true, href: function (r) { return page("/region/" + r.code + "/"); }
        });
      });
    }
    function loadProblems() {
      return getJSON(api("/api/v1/services/" + slug + "/problems?window=" + win)).then(function (data) {
        place(root.querySelector("[data-region=problems]"), function (region) {
          if (!data.problems.length) { html("p", {}, _("No reports in the last hour."), region); return; }
          var ul = html("ul", { "class": "bars" }, null, region);
          data.problems.forEach(function (p) {
            var li = html("li", {}, null, ul);
            var pct = Math.round(p.share * 100);
            html("span", { "class": "bar-label" }, p.name, li);
            var bar = svg("svg", {
              "class": "bar", viewBox: "0 0 100 1", preserveAspectRatio: "none",
              "aria-hidden": "true", focusable: "false"
            }, li);
            svg("rect", { width: pct, height: 1 }, bar);
            var value = html("span", { "class": "bar-value" }, pct + "% ", li);
            html("span", { "class": "muted" }, "(" + num(p.reports) + ")", value);
          });
        });
      });
    }
    function loadStatus() {
      return getJSON(api("/api/v1/services/" + slug)).then(function (data) {
        setText(root.querySelector("[data-region=headline]"), data.headline);
        place(root.querySelector("[data-region=status]"), function (box) { box.appendChild(statusBadge(data)); });
        setText(root.querySelector("[data-region=last-15m]"), num(data.last_15m));
        setText(root.querySelector("[data-region=last-24h]"), num(data.last_24h));
      });
    }
    rangeButtons.forEach(function (b) {
      b.addEventListener("click", function () {
        range = b.dataset.range; press(rangeButtons, "range", range); loadTrend(true).catch(console.warn);
      });
    });
    areaButtons.forEach(function (b) {
      b.addEventListener("click", function () {
        area = b.dataset.area; press(areaButtons, "area", area); loadMap().catch(console.warn);
      });
    });
    every(function () {
      Promise.all([loadStatus(), loadTrend(), loadMap(), loadProblems()]).catch(console.warn);
    });
  }

  function mapPage(root) {
    var fig = root.querySelector("[data-map=world]");
    var table = root.querySelector("[data-table=regions]");
    every(function () {
      Promise.all([
        getJSON(api("/api/v1/heatmap?window=" + root.dataset.window)), loadGeometry(fig.dataset.geometry),
        getJSON(api("/api/v1/outages/open"))
      ]).then(function (got) {
        var open = got[2].outages.length > 0;
        drawMap(fig.querySelector(".map-canvas"), got[1], got[0].regions, {
          recoveries: open ? got[0].recoveries : [],
          label: _("Reports by country for all services, last hour."),
          onSelect: function (code) { window.location.href = page("/region/" + code + "/"); }
        });
        fillRegionTable(table, got[0].regions, function (r) { return page("/region/" + r.code + "/"); });
        fillRecoveries(root.querySelector("[data-region=recoveries]"), got[0].recoveries, {
          open: open, services: true, href: function (r) { return page("/region/" + r.code + "/"); }
        });
        place(root.querySelector("[data-region=open-incidents]"), function (region) {
          if (!got[2].outages.length) { html("p", {}, _("No open incidents."), region); return; }
          var ul = html("ul", { "class": "now-list" }, null, region);
          got[2].outages.forEach(function (o) {
            var li = html("li", {}, null, ul);
            html("strong", {}, o.service_name, html("a", { href: page("/" + o.service + "/") }, null, li));
            // An incident's level is as old as the last detection pass: delayed as the page
            // was rendered (the open incidents carry no delayed_since of their own).
            li.appendChild(statusBadge({ level: o.level, delayed_since: root.dataset.delayedSince }));
            var scope = o.country ? (o.country_name || o.country) : _("Worldwide");
            li.appendChild(document.createTextNode(" " + scope + " · " + fmt(_("since %(time)s"), { time: utc(hhmm(o.started_at)) })));
          });
        });
      }).catch(console.warn);
    });
  }

  function regionPage(root) {
    var table = root.querySelector("[data-table=region-services]");
    every(function () {
      getJSON(api("/api/v1/regions/" + root.dataset.country + "/services?window=" + root.dataset.window))
        .then(function (data) {
          place(table.tBodies[0], function (body) {
            if (!data.services.length) {
              html("td", { colspan: "5" }, _("No reports in the last hour."), html("tr", {}, null, body));
            }
            data.services.forEach(function (s) {
              var tr = html("tr", {}, null, body);
              html("a", { href: page("/" + s.slug + "/") }, s.name, html("th", { scope: "row", "data-label": _("Service") }, null, tr));
              html("td", { "data-label": _("Status") }, null, tr).appendChild(statusBadge(s));
              html("td", { "data-label": _("Reports") }, num(s.reports), tr);
              html("td", { "data-label": _("Usually") }, fixed(s.expected, 1), tr);
              html("td", { "data-label": _("Relative to usual") }, fixed(s.ratio, 1) + "×", tr);
            });
          });
        }).catch(console.warn);
    });
  }

  var pages = { home: homePage, service: servicePage, map: mapPage, region: regionPage };
  var root = document.querySelector("[data-live]");
  if (root && pages[root.dataset.live]) pages[root.dataset.live](root);
})();
