// Offers, as suggestions under the harness log options of the upload form, what the chosen file
// holds: the filters of an lm-evaluation-harness samples file, the epochs and scorers of an
// Inspect AI .json log. Only the file's first bytes are read, in the browser; nothing is sent.
// Without this script the options are plain text fields, and the upload report lists what the
// log holds when one must be chosen.
(function () {
  "use strict";
  var input = document.getElementById("id_file");
  if (!input || !window.FileReader || !window.Blob || !Blob.prototype.slice) return;
  // Enough for thousands of samples of a log, little enough to read at once.
  var HEAD_BYTES = 2 * 1024 * 1024;
  var lists = {
    filter: document.getElementById("filters-found"),
    epoch: document.getElementById("epochs-found"),
    scorer: document.getElementById("scorers-found"),
  };
  var note = document.getElementById("log-options-found");

  function fill(found) {
    var said = [];
    Object.keys(lists).forEach(function (name) {
      var list = lists[name];
      if (!list) return;
      while (list.firstChild) list.removeChild(list.firstChild);
      var values = found[name] || [];
      values.forEach(function (value) {
        var option = document.createElement("option");
        option.value = value;
        list.appendChild(option);
      });
      if (values.length > 1) said.push(name + "s " + values.join(", "));
    });
    if (note) {
      note.textContent = said.length ? "In this file: " + said.join("; ") + "." : "";
      note.hidden = !said.length;
    }
  }

  function distinct(values) {
    var seen = {};
    return values.filter(function (value) {
      var key = String(value);
      if (Object.prototype.hasOwnProperty.call(seen, key)) return false;
      seen[key] = true;
      return true;
    }).map(String);
  }

  // lm-evaluation-harness writes one sample per line, each with its "filter".
  function linesFound(text) {
    var filters = [];
    text.split("\n").forEach(function (line) {
      if (line.indexOf('"filter"') < 0) return;
      var sample;
      try {
        sample = JSON.parse(line);
      } catch (error) {
        return; // the line the first bytes cut, or not JSON at all
      }
      if (sample && typeof sample.filter === "string") filters.push(sample.filter);
    });
    return { filter: distinct(filters).sort() };
  }

  // An Inspect AI .json log, read whole when it is small enough: its samples' epochs and scorers.
  function inspectFound(text) {
    var log;
    try {
      log = JSON.parse(text);
    } catch (error) {
      return {};
    }
    if (!log || !Array.isArray(log.samples)) return {};
    var epochs = [];
    var scorers = [];
    log.samples.forEach(function (sample) {
      if (!sample) return;
      if (typeof sample.epoch === "number") epochs.push(sample.epoch);
      if (sample.scores && typeof sample.scores === "object") {
        scorers = scorers.concat(Object.keys(sample.scores));
      }
    });
    epochs = distinct(epochs.sort(function (a, b) { return a - b; }));
    return { epoch: epochs, scorer: distinct(scorers).sort() };
  }

  input.addEventListener("change", function () {
    fill({});
    var file = input.files && input.files[0];
    if (!file) return;
    var name = file.name.toLowerCase();
    var jsonl = /\.jsonl$/.test(name);
    var json = /\.json$/.test(name) && file.size <= HEAD_BYTES;
    if (!jsonl && !json) return;
    var reader = new FileReader();
    reader.onload = function () {
      var text = String(reader.result || "");
      fill(jsonl ? linesFound(text) : inspectFound(text));
    };
    reader.readAsText(file.slice(0, HEAD_BYTES));
  });
})();
