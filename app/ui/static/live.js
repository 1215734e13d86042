// Ferry UI live updates (no dependencies). While a page has an element marked data-live, fetch the
// same URL every few seconds and swap in the fresh copy of each [data-live] element (matched by id).
// Stops once the server renders the page without data-live (the job or batch ended), when the tab is
// hidden it waits, and on any error it leaves the page as it is (reload still works: it is plain HTML).
(function () {
  "use strict";
  var PERIOD_MS = 2000;
  function regions(doc) { return doc.querySelectorAll("[data-live][id]"); }
  function tick() {
    if (!regions(document).length) { return; }
    if (document.hidden) { setTimeout(tick, PERIOD_MS); return; }
    fetch(window.location.href, { headers: { "X-Ferry-Live": "1" }, credentials: "same-origin" })
      .then(function (resp) {
        if (!resp.ok) { throw new Error("HTTP " + resp.status); }
        return resp.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        regions(document).forEach(function (old) {
          var next = fresh.getElementById(old.id);
          if (!next) { return; }
          if (old.contains(document.activeElement) && document.activeElement !== document.body) {
            return;  // never pull focus away from someone using the keyboard
          }
          old.replaceWith(document.importNode(next, true));
        });
        setTimeout(tick, PERIOD_MS);
      })
      .catch(function () { /* leave the page as it is */ });
  }
  if (regions(document).length) { setTimeout(tick, PERIOD_MS); }
})();
