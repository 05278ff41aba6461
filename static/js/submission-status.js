// Follows a submission's scoring: polls its JSON status and reloads the page once it is done.
// Most scorings end within seconds, so the page asks five times a second at first, then waits a
// tenth of the time it has waited so far, never more than a second: the end of a scoring shows
// within a tenth of its time. The status turns the moment the answer comes, before the reload
// that brings the results.
(function () {
  "use strict";
  var box = document.getElementById("status");
  if (!box) return;
  var url = box.dataset.statusUrl;
  var finished = ["scored", "rejected", "failed"];
  var text = document.getElementById("status-text");
  var bar = document.getElementById("status-progress");
  var FIRST = 200;
  var LONGEST = 1000;
  var opened = Date.now();
  var failures = 0;

  function show(status) {
    text.textContent = status;
    text.className = "status status-" + status;
  }

  function later() {
    var delay = Math.min(Math.max(FIRST, (Date.now() - opened) / 10), LONGEST);
    window.setTimeout(poll, delay);
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        show(data.status);
        if (finished.indexOf(data.status) !== -1) {
          window.location.reload();
          return;
        }
        if (bar) bar.value = data.progress;
        later();
      })
      .catch(function () {
        // The server may be restarting: back off, keep trying.
        failures += 1;
        window.setTimeout(poll, Math.min(LONGEST * Math.pow(2, failures), 15000));
      });
  }
  window.setTimeout(poll, FIRST);
})();
