// Ferry UI live updates (no dependencies). While a page has an element marked data-live, fetch the
// same URL every few seconds and swap in the fresh copy of each [data-live] element (matched by id).
// data-live="idle" (nothing running yet, e.g. the jobs list watching for new jobs) polls less often.
// Stops once the server renders the page without data-live (the job or batch ended) or answers 401
// (signed out); while the tab is hidden it waits; a failed fetch is retried with back-off, leaving the
// page as it is meanwhile (reload still works: it is plain HTML).
(function () {
  "use strict";
  var BUSY_MS = 2000, IDLE_MS = 10000, MAX_BACKOFF_MS = 30000;
  var failures = 0;
  function regions(doc) { return doc.querySelectorAll("[data-live][id]"); }
  function period() {
    var busy = false;
    regions(document).forEach(function (r) { if (r.getAttribute("data-live") !== "idle") { busy = true; } });
    return busy ? BUSY_MS : IDLE_MS;
  }
  function later() { if (regions(document).length) { setTimeout(tick, period()); } }
  function tick() {
    if (!regions(document).length) { return; }
    if (document.hidden) { setTimeout(tick, BUSY_MS); return; }
    fetch(window.location.href, { headers: { "X-Ferry-Live": "1" }, credentials: "same-origin" })
      .then(function (resp) {
        if (resp.status === 401) { failures = -1; throw new Error("signed out"); }
        if (!resp.ok) { throw new Error("HTTP " + resp.status); }
        return resp.text();
      })
      .then(function (html) {
        failures = 0;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        regions(document).forEach(function (old) {
          var next = fresh.getElementById(old.id);
          if (!next) { return; }
          if (old.contains(document.activeElement) && document.activeElement !== document.body) {
            return;  // never pull focus away from someone using the keyboard
          }
          old.replaceWith(document.importNode(next, true));
        });
        document.documentElement.setAttribute("data-live-updated", String(Date.now()));
        later();
      })
      .catch(function () {
        if (failures < 0) { return; }  // signed out: stop
        failures += 1;
        setTimeout(tick, Math.min(BUSY_MS * Math.pow(2, failures), MAX_BACKOFF_MS));
      });
  }
  later();
})();
