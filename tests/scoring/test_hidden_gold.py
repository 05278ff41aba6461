"""Hidden gold: on a benchmark whose answers are not public no figure covers fewer than K
answered items, and a prediction file is held to runs that answer at least K items each, at the
benchmark's targets or none."""

import io

import numpy as np
import pytest

from scoring import (
    BenchmarkConfig,
    FileRejected,
    agreement_disclosed,
    read_gold,
    read_predictions,
    score_predictions,
    statistics,
)
from scoring.outcomes import OUTCOME_ABSTAINED, OUTCOME_CORRECT, OUTCOME_INCORRECT

C, W, A = OUTCOME_CORRECT, OUTCOME_INCORRECT, OUTCOME_ABSTAINED
K = 25
N = 200
LETTERS = "ABCD"


def key(seed: int = 3) -> list[str]:
    return list(np.random.default_rng(seed).choice(list(LETTERS), size=N))


def gold(categories: list[str] | None = None):
    lines = ["id,answer,category"]
    for i, letter in enumerate(key()):
        lines.append(f"q{i},{letter},{categories[i] if categories else ''}")
    return read_gold("\n".join(lines).encode(), filename="gold.csv", grader="choice")


def config(k: int = K) -> BenchmarkConfig:
    return BenchmarkConfig(grader="choice", min_items_per_figure=k, n_resamples=0)


def predictions_csv(rows: list[tuple]) -> bytes:
    out = io.StringIO()
    out.write("id,answer,confidence,target\n")
    for item, answer, confidence, target in rows:
        out.write(f"q{item},{answer},{'' if confidence is None else confidence},")
        out.write(f"{'' if target is None else target}\n")
    return out.getvalue().encode()


def score(rows: list[tuple], k: int = K, categories: list[str] | None = None):
    g = gold(categories)
    predictions = read_predictions(
        predictions_csv(rows), filename="p.csv", gold=g, config=config(k)
    )
    return score_predictions(g, predictions, config(k))


def rejected(rows: list[tuple], k: int = K) -> list[str]:
    with pytest.raises(FileRejected) as caught:
        score(rows, k)
    return caught.value.errors


# --- runs --------------------------------------------------------------------------------------


def test_it_rejects_a_run_answering_fewer_than_k_items():
    rows = [(i, "A", None, None) for i in range(K - 1)]
    rows += [(i, "I don't know", None, None) for i in range(K - 1, N)]
    errors = rejected(rows)
    assert errors == [
        'run "default" answers 24 items (abstentions do not count); this benchmark\'s answers '
        "are hidden, so every run must answer at least 25"
    ]
    # One item answered more and the file is scored.
    rows[K - 1] = (K - 1, "B", None, None)
    assert score(rows).primary.correct + score(rows).primary.incorrect == K


def test_it_rejects_the_single_item_run_whatever_that_item_holds():
    # The message must not depend on the answer key: right or wrong, the same words.
    truth = key()[0]
    wrong = next(letter for letter in LETTERS if letter != truth)
    assert rejected([(0, truth, None, None)]) == rejected([(0, wrong, None, None)])


def test_it_checks_every_run_and_counts_abstentions_as_not_answering():
    rows = [(i, "A", None, None) for i in range(N)]
    rows += [(i, "A", None, 0.5) for i in range(30)]
    rows += [(i, "idk", None, 0.75) for i in range(30, N)]
    rows += [(i, "A", None, 0.9) for i in range(5)]
    errors = rejected(rows)
    assert errors == [
        'run "0.75" answers 0 items (abstentions do not count); this benchmark\'s answers are '
        "hidden, so every run must answer at least 25",
        'run "0.9" answers 5 items (abstentions do not count); this benchmark\'s answers are '
        "hidden, so every run must answer at least 25",
    ]


def test_it_limits_runs_to_the_benchmarks_targets_and_the_default_run():
    rows = [(i, "A", None, None) for i in range(N)]
    rows += [(i, "A", None, 0.3) for i in range(N)]
    rows += [(i, "A", None, 0) for i in range(N)]
    errors = rejected(rows)
    assert len(errors) == 2
    assert errors[0].startswith("row 202: target 0.3 is not a target of this benchmark")
    assert errors[1].startswith("row 402: target 0 is not a target of this benchmark")
    assert errors[0].endswith(
        "its answers are hidden, so runs are limited to its targets (0.5, 0.75, 0.9) and the "
        "default run (rows without a target)"
    )


def test_public_gold_keeps_every_run_and_every_figure():
    rows = [(0, "A", 0.9, None), (1, "B", 0.8, 0.3)]
    result = score(rows, k=0)
    assert [run.key for run in result.runs] == ["default", "0.3"]
    curve = result.runs[0].confidence_calibration["risk_coverage"]
    assert curve["coverage"] == [1 / 1]


# --- figures over the answered items -------------------------------------------------------------


def confidences(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).permutation(np.linspace(0.01, 0.99, n))


def test_it_steps_the_risk_coverage_curve_by_at_least_k_answers():
    rng = np.random.default_rng(7)
    for n in (25, 49, 50, 51, 101, 137, 300):
        conf = confidences(n)
        right = rng.random(n) < 0.5
        outcomes = np.where(right, C, W)
        calibration = statistics.confidence_calibration(outcomes, conf, min_items=K)
        answers = np.rint(np.array(calibration["risk_coverage"]["coverage"]) * n).astype(int)
        steps = np.diff(np.concatenate([[0], answers]))
        assert answers[-1] == n
        assert (steps >= K).all(), (n, steps)
        # Each point is the exact share wrong among the most confident answers kept.
        order = np.argsort(-conf)
        wrong = np.cumsum(~right[order])
        np.testing.assert_allclose(
            calibration["risk_coverage"]["risk"], wrong[answers - 1] / answers
        )


def test_it_never_splits_equal_confidences_between_steps():
    n = 120
    conf = np.repeat([0.9, 0.8, 0.7, 0.6], [20, 20, 50, 30])
    outcomes = np.where(np.arange(n) % 3 == 0, W, C)
    calibration = statistics.confidence_calibration(outcomes, conf, min_items=K)
    answers = np.rint(np.array(calibration["risk_coverage"]["coverage"]) * n).astype(int)
    assert list(answers) == [40, 90, 120]


def test_it_merges_reliability_bins_until_each_holds_k_answers():
    n = 120
    conf = np.concatenate([np.full(3, 0.05), np.full(30, 0.35), np.full(80, 0.75), [0.95] * 7])
    outcomes = np.where(np.arange(n) % 2 == 0, C, W)
    calibration = statistics.confidence_calibration(outcomes, conf, min_items=K)
    bins = calibration["bins"]
    assert [(b["low"], b["high"], b["n"]) for b in bins] == [(0.0, 0.4, 33), (0.4, 1.0, 87)]
    assert all(b["n"] >= K for b in bins)
    # The Brier score weighs every answer by its own confidence: not given.
    assert calibration["brier"] is None


def test_the_brier_score_no_longer_spells_out_the_answers():
    # Confidences 2^-i: the Brier score, in full, is a binary number of the answers right.
    n = 40
    conf = 2.0 ** -np.arange(1, n + 1)
    first = np.where(np.arange(n) % 2 == 0, C, W)
    second = first.copy()
    second[[0, 1]] = second[[1, 0]]
    public = [statistics.confidence_calibration(o, conf)["brier"] for o in (first, second)]
    assert public[0] != public[1]
    # Hidden: two answers swapped within one block change nothing shown, the area included.
    hidden = [statistics.confidence_calibration(o, conf, min_items=K) for o in (first, second)]
    assert hidden[0] == hidden[1]


def test_it_leaves_out_calibration_when_the_answers_without_a_confidence_are_few():
    n = 60
    conf = np.full(n, np.nan)
    conf[: n - 3] = confidences(n - 3)
    outcomes = np.where(np.arange(n) % 2 == 0, C, W)
    assert statistics.confidence_calibration(outcomes, conf, min_items=K) is None
    assert statistics.confidence_calibration(outcomes, conf) is not None


def test_it_shows_a_category_only_over_k_answers_and_hides_a_small_remainder():
    categories = ["big"] * 100 + ["middle"] * 60 + ["small"] * 30 + ["tiny"] * 10
    rows = [(i, "A", None, None) for i in range(100)]  # big: 100 answered
    rows += [(i, "A", None, None) for i in range(100, 130)]  # middle: 30 answered
    rows += [(i, "A", None, None) for i in range(160, 163)]  # small: 3 answered
    result = score(rows, categories=categories)
    # small (3 answers) and tiny (none) are left out; the 3 answers outside the rows shown
    # would follow from the run's counts, so the category with fewest answers goes too.
    assert sorted(result.primary.categories) == ["big"]
    assert result.primary.categories_not_shown == 3
    assert result.primary.to_dict()["categories_not_shown"] == 3
    public = score(rows, k=0, categories=categories)
    assert sorted(public.primary.categories) == ["big", "middle", "small", "tiny"]


def test_it_gives_the_score_abstaining_below_t_only_over_k_answers_kept_and_dropped():
    rows = [(i, "A", 0.95, None) for i in range(3)]
    rows += [(i, "A", 0.6, None) for i in range(3, 60)]
    below = score(rows).primary.scores_abstaining_below
    # t = 0 and 0.5 drop nothing; 0.75 and 0.9 keep three answers.
    assert below["0"] is not None and below["0.5"] is not None
    assert below["0.75"] is None and below["0.9"] is None
    assert None not in score(rows, k=0).primary.scores_abstaining_below.values()


# --- the agreement matrix ------------------------------------------------------------------------


def test_it_withholds_the_agreement_of_two_runs_that_differ_in_one_item():
    first = np.where(np.arange(N) % 2 == 0, C, W)
    second = first.copy()
    second[7] = A
    assert not agreement_disclosed(first, second, min_items=K)
    assert agreement_disclosed(first, second, min_items=0)


def test_it_withholds_the_agreement_when_a_cell_of_items_both_answered_is_small():
    rng = np.random.default_rng(4)
    first = np.where(rng.random(N) < 0.5, C, W)
    second = np.where(rng.random(N) < 0.5, C, W)
    assert agreement_disclosed(first, second, min_items=K)
    # The same answers but on one item where the first is right: a cell of one.
    same = first.copy()
    same[np.flatnonzero(first == C)[0]] = W
    assert not agreement_disclosed(first, same, min_items=K)


def test_significance_ranks_tell_apart_only_the_pairs_allowed():
    low = np.zeros(100)
    high = np.ones(100)
    plain = statistics.significance_ranks(np.stack([high, low]))
    assert list(plain.rank) == [1, 2] and list(plain.low) == [1, 2]
    kept_apart = np.zeros((2, 2), dtype=bool)
    tied = statistics.significance_ranks(np.stack([high, low]), comparable=kept_apart)
    assert list(tied.rank) == [1, 1] and list(tied.low) == [2, 2]
    assert np.isnan(tied.beats).all()


def test_a_category_row_never_cuts_a_confidence_bin_into_a_few_answers():
    # Category x: items 0-29. The run puts x and one more item (30) in the top bin: the top bin
    # minus x's row would be item 30 alone. Neither category may be shown.
    categories = ["x"] * 30 + ["y"] * (N - 30)
    rows = [(i, "A", 0.95, None) for i in range(31)]
    rows += [(i, "A", 0.3, None) for i in range(31, 100)]
    result = score(rows, categories=categories)
    bins = result.primary.confidence_calibration["bins"]
    assert [b["n"] for b in bins] == [69, 31]
    assert result.primary.categories == {}
    assert result.primary.categories_not_shown == 2
    assert sorted(score(rows, k=0, categories=categories).primary.categories) == ["x", "y"]
    # Without confidences the same answers show both rows: nothing cuts them.
    plain = score([(i, "A", None, None) for i in range(100)], categories=categories)
    assert sorted(plain.primary.categories) == ["x", "y"]
