// Refresh the state/province list when the country changes. Without JavaScript the list
// keeps the preselected country's subdivisions and the server validates the pair.
(function () {
  "use strict";
  var country = document.getElementById("id_country");
  var sub = document.getElementById("id_subdivision");
  if (!country || !sub) return;
  country.addEventListener("change", function () {
    sub.innerHTML = "";
    var none = document.createElement("option");
    none.value = "";
    none.textContent = "—";
    sub.appendChild(none);
    if (!country.value) return;
    // The names in the page's language ("pt-BR" is the site's "pt-br").
    var lang = (document.documentElement.lang || "en").toLowerCase();
    fetch("/regions/" + encodeURIComponent(country.value) + ".json?lang=" + encodeURIComponent(lang))
      .then(function (r) { return r.ok ? r.json() : { subdivisions: [] }; })
      .then(function (data) {
        data.subdivisions.forEach(function (s) {
          var opt = document.createElement("option");
          opt.value = s.code;
          opt.textContent = s.name;
          sub.appendChild(opt);
        });
      });
  });
})();
