// Draws the figures the server built: each [data-figure] element names its JSON script tag.
// On a narrow screen the figures are laid out again (fewer labels, legend below, a taller plot),
// and with a dark system theme they take dark colours; both follow the screen as it changes.
(function () {
  "use strict";
  if (!window.Plotly) return;
  var narrow = window.matchMedia("(max-width: 640px)");
  var dark = window.matchMedia("(prefers-color-scheme: dark)");
  var CONFIG = {
    responsive: true,
    displaylogo: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d"],
  };
  // Colours of static/css/site.css in its dark theme.
  var DARK = { paper: "#14181d", plot: "#14181d", ink: "#e6e9ed", grid: "#2c333b", zero: "#6b7580" };
  // Longest model name shown beside the bump chart on a narrow screen (hover shows it whole).
  var NARROW_LABEL = 24;

  function copy(value) {
    return JSON.parse(JSON.stringify(value));
  }

  // Cut in the middle: names of one family differ at their ends (dates, sizes) as often as at
  // their starts.
  function shorten(text) {
    if (text.length <= NARROW_LABEL) return text;
    var tail = 8;
    return text.slice(0, NARROW_LABEL - tail - 1) + "…" + text.slice(-tail);
  }

  function legendEntries(data) {
    return data.filter(function (trace) {
      return trace.showlegend !== false;
    }).length;
  }

  // The legend as rows under the plot, and the figure taller by as much, so that the plot area
  // keeps its height.
  function legendBelow(layout, data) {
    layout.legend = Object.assign(layout.legend || {}, {
      orientation: "h",
      x: 0,
      xanchor: "left",
      y: -0.22,
      yanchor: "top",
    });
    layout.height = (layout.height || 450) + 24 * legendEntries(data) + 40;
  }

  function forNarrowScreen(id, layout, data) {
    layout.margin = Object.assign({}, layout.margin, {
      l: Math.min((layout.margin || {}).l || 60, 44),
      r: Math.min((layout.margin || {}).r || 20, 12),
    });
    ["xaxis", "yaxis"].forEach(function (axis) {
      if (layout[axis]) layout[axis].automargin = true;
    });
    if (id === "bump-chart") {
      // Names at the last rubric only, cut short, in a right margin of their own.
      layout.annotations = (layout.annotations || [])
        .filter(function (note) {
          return note.xanchor === "left";
        })
        .map(function (note) {
          return Object.assign(note, { text: shorten(note.text), xshift: 6, font: { size: 10 } });
        });
      layout.margin.l = 36;
      layout.margin.r = 150;
      layout.yaxis.title = { text: "" };
      layout.xaxis.tickfont = { size: 10 };
      return;
    }
    // Titles and legends wrap on a narrow screen: room for them, beside the plot's own.
    layout.height = (layout.height || 450) + 40;
    if (id === "outcomes-chart" && data.length) {
      // Model names beside the bars, cut short as beside the bump chart.
      var names = data[0].y || [];
      layout.yaxis = Object.assign(layout.yaxis || {}, {
        tickmode: "array",
        tickvals: names,
        ticktext: names.map(shorten),
        tickfont: { size: 10 },
      });
    }
    if (id === "curves-chart") {
      // The targets' labels lose their "t = ", the axis titles their explanations.
      (layout.annotations || []).forEach(function (note) {
        if (note.yref === "y domain") note.text = note.text.replace("t = ", "");
      });
      layout.xaxis.title = { text: "confidence target t" };
      layout.yaxis.title = { text: "score" };
    }
    if (layout.showlegend !== false && legendEntries(data) > 1) {
      if (!layout.legend || layout.legend.orientation !== "h") legendBelow(layout, data);
    }
  }

  function forDarkTheme(layout) {
    layout.paper_bgcolor = DARK.paper;
    layout.plot_bgcolor = DARK.plot;
    layout.font = Object.assign({}, layout.font, { color: DARK.ink });
    Object.keys(layout).forEach(function (key) {
      if (/^[xy]axis\d*$/.test(key)) {
        layout[key].gridcolor = DARK.grid;
        layout[key].zerolinecolor = DARK.zero;
        layout[key].linecolor = DARK.grid;
      }
    });
    (layout.annotations || []).forEach(function (note) {
      if (!note.font || !note.font.color) note.font = Object.assign({}, note.font, { color: DARK.ink });
    });
  }

  function layoutFor(element, figure) {
    var layout = copy(figure.layout);
    if (narrow.matches) forNarrowScreen(element.id, layout, figure.data);
    if (dark.matches) forDarkTheme(layout);
    return layout;
  }

  var charts = [];
  document.querySelectorAll("[data-figure]").forEach(function (element) {
    var source = document.getElementById(element.dataset.figure);
    if (!source) return;
    charts.push({ element: element, figure: JSON.parse(source.textContent) });
  });

  function draw() {
    return Promise.all(
      charts.map(function (chart) {
        return window.Plotly.react(
          chart.element,
          chart.figure.data,
          layoutFor(chart.element, chart.figure),
          CONFIG
        );
      })
    ).then(function () {
      document.body.dataset.chartsReady = "yes";
    });
  }

  draw();
  [narrow, dark].forEach(function (query) {
    query.addEventListener("change", draw);
  });
})();
