"""The real data: SimpleQA in Czech (pregraded) and MMLU-Pro (choice).

Read from the gzip copies the project ships in demo/ (the files of ../shared/data, compressed), so
these tests never depend on anything outside the repository; the counts are those of
../shared/data/README.md.
"""

from pathlib import Path

import pandas as pd
import pytest

from scoring import (
    BenchmarkConfig,
    rank_table,
    read_gold,
    read_predictions,
    score_predictions,
)

DATA = Path(__file__).resolve().parents[2] / "demo"

N_SIMPLEQA = 4326
PRESENT_SIMPLEQA = 4318
# The judge's letters per model, from ../shared/data/README.md: A correct, B incorrect, C not
# attempted.
JUDGED = {
    "claude-3-5-haiku-20241022": (338, 2568, 1412),
    "claude-3-5-sonnet-20240620": (827, 1273, 2218),
    "claude-3-5-sonnet-20241022": (1224, 2323, 771),
    "gpt-4o-2024-11-20": (1342, 2899, 77),
    "gpt-4o-mini-2024-07-18": (347, 3905, 66),
}
RUBRICS = ["0", "0.5", "0.75", "0.9"]


def simpleqa_cs(config: BenchmarkConfig) -> dict:
    gold = read_gold(
        DATA / "simpleqa-cs" / "gold.csv.gz", filename="gold.csv.gz", grader="pregraded"
    )
    assert gold.n_items == N_SIMPLEQA
    results = {}
    for path in sorted((DATA / "simpleqa-cs" / "predictions").glob("*.csv.gz")):
        rows = read_predictions(path, filename=path.name, gold=gold, config=config)
        results[path.name.removesuffix(".csv.gz")] = score_predictions(gold, rows, config)
    return results


def test_it_gives_the_judges_counts_on_simpleqa_cs_when_the_grades_decide_alone():
    results = simpleqa_cs(BenchmarkConfig(grader="pregraded", abstention_phrases=()))
    assert set(results) == set(JUDGED)
    for model, (correct, incorrect, not_attempted) in JUDGED.items():
        run = results[model].primary
        assert (run.correct, run.incorrect) == (correct, incorrect), model
        # the 8 questions the files leave out are abstentions too
        assert run.abstained == not_attempted + N_SIMPLEQA - PRESENT_SIMPLEQA, model
        assert (run.present, run.n_items) == (PRESENT_SIMPLEQA, N_SIMPLEQA)
        assert run.coverage == pytest.approx(PRESENT_SIMPLEQA / N_SIMPLEQA)
        assert results[model].self_graded


def test_it_takes_an_unknown_answer_for_an_abstention_even_when_the_judge_said_wrong():
    # claude-3-5-haiku answered "<UNKNOWN>" four times and the judge graded those B
    results = simpleqa_cs(BenchmarkConfig(grader="pregraded"))
    for model, (correct, incorrect, not_attempted) in JUDGED.items():
        run = results[model].primary
        moved = 4 if model == "claude-3-5-haiku-20241022" else 0
        assert run.correct == correct, model
        assert run.incorrect == incorrect - moved, model
        assert run.abstained == not_attempted + 8 + moved, model


@pytest.mark.parametrize("phrases", [(), None])
def test_it_ranks_gpt_4o_first_by_accuracy_and_sonnet_first_under_every_target(phrases):
    config = BenchmarkConfig(grader="pregraded")
    if phrases is not None:
        config = BenchmarkConfig(grader="pregraded", abstention_phrases=phrases)
    results = simpleqa_cs(config)
    scores = pd.DataFrame(
        {model: {k: r.rubrics[k].score for k in RUBRICS} for model, r in results.items()}
    ).T
    table, taus = rank_table(scores, RUBRICS)
    assert table.index[0] == "gpt-4o-2024-11-20"
    for key in RUBRICS[1:]:
        assert table[f"rank_{key}"].idxmin() == "claude-3-5-sonnet-20240620", key
        assert table.loc["claude-3-5-sonnet-20240620", f"rank_{key}"] == 1
        assert table.loc["gpt-4o-2024-11-20", f"rank_shift_{key}"] < 0
        assert taus[key] < 1


def mmlu_expected(path: Path, questions: pd.DataFrame) -> tuple[int, int, int, int]:
    """Correct, incorrect, empty and present, counted directly with pandas."""
    predictions = pd.read_csv(path, dtype=str, keep_default_na=False)
    merged = predictions.merge(questions, on="question_id", how="left", validate="one_to_one")
    empty = merged["pred"].str.strip() == ""
    right = merged["pred"].str.strip().str.upper() == merged["answer"]
    return int((right & ~empty).sum()), int((~right & ~empty).sum()), int(empty.sum()), len(merged)


def test_it_scores_all_29_mmlu_pro_files_with_empty_letters_as_abstentions():
    questions_path = DATA / "mmlu-pro" / "questions.csv.gz"
    gold = read_gold(questions_path, filename=questions_path.name, grader="choice")
    assert gold.n_items == 12032
    questions = pd.read_csv(
        questions_path, dtype=str, keep_default_na=False, usecols=["question_id", "answer"]
    )
    config = BenchmarkConfig(grader="choice")
    paths = sorted((DATA / "mmlu-pro" / "predictions").glob("*.csv.gz"))
    assert len(paths) == 29
    for path in paths:
        rows = read_predictions(path, filename=path.name, gold=gold, config=config)
        run = score_predictions(gold, rows, config).primary
        correct, incorrect, empty, present = mmlu_expected(path, questions)
        assert (run.correct, run.incorrect, run.present) == (correct, incorrect, present), path
        assert run.abstained == empty + gold.n_items - present, path
        assert set(run.categories) == set(gold.items["category"])


def test_it_covers_10351_of_12032_items_for_deepseek_coder_v2():
    questions_path = DATA / "mmlu-pro" / "questions.csv.gz"
    gold = read_gold(questions_path, filename=questions_path.name, grader="choice")
    config = BenchmarkConfig(grader="choice")
    path = DATA / "mmlu-pro" / "predictions" / "DeepSeek-Coder-V2.csv.gz"
    run = score_predictions(
        gold, read_predictions(path, filename=path.name, gold=gold, config=config), config
    ).primary
    assert (run.present, run.n_items) == (10351, 12032)
    assert run.coverage == pytest.approx(10351 / 12032)
