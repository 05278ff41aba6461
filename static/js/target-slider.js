// The board's target slider: ranks the models at any confidence target t, in the browser, from
// the counts on the page, as leaderboard/live_target.py ranks them on the server.
//
// Each model's <li> holds data-items (N) and data-runs ("key:correct:incorrect" per rubric of the
// board whose run it has). At one of the board's targets (within 1e-9) the run of that rubric
// scores the model; between them, the run of its binary column ("0"). Score (SPEC §5):
// (C − t/(1−t)·W)/N; scores within 1e-12 share the best rank (1, 2, 2, 4), equal ranks by name,
// models without a score last; the abstain-everything line (score 0) after those above 0.
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
  const models = Array.from(list.querySelectorAll("li[data-runs]")).map((li) => {
    const runs = {};
    for (const part of li.dataset.runs.split(" ").filter(Boolean)) {
      const [key, correct, incorrect] = part.split(":");
      runs[key] = { target: parseFloat(key), correct: Number(correct), incorrect: Number(incorrect) };
    }
    return {
      li: li,
      name: li.dataset.model.toLowerCase(),
      items: Number(li.dataset.items),
      runs: runs,
      rank: li.querySelector(".rank"),
      score: li.querySelector(".num"),
    };
  });
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
  }

  function update() {
    const t = Math.round(parseFloat(input.value) * 100) / 100;
    const text = penaltyText(t);
    input.setAttribute("aria-valuetext", text);
    if (output) {
      output.textContent = text;
    }
    rank(t);
    const url = new URL(window.location.href);
    url.searchParams.set("t", t.toFixed(2).replace(/0$/, "").replace(/\.0?$/, ""));
    window.history.replaceState(null, "", url);
  }

  input.addEventListener("input", update);
})();
