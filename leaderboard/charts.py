"""Plotly figures of a board, built on the server and drawn by plotly.js from our own static files.

Each function returns the figure as JSON text; the benchmark page caches them with the board.

The figures are written as plain dicts, not as plotly's graph objects: those check every value
against plotly's schema, which took most of the time of a board's figures, and our inputs are our
own. The JSON is the same, byte for byte, as plotly's `Figure.to_json()` wrote it: the same
default template, traces and their parts with keys in alphabetical order (as plotly's classes set
them), the layout in the order `update_layout` leaves it, NumPy arrays as typed arrays.
"""

from __future__ import annotations

import base64
import functools
import html

import numpy as np
import plotly.colors
import plotly.io

import scoring
from leaderboard.boards import Board, Row, Rubric

# Targets drawn on the score-against-t chart: the closed form at 96 points from 0 to 0.95.
CURVE_TARGETS = np.round(np.linspace(0.0, 0.95, 96), 4)
COLOURS = {"correct": "#1a7f37", "abstained": "#9aa4ae", "wrong": "#b42318"}
# One colour per model, the same for its line and its markers and in every chart of the board:
# 24 distinct colours, so that the top 15 (and more) never share one; past 24 the dash differs.
PALETTE = plotly.colors.qualitative.Dark24
DASHES = ("solid", "dot", "dash")
BASELINE_COLOUR = "#5c6570"
DIAGONAL = {"dash": "dot", "color": "#5c6570", "width": 1}
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13}


def _trace(kind: str, **properties) -> dict:
    """A trace of this kind: its properties (and theirs) by name, "type" last; None left out."""
    return {**_sorted(properties), "type": kind}


def _sorted(properties: dict) -> dict:
    return {key: _plain(value) for key, value in sorted(properties.items()) if value is not None}


def _plain(value):
    if isinstance(value, dict):
        return _sorted(value)
    if isinstance(value, np.ndarray):
        return _typed_array(value)
    return value


def _typed_array(values: np.ndarray) -> dict:
    """A NumPy array of floats as plotly.js reads it: its bytes in base64, not a list of numbers."""
    data = np.ascontiguousarray(values, dtype="<f8")
    return {"dtype": "f8", "bdata": base64.b64encode(data).decode("ascii")}


@functools.cache
def _template() -> dict:
    # What plotly's Figure puts in every layout; plotly.js would draw with its own defaults instead.
    return plotly.io.templates[plotly.io.templates.default].to_plotly_json()


def _json(data: list[dict], layout: dict) -> str:
    return plotly.io.json.to_json_plotly({"data": data, "layout": layout})


def _label(row: Row) -> str:
    # Plotly reads a few HTML tags in its text; model names are shown as typed.
    return html.escape(row.model)


def _layout(**overrides) -> dict:
    """The house layout with these settings, nested ones first (as `update_layout` sets them)."""
    layout = {
        "font": FONT,
        "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        "hovermode": "closest",
    }
    layout.update(overrides)
    nested = {key: value for key, value in layout.items() if isinstance(value, dict)}
    return {**nested, **{key: value for key, value in layout.items() if key not in nested}}


def _diagonal(name: str) -> dict:
    """The line y = x of charts that compare a rate with the target or confidence it should meet."""
    return _trace(
        "scatter", x=[0, 1], y=[0, 1], mode="lines", line=DIAGONAL, name=name, hoverinfo="skip"
    )


def _unit_axis(title: str, *, percent: bool = True) -> dict:
    """An axis from 0 to 1 (a little more, so that points on 1 show whole)."""
    axis = {"title": {"text": title}, "range": [0, 1.02], "gridcolor": "#eef1f4"}
    if percent:
        axis["tickformat"] = ".0%"
    return axis


def _line(index: int, **properties) -> dict:
    """The line of the index-th model: its own colour, and its own dash past the palette."""
    line = {"color": PALETTE[index % len(PALETTE)], **properties}
    dash = DASHES[(index // len(PALETTE)) % len(DASHES)]
    if dash != "solid":
        line["dash"] = dash
    return line


# Pixels between the labels of models tied at one end of the bump chart: a line of its labels.
TIED_LABEL_SPACING = 14


def bump_chart(board: Board, rows: list[Row]) -> str:
    """Rank under each rubric, one line per model: the lines that cross are the story."""
    rubrics = board.rubrics
    x = [rubric.label for rubric in rubrics]
    traces, annotations = [], []
    # Models tied at an end share a rank and would share a line: each further one is written a
    # line lower, into the ranks the tie leaves empty below it (1, 2, 2, 4: rank 3 is free).
    tied: dict[tuple[str, int], int] = {}

    def tie_shift(side: str, rank: int) -> int:
        below = tied.get((side, rank), 0)
        tied[(side, rank)] = below + 1
        return -TIED_LABEL_SPACING * below

    for index, row in enumerate(rows):
        cells = [row.cells[rubric.key] for rubric in rubrics]
        hover = [
            f"<b>{_label(row)}</b><br>{rubric.label}: rank {cell.rank}, score {cell.score:.3f}"
            f"<br>correct {row.metrics['accuracy']:.1%} · wrong {row.metrics['error_rate']:.1%}"
            f" · abstained {row.metrics['abstention_rate']:.1%}"
            if cell.score is not None
            else f"<b>{_label(row)}</b><br>{rubric.label}: no score"
            for rubric, cell in zip(rubrics, cells, strict=True)
        ]
        traces.append(
            _trace(
                "scatter",
                x=x,
                y=[cell.rank for cell in cells],
                mode="lines+markers",
                name=_label(row),
                hovertext=hover,
                hoverinfo="text",
                line=_line(index, width=2),
                marker={"size": 8, "color": PALETTE[index % len(PALETTE)]},
            )
        )
        first, last = cells[0], cells[-1]
        if first.rank is not None:
            annotations.append(
                _sorted(
                    {
                        "x": x[0],
                        "y": first.rank,
                        "text": _label(row),
                        "xanchor": "right",
                        "showarrow": False,
                        "xshift": -10,
                        "yshift": tie_shift("first", first.rank),
                        "font": {"size": 11},
                    }
                )
            )
        if last.rank is not None:
            annotations.append(
                _sorted(
                    {
                        "x": x[-1],
                        "y": last.rank,
                        "text": _label(row),
                        "xanchor": "left",
                        "showarrow": False,
                        "xshift": 10,
                        "yshift": tie_shift("last", last.rank),
                        "font": {"size": 11},
                    }
                )
            )
    n = max(len(rows), 1)
    lowest = max((c.rank for r in rows for c in r.cells.values() if c.rank is not None), default=1)
    layout = _layout(
        height=max(300, 34 * n + 90),
        showlegend=False,
        margin={"l": 230, "r": 230, "t": 20, "b": 40},
        yaxis={
            # Reversed, from rank 1 at the top: no empty rank 0 above the leader.
            "range": [lowest + 0.5, 0.5],
            "title": {"text": "rank"},
            # Past 30 ranks plotly.js picks the step.
            **({"dtick": 1} if n <= 30 else {}),
            "zeroline": False,
            "gridcolor": "#eef1f4",
        },
        xaxis={"type": "category", "gridcolor": "#eef1f4"},
    )
    return _json(traces, {"annotations": annotations, "template": _template(), **layout})


def score_curves(board: Board, rows: list[Row]) -> str:
    """Each model's score as t rises, from its own answers: where lines cross, the careful win.

    At each rubric of the board a marker shows the model's score there with its 95% interval.
    """
    traces = []
    for index, row in enumerate(rows):
        line = _line(index)
        colour = line["color"]
        counts = row.counts
        scores = scoring.score_at_target(
            counts["correct"], counts["incorrect"], board.benchmark.n_items, CURVE_TARGETS
        )
        traces.append(
            _trace(
                "scatter",
                x=CURVE_TARGETS,
                y=scores,
                mode="lines",
                name=_label(row),
                legendgroup=str(row.id),
                line=line,
                hovertemplate=f"<b>{_label(row)}</b><br>t = %{{x:.2f}}: score %{{y:.3f}}"
                "<extra></extra>",
            )
        )
        marked = [
            (rubric, row.cells[rubric.key])
            for rubric in board.rubrics
            if row.cells[rubric.key].score is not None
        ]
        if not marked:
            continue
        # A prompted run's score need not lie on the line of the default run's answers.
        traces.append(
            _trace(
                "scatter",
                x=[rubric.target for rubric, _ in marked],
                y=[cell.score for _, cell in marked],
                mode="markers",
                name=_label(row),
                legendgroup=str(row.id),
                showlegend=False,
                marker={"color": colour, "size": 7},
                error_y=_error_bars(
                    [cell.score for _, cell in marked], [c.interval for _, c in marked]
                ),
                hovertext=[
                    f"<b>{_label(row)}</b><br>{rubric.label}: score {cell.score:.3f}"
                    + (_interval_text(cell.interval, "{:.3f}"))
                    + (" · prompted" if cell.prompted else "")
                    for rubric, cell in marked
                ],
                hoverinfo="text",
            )
        )
    for baseline in board.baselines:
        # Reference lines, never ranked: a model below one does worse than a trivial strategy.
        traces.append(
            _trace(
                "scatter",
                x=CURVE_TARGETS,
                y=baseline.score_at(CURVE_TARGETS),
                mode="lines",
                name=f"{baseline.name} (reference)",
                line={"color": BASELINE_COLOUR, "dash": "dash", "width": 2},
                hovertemplate=f"<b>{baseline.name}</b> (reference)<br>t = %{{x:.2f}}: "
                "score %{y:.3f}<extra></extra>",
            )
        )
    layout = {"template": _template()}
    annotations = [
        _sorted(
            {
                "x": 0,
                "y": float(baseline.score_at(0.0)),
                "text": baseline.name,
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"color": BASELINE_COLOUR, "size": 11},
            }
        )
        for baseline in board.baselines
    ]
    if annotations:
        layout["annotations"] = annotations
    # A dotted vertical line at each target, labelled above the plot: a shape, then its label, as
    # plotly's add_vline adds them (without baselines, "shapes" comes first in the layout).
    for rubric in board.targets:
        layout.setdefault("shapes", []).append(
            _sorted(
                {
                    "type": "line",
                    "x0": rubric.target,
                    "x1": rubric.target,
                    "xref": "x",
                    "y0": 0,
                    "y1": 1,
                    "yref": "y domain",
                    "line": {"dash": "dot", "color": "#5c6570", "width": 1},
                }
            )
        )
        layout.setdefault("annotations", []).append(
            _sorted(
                {
                    "x": rubric.target,
                    "y": 1,
                    "xref": "x",
                    "yref": "y domain",
                    "text": f"t = {rubric.key}",
                    "showarrow": False,
                    "xanchor": "center",
                    "yanchor": "bottom",
                }
            )
        )
    layout |= _layout(
        height=460,
        xaxis={
            "title": {"text": "confidence target t (a wrong answer costs t/(1−t))"},
            "range": [-0.02, 0.95],
            "gridcolor": "#eef1f4",
        },
        yaxis={
            "title": {"text": "score (markers: 95% interval)"},
            "zerolinecolor": "#5c6570",
            "gridcolor": "#eef1f4",
            "range": _curve_range(board, rows),
        },
        legend={"font": {"size": 11}},
    )
    return _json(traces, layout)


def _error_bars(values: list[float], intervals: list[list[float] | None]) -> dict:
    """Plotly error bars from [low, high] intervals around values; none where unknown."""
    plus = [
        None if i is None else max(i[1] - v, 0.0) for v, i in zip(values, intervals, strict=True)
    ]
    minus = [
        None if i is None else max(v - i[0], 0.0) for v, i in zip(values, intervals, strict=True)
    ]
    return {
        "type": "data",
        "symmetric": False,
        "array": plus,
        "arrayminus": minus,
        "visible": any(i is not None for i in intervals),
        "thickness": 1.2,
        "width": 3,
    }


def _interval_text(interval: list[float] | None, form: str) -> str:
    if not interval:
        return ""
    return f" (95% interval {form.format(interval[0])} to {form.format(interval[1])})"


def _curve_range(board: Board, rows: list[Row]) -> list[float]:
    # Beyond t = 0.9 a bluffer's line plunges; keep the axis on the part where lines cross.
    strictest = board.strictest.target if board.strictest else 0.9
    n = board.benchmark.n_items or 1
    lows = [
        scoring.score_at_target(r.counts["correct"], r.counts["incorrect"], n, strictest)
        for r in rows
    ]
    highs = [r.counts["correct"] / n for r in rows]
    highs += [float(baseline.score_at(0.0)) for baseline in board.baselines]
    # The line of abstaining on everything (0) is always in view.
    low, high = min([0.0, *lows]), max([0.0, *highs])
    pad = (high - low) * 0.05 or 0.05
    return [low - pad, high + pad]


def outcome_bars(bars: list[tuple]) -> str:
    """Correct, abstained and wrong shares per bar: the paper's table as a picture.

    Each bar is (label, accuracy, abstention rate, error rate) and optionally the intervals of
    those rates ({"accuracy": [low, high], "error_rate": …, "abstention_rate": …}), drawn top to
    bottom in order. Error bars mark the two boundaries that the intervals place: where correct
    ends (the accuracy) and where wrong begins (1 − the error rate).
    """
    ordered = list(reversed(bars))
    labels = [html.escape(bar[0]) for bar in ordered]
    intervals = [bar[4] if len(bar) > 4 and bar[4] else {} for bar in ordered]
    traces = []
    for position, outcome in ((1, "correct"), (2, "abstained"), (3, "wrong")):
        rate = ("accuracy", "abstention_rate", "error_rate")[position - 1]
        error_x = None
        if outcome == "correct":
            error_x = _error_bars(
                [bar[1] for bar in ordered], [i.get("accuracy") for i in intervals]
            )
        elif outcome == "abstained":
            # The abstained segment ends where wrong begins, at 1 − error rate.
            ends = [1 - bar[3] for bar in ordered]
            mirrored = [
                [1 - i["error_rate"][1], 1 - i["error_rate"][0]] if i.get("error_rate") else None
                for i in intervals
            ]
            error_x = _error_bars(ends, mirrored)
        traces.append(
            _trace(
                "bar",
                y=labels,
                x=[bar[position] for bar in ordered],
                name=outcome,
                orientation="h",
                marker={"color": COLOURS[outcome]},
                error_x=error_x,
                hovertext=[
                    f"{label}: {outcome} {bar[position]:.1%}"
                    + _interval_text([100 * v for v in i[rate]] if i.get(rate) else None, "{:.1f}%")
                    for label, bar, i in zip(labels, ordered, intervals, strict=True)
                ],
                hoverinfo="text",
            )
        )
    layout = _layout(
        barmode="stack",
        # The plot area (height less the margins) is at least 200 px.
        height=max(300, 26 * len(bars) + 110),
        margin={"l": 230, "r": 20, "t": 50, "b": 40},
        xaxis={"tickformat": ".0%", "range": [0, 1], "gridcolor": "#eef1f4"},
        legend={
            "orientation": "h",
            "y": 1.0,
            "yanchor": "bottom",
            "x": 0,
            "traceorder": "normal",
        },
    )
    return _json(traces, {"template": _template(), **layout})


def behaviour_chart(models: list[tuple[str, list[dict]]]) -> str:
    """Accuracy given attempted of each run prompted at t, against t, with the diagonal.

    `models` holds (model name, prompted runs), each run a dict with "target",
    "accuracy_given_attempted", "interval" ([low, high] or None) and "calibrated". A model that
    answers exactly when it is more than t confident stays on or above the diagonal.
    """
    traces = [_diagonal("accuracy = t")]
    for index, (model, runs) in enumerate(models):
        name = html.escape(model)
        values = [run["accuracy_given_attempted"] for run in runs]
        traces.append(
            _trace(
                "scatter",
                x=[run["target"] for run in runs],
                y=values,
                mode="lines+markers",
                name=name,
                line={"color": PALETTE[index % len(PALETTE)], "width": 1.5},
                marker={
                    "size": 9,
                    "symbol": ["circle" if run["calibrated"] else "x" for run in runs],
                },
                error_y=_error_bars(values, [run.get("interval") for run in runs]),
                hovertext=[
                    f"<b>{name}</b><br>prompted at t = {run['target']:g}: accuracy given "
                    f"attempted {run['accuracy_given_attempted']:.1%}"
                    + _interval_text(
                        [100 * v for v in run["interval"]] if run.get("interval") else None,
                        "{:.1f}%",
                    )
                    + ("<br>calibrated" if run["calibrated"] else "<br>below t: not calibrated")
                    for run in runs
                ],
                hoverinfo="text",
            )
        )
    layout = _layout(
        height=420,
        xaxis=_unit_axis("target t the run was prompted with", percent=False),
        yaxis=_unit_axis("accuracy given attempted"),
        legend={"font": {"size": 11}},
    )
    return _json(traces, {"template": _template(), **layout})


def reliability_diagram(calibration: dict) -> str:
    """Share answered correctly against stated confidence, per bin of confidence."""
    bins = [row for row in calibration["bins"] if row["n"]]
    traces = [
        _diagonal("calibrated"),
        _trace(
            "bar",
            x=[(row["low"] + row["high"]) / 2 for row in bins],
            y=[row["accuracy"] for row in bins],
            width=[(row["high"] - row["low"]) * 0.92 for row in bins],
            name="share correct",
            marker={"color": COLOURS["correct"], "opacity": 0.75},
            hovertext=[
                f"confidence {row['low']:g}–{row['high']:g}: {row['n']:,} answers, "
                f"mean confidence {row['confidence']:.1%}, correct {row['accuracy']:.1%}"
                for row in bins
            ],
            hoverinfo="text",
        ),
        _trace(
            "scatter",
            x=[row["confidence"] for row in bins],
            y=[row["accuracy"] for row in bins],
            mode="markers",
            name="mean confidence",
            marker={"color": "#1f2328", "size": 7},
            hoverinfo="skip",
        ),
    ]
    layout = _layout(
        height=360,
        xaxis=_unit_axis("stated confidence"),
        yaxis=_unit_axis("share correct"),
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "x": 0},
    )
    return _json(traces, {"template": _template(), **layout})


def risk_coverage_chart(calibration: dict) -> str:
    """Share wrong among the answers kept, keeping the most confident first."""
    curve = calibration["risk_coverage"]
    trace = _trace(
        "scatter",
        x=curve["coverage"],
        y=curve["risk"],
        mode="lines",
        line={"color": COLOURS["wrong"], "width": 2},
        name="risk",
        hovertemplate="keeping the %{x:.0%} most confident answers: %{y:.1%} wrong<extra></extra>",
    )
    layout = _layout(
        height=340,
        showlegend=False,
        xaxis={
            "title": {"text": "coverage (share of answers kept, most confident first)"},
            "range": [0, 1],
            "tickformat": ".0%",
            "gridcolor": "#eef1f4",
        },
        yaxis={
            "title": {"text": "risk (share wrong)"},
            "rangemode": "tozero",
            "tickformat": ".0%",
            "gridcolor": "#eef1f4",
        },
    )
    return _json([trace], {"template": _template(), **layout})


def model_ranks(lines: list[tuple[str, list[tuple[Rubric, int | None, int]]]]) -> str:
    """One model's rank under each rubric, one line per benchmark (its name, and per rubric the
    rank and how many models that rubric ranks): a line that falls is a benchmark where
    rewarding abstention lifts the model."""
    rubrics = sorted(
        {rubric for _, standings in lines for rubric, _, _ in standings},
        key=lambda rubric: rubric.target,
    )
    order = [rubric.label for rubric in rubrics]
    traces = []
    for at, (name, standings) in enumerate(lines):
        x = [rubric.label for rubric, _, _ in standings]
        hover = [
            f"<b>{html.escape(name)}</b><br>{rubric.label}: rank {rank} of {n}"
            if rank is not None
            else f"<b>{html.escape(name)}</b><br>{rubric.label}: no score"
            for rubric, rank, n in standings
        ]
        traces.append(
            _trace(
                "scatter",
                x=x,
                y=[rank for _, rank, _ in standings],
                mode="lines+markers",
                name=html.escape(name),
                hovertext=hover,
                hoverinfo="text",
                line={"width": 2, "color": PALETTE[at % len(PALETTE)]},
                marker={"size": 8, "color": PALETTE[at % len(PALETTE)]},
            )
        )
    worst = max((rank or 1 for _, standings in lines for _, rank, _ in standings), default=1)
    layout = _layout(
        # Tall enough for a plot area of 200 px under a legend of a few lines on a phone.
        height=360 + 20 * len(lines),
        showlegend=True,
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 20, "b": 40},
        yaxis={
            # Rank 1 on top, and no rank 0 drawn above it.
            "range": [worst + 0.5, 0.5],
            "title": {"text": "rank on the benchmark"},
            **({"dtick": 1} if worst <= 30 else {}),
            "zeroline": False,
            "gridcolor": "#eef1f4",
        },
        xaxis={
            "type": "category",
            "categoryorder": "array",
            "categoryarray": order,
            "gridcolor": "#eef1f4",
        },
    )
    return _json(traces, {"template": _template(), **layout})
