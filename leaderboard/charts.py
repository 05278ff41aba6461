"""Plotly figures of a board, built on the server and drawn by plotly.js from our own static files.

Each function returns the figure as JSON text; the benchmark page caches them with the board.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

import scoring
from leaderboard.selectors import Board, Row

# Targets drawn on the score-against-t chart: the closed form at 96 points from 0 to 0.95.
CURVE_TARGETS = np.round(np.linspace(0.0, 0.95, 96), 4)
COLOURS = {"correct": "#1a7f37", "abstained": "#9aa4ae", "wrong": "#b42318"}
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13}


def _label(row: Row) -> str:
    # Plotly reads a few HTML tags in its text; model names are shown as typed.
    return html.escape(row.model)


def _layout(**overrides) -> dict:
    layout = {
        "font": FONT,
        "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        "hovermode": "closest",
    }
    layout.update(overrides)
    return layout


def bump_chart(board: Board, rows: list[Row]) -> str:
    """Rank under each rubric, one line per model: the lines that cross are the story."""
    rubrics = board.rubrics
    x = [rubric.label for rubric in rubrics]
    figure = go.Figure()
    for row in rows:
        cells = [row.cells[rubric.key] for rubric in rubrics]
        hover = [
            f"<b>{_label(row)}</b><br>{rubric.label}: rank {cell.rank}, score {cell.score:.3f}"
            f"<br>correct {row.metrics['accuracy']:.1%} · wrong {row.metrics['error_rate']:.1%}"
            f" · abstained {row.metrics['abstention_rate']:.1%}"
            if cell.score is not None
            else f"<b>{_label(row)}</b><br>{rubric.label}: no score"
            for rubric, cell in zip(rubrics, cells, strict=True)
        ]
        figure.add_trace(
            go.Scatter(
                x=x,
                y=[cell.rank for cell in cells],
                mode="lines+markers",
                name=_label(row),
                hovertext=hover,
                hoverinfo="text",
                line={"width": 2},
                marker={"size": 8},
            )
        )
        first, last = cells[0], cells[-1]
        if first.rank is not None:
            figure.add_annotation(
                x=x[0],
                y=first.rank,
                text=_label(row),
                xanchor="right",
                showarrow=False,
                xshift=-10,
                font={"size": 11},
            )
        if last.rank is not None:
            figure.add_annotation(
                x=x[-1],
                y=last.rank,
                text=_label(row),
                xanchor="left",
                showarrow=False,
                xshift=10,
                font={"size": 11},
            )
    n = max(len(rows), 1)
    figure.update_layout(
        _layout(
            height=max(260, 34 * n + 80),
            showlegend=False,
            margin={"l": 230, "r": 230, "t": 20, "b": 40},
            yaxis={
                "autorange": "reversed",
                "title": "rank",
                "dtick": 1 if n <= 30 else None,
                "zeroline": False,
                "gridcolor": "#eef1f4",
            },
            xaxis={"type": "category", "gridcolor": "#eef1f4"},
        )
    )
    return figure.to_json()


def score_curves(board: Board, rows: list[Row]) -> str:
    """Each model's score as t rises, from its own answers: where lines cross, the careful win."""
    figure = go.Figure()
    for row in rows:
        counts = row.counts
        scores = scoring.score_at_target(
            counts["correct"], counts["incorrect"], board.benchmark.n_items, CURVE_TARGETS
        )
        figure.add_trace(
            go.Scatter(
                x=CURVE_TARGETS,
                y=scores,
                mode="lines",
                name=_label(row),
                hovertemplate=f"<b>{_label(row)}</b><br>t = %{{x:.2f}}: score %{{y:.3f}}"
                "<extra></extra>",
            )
        )
    for rubric in board.targets:
        figure.add_vline(
            x=rubric.target,
            line={"dash": "dot", "color": "#5c6570", "width": 1},
            annotation_text=f"t = {rubric.key}",
            annotation_position="top",
        )
    figure.update_layout(
        _layout(
            height=460,
            xaxis={
                "title": "confidence target t (a wrong answer costs t/(1−t))",
                "range": [0, 0.95],
                "gridcolor": "#eef1f4",
            },
            yaxis={
                "title": "score",
                "zerolinecolor": "#5c6570",
                "gridcolor": "#eef1f4",
                "range": _curve_range(board, rows),
            },
            legend={"font": {"size": 11}},
        )
    )
    return figure.to_json()


def _curve_range(board: Board, rows: list[Row]) -> list[float]:
    # Beyond t = 0.9 a bluffer's line plunges; keep the axis on the part where lines cross.
    strictest = board.strictest.target if board.strictest else 0.9
    n = board.benchmark.n_items or 1
    lows = [
        scoring.score_at_target(r.counts["correct"], r.counts["incorrect"], n, strictest)
        for r in rows
    ]
    highs = [r.counts["correct"] / n for r in rows]
    low, high = min(lows, default=-1.0), max(highs, default=1.0)
    pad = (high - low) * 0.05 or 0.05
    return [low - pad, high + pad]


def outcome_bars(bars: list[tuple[str, float, float, float]]) -> str:
    """Correct, abstained and wrong shares per bar: the paper's table as a picture.

    Each bar is (label, accuracy, abstention rate, error rate), drawn top to bottom in order.
    """
    labels = [html.escape(bar[0]) for bar in reversed(bars)]
    figure = go.Figure()
    for position, outcome in ((1, "correct"), (2, "abstained"), (3, "wrong")):
        figure.add_trace(
            go.Bar(
                y=labels,
                x=[bar[position] for bar in reversed(bars)],
                name=outcome,
                orientation="h",
                marker={"color": COLOURS[outcome]},
                hovertemplate=f"%{{y}}: {outcome} %{{x:.1%}}<extra></extra>",
            )
        )
    figure.update_layout(
        _layout(
            barmode="stack",
            height=max(220, 26 * len(bars) + 90),
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
    )
    return figure.to_json()
