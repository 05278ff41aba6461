"""`python -m scoring GOLD PREDICTIONS`, run as a real subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scoring", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    gold = tmp_path / "gold.csv"
    gold.write_text("id,answer,category\n1,A,x\n2,B,x\n3,C,y\n4,D,y\n")
    predictions = tmp_path / "predictions.csv"
    predictions.write_text(
        "question_id,pred,target\n1,A,\n2,C,\n3,,\n1,A,0.75\n2,I don't know,0.75\n"
    )
    return gold, predictions


def test_it_prints_the_json_object_of_the_spec(files):
    gold, predictions = files
    result = run(str(gold), str(predictions), "--grader", "choice", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["n_items"] == 4
    assert data["coverage"] == 0.75
    assert data["counts"] == {"correct": 1, "incorrect": 1, "abstained": 2}
    assert data["accuracy"] == 0.25
    assert data["error_rate"] == 0.25
    assert data["abstention_rate"] == 0.5
    assert data["accuracy_given_attempted"] == 0.5
    assert data["f1"] == pytest.approx(1 / 3)
    assert data["scores"] == pytest.approx({"0": 0.25, "0.5": 0.0, "0.75": 0.25, "0.9": -2.0})
    assert [run["key"] for run in data["runs"]] == ["default", "0.75"]
    assert data["rubrics"]["0.75"]["prompted"] is True
    assert data["rubrics"]["0.5"]["prompted"] is False


def test_it_takes_targets_from_the_command_line(files):
    gold, predictions = files
    result = run(str(gold), str(predictions), "--grader=choice", "--targets", "0.75", "--json")
    assert json.loads(result.stdout)["scores"] == {"0": 0.25, "0.75": 0.25}


def test_it_prints_a_readable_summary(files):
    gold, predictions = files
    result = run(str(gold), str(predictions), "--grader", "choice")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "predictions.csv against gold.csv: 4 items, grader choice" in out
    assert "coverage" in out and "75.00%" in out
    assert "prompted at t (run 0.75)" in out
    assert "same answers (run default)" in out
    assert "default" in out and "t = 0.75" in out
    assert "id ← 'question_id'" in out


def test_it_exits_1_with_the_errors_of_a_rejected_file(files, tmp_path):
    gold, _ = files
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": 1, "answer": "A"}\n{"id": 9, "answer": "B"}\n{"id": 2, "confidence": 3}\n'
    )
    result = run(str(gold), str(bad), "--grader", "choice", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["errors"] == [
        'line 2: unknown id "9" (not an item of this benchmark)',
        'line 3: confidence "3" is out of range [0, 1]',
    ]
    human = run(str(gold), str(bad), "--grader", "choice")
    assert human.returncode == 1
    assert human.stdout == ""
    assert "rejected (2 errors)" in human.stderr
    assert 'line 2: unknown id "9"' in human.stderr


def test_it_exits_1_on_a_rejected_gold_file(tmp_path, files):
    _, predictions = files
    gold = tmp_path / "gold.csv"
    gold.write_text("id,answer\n1,A\n1,B\n")
    result = run(str(gold), str(predictions), "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["errors"] == ['row 3: duplicate id "1" (first seen at row 2)']


@pytest.mark.parametrize(
    "arguments",
    [
        ["--grader", "fuzzy"],
        ["--targets", "0.5,x"],
        ["--targets", "1.5"],
        ["--min-coverage", "2"],
    ],
)
def test_it_refuses_bad_arguments(files, arguments):
    gold, predictions = files
    result = run(str(gold), str(predictions), *arguments)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_it_refuses_a_missing_file(files):
    gold, _ = files
    result = run(str(gold), "no-such-file.csv")
    assert result.returncode == 2
    assert "no-such-file.csv: no such file" in result.stderr
