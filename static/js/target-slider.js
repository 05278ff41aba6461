// The board's target slider: ranks the models at any confidence target t, in the browser, from
// the counts on the page, as leaderboard/live_target.py ranks them on the server.
//
// Each model's <li> holds data-items (N) and data-runs ("key:correct:incorrect" per rubric of the
// board whose run it has). At one of the board's targets (within 1e-9) the run of that rubric
// scores the model; between them, the run of its binary column ("0"). Score (SPEC §5):
// (C − t/(1−t)·W)/N; scores within 1e-12 share the best rank (1, 2, 2, 4), equal ranks by name,
// models without a score last; the abstain-everything line (score 0) after those above 0.
//
// The "All metrics" table (table.board) has a column pair for the slider's t: each model's <tr>
// holds the same data-items and data-runs, and the slider reorders the rows of the table's page
// in the same order (a page of a long board only within itself), the abstain-everything line
// (its cell data-abstains) where the list has it, the other reference lines last. The table's
// sort links (data-keeps-t) and page links keep the slider's t.
(function () {
  "use strict";

  const TIE = 1e-12;
  const TARGET_EQUAL = 1e-9;
  const input = document.getElementById("target-t");
  const list = document.getElementById("live-ranking");
  if (!input || !list) {
    return;
  }
  const output = document.getElementById("target-t-text");
  const baseline = list.querySelector("li.baseline");
  function runsOf(element) {
    const runs = {};
    for (const part of element.dataset.runs.split(" ").filter(Boolean)) {
      const [key, correct, incorrect] = part.split(":");
      runs[key] = { target: parseFloat(key), correct: Number(correct), incorrect: Number(incorrect) };
    }
    return runs;
  }
  const models = Array.from(list.querySelectorAll("li[data-runs]")).map((li) => ({
    li: li,
    id: li.dataset.id,
    name: li.dataset.model.toLowerCase(),
    items: Number(li.dataset.items),
    runs: runsOf(li),
    rank: li.querySelector(".rank"),
    score: li.querySelector(".num"),
  }));
  const table = document.querySelector("table.board tbody");
  const tableRows = table
    ? Array.from(table.querySelectorAll("tr[data-runs]")).map((tr) => ({
        tr: tr,
        id: tr.dataset.id,
        name: tr.dataset.model.toLowerCase(),
        items: Number(tr.dataset.items),
        runs: runsOf(tr),
        rank: tr.querySelector(".live-rank"),
        score: tr.querySelector(".live-score"),
      }))
    : [];
  const abstainsCell = table ? table.querySelector("td[data-abstains]") : null;
  const tableAbstains = abstainsCell ? abstainsCell.closest("tr") : null;
  const tableOthers = table
    ? Array.from(table.querySelectorAll("tr.baseline")).filter((tr) => tr !== tableAbstains)
    : [];
  const liveT = document.querySelector("#live-t-head .live-t");
  const targets = Array.from(document.querySelectorAll("#target-ticks option")).map((option) =>
    parseFloat(option.value)
  );

  function keyAt(t) {
    for (const model of models) {
      for (const [key, run] of Object.entries(model.runs)) {
        if (Math.abs(run.target - t) <= TARGET_EQUAL) {
          return key;
        }
      }
    }
    // A target of the board that no model's run has: no model has a score there.
    return targets.some((target) => target !== 0 && Math.abs(target - t) <= TARGET_EQUAL)
      ? null
      : "0";
  }

  function formatted(score) {
    return score === null ? "–" : score.toFixed(3).replace("-", "−");
  }

  function penaltyText(t) {
    const points = Number((t / (1 - t)).toFixed(2)).toString();
    return `t = ${t.toFixed(2)}, a wrong answer costs ${points} point${points === "1" ? "" : "s"}`;
  }

  function rank(t) {
    const key = keyAt(t);
    const penalty = t / (1 - t);
    for (const model of models) {
      const run = key === null ? undefined : model.runs[key];
      model.value =
        run === undefined || !model.items ? null : (run.correct - penalty * run.incorrect) / model.items;
    }
    // Ranks as the server gives them: by score, highest first (a stable sort), a new rank
    // wherever a score is more than 1e-12 below the one before it.
    const scored = models.filter((model) => model.value !== null);
    scored.sort((a, b) => b.value - a.value);
    scored.forEach((model, at) => {
      const before = scored[at - 1];
      model.place = at === 0 || before.value - model.value > TIE ? at + 1 : before.place;
    });
    for (const model of models) {
      if (model.value === null) {
        model.place = null;
      }
    }
    const order = models.slice().sort((a, b) => {
      if ((a.place === null) !== (b.place === null)) {
        return a.place === null ? 1 : -1;
      }
      if (a.place !== b.place) {
        return a.place - b.place;
      }
      return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
    const lines = order.map((model) => model.li);
    if (baseline) {
      const at = order.findIndex((model) => model.value === null || model.value <= TIE);
      lines.splice(at === -1 ? lines.length : at, 0, baseline);
    }
    for (const model of order) {
      model.rank.textContent = model.place === null ? "–" : String(model.place);
      model.score.textContent = formatted(model.value);
    }
    list.replaceChildren(...lines);
    reorderTable(key, penalty, order);
  }

  function reorderTable(key, penalty, order) {
    if (!table || !tableRows.length) {
      return;
    }
    // Each row scored from its own counts; its rank and place are the whole board's, from the list.
    const position = new Map(order.map((model, at) => [model.id, at]));
    const place = new Map(models.map((model) => [model.id, model.place]));
    for (const row of tableRows) {
      const run = key === null ? undefined : row.runs[key];
      row.value =
        run === undefined || !row.items ? null : (run.correct - penalty * run.incorrect) / row.items;
      row.place = place.has(row.id) ? place.get(row.id) : null;
      row.at = position.has(row.id) ? position.get(row.id) : order.length;
      row.rank.textContent = row.place === null ? "–" : String(row.place);
      row.score.textContent = formatted(row.value);
    }
    const sorted = tableRows.slice().sort((a, b) => a.at - b.at);
    const lines = sorted.map((row) => row.tr);
    if (tableAbstains) {
      const at = sorted.findIndex((row) => row.value === null || row.value <= TIE);
      lines.splice(at === -1 ? lines.length : at, 0, tableAbstains);
    }
    table.replaceChildren(...lines, ...tableOthers);
  }

  function update() {
    const t = Math.round(parseFloat(input.value) * 100) / 100;
    const text = penaltyText(t);
    input.setAttribute("aria-valuetext", text);
    if (output) {
      output.textContent = text;
    }
    if (liveT) {
      liveT.textContent = t.toFixed(2);
    }
    rank(t);
    const shown = t.toFixed(2).replace(/0$/, "").replace(/\.0?$/, "");
    const url = new URL(window.location.href);
    url.searchParams.set("t", shown);
    window.history.replaceState(null, "", url);
    for (const link of document.querySelectorAll("a[data-keeps-t], #table-pages a")) {
      const target = new URL(link.getAttribute("href"), window.location.href);
      target.searchParams.set("t", shown);
      link.setAttribute("href", target.search + target.hash);
    }
  }

  input.addEventListener("input", update);
})();
