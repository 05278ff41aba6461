// Follows a submission's scoring: polls its JSON status and reloads the page once it is done.
(function () {
  "use strict";
  var box = document.getElementById("status");
  if (!box) return;
  var url = box.dataset.statusUrl;
  var finished = ["scored", "rejected", "failed"];
  var text = document.getElementById("status-text");
  var bar = document.getElementById("status-progress");
  var delay = 1000;

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (finished.indexOf(data.status) !== -1) {
          window.location.reload();
          return;
        }
        text.textContent = data.status;
        text.className = "status status-" + data.status;
        if (bar) bar.value = data.progress;
        delay = 1000;
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        // The server may be restarting: back off, keep trying.
        delay = Math.min(delay * 2, 15000);
        window.setTimeout(poll, delay);
      });
  }
  window.setTimeout(poll, delay);
})();
