"""`python -m scoring GOLD PREDICTIONS` and `--benchmark benchmark.json`, run as a real subprocess
(or, where only the outcome matters, in this process, which is quicker)."""

import functools
import http.server
import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from scoring.__main__ import main

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scoring", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def run_here(capsys, *args: str) -> subprocess.CompletedProcess:
    """`python -m scoring` run in this process: its exit status and what it printed."""
    try:
        status = main(list(args))
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, out, err)


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


def test_it_takes_abstention_phrases_from_the_command_line(tmp_path, files):
    gold, _ = files
    predictions = tmp_path / "phrases.csv"
    predictions.write_text("id,answer\n1,pass\n2,I don't know\n3,C\n4,A\n")
    counts = {}
    for phrases in ["pass|no idea", ""]:
        result = run(
            str(gold),
            str(predictions),
            "--grader=choice",
            "--json",
            f"--abstention-phrases={phrases}",
        )
        assert result.returncode == 0, result.stderr
        counts[phrases] = json.loads(result.stdout)["counts"]
    assert counts["pass|no idea"] == {"correct": 1, "incorrect": 2, "abstained": 1}
    assert counts[""] == {"correct": 1, "incorrect": 3, "abstained": 0}
    default = json.loads(run(str(gold), str(predictions), "--grader=choice", "--json").stdout)
    assert default["counts"] == {"correct": 1, "incorrect": 2, "abstained": 1}


def benchmark_file(tmp_path: Path, **fields) -> Path:
    document = {
        "benchmark": "letters",
        "grader": "choice",
        "targets": [0.75],
        "abstention_phrases": ["pass"],
        "min_coverage": 0.5,
        "numeric_tolerance": 1e-6,
        "seed": 7,
        "n_resamples": 200,
        "gold_public": True,
        "n_items": 4,
        "items": [
            {"id": "1", "answer": "A", "aliases": [], "question": None, "category": "x"},
            {"id": "2", "answer": "B", "aliases": [], "question": None, "category": "x"},
            {"id": "3", "answer": "C", "aliases": [], "question": None, "category": "y"},
            {"id": "4", "answer": "D", "aliases": [], "question": None, "category": "y"},
        ],
    }
    document.update(fields)
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps(document))
    return path


def test_it_scores_with_the_settings_of_a_benchmark_json(tmp_path, files):
    gold, _ = files
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("id,answer\n1,A\n2,pass\n3,I don't know\n")
    result = run("--benchmark", str(benchmark_file(tmp_path)), str(predictions), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    # "pass" is the benchmark's phrase; "I don't know", a default one, is not.
    assert data["counts"] == {"correct": 1, "incorrect": 1, "abstained": 2}
    assert list(data["scores"]) == ["0", "0.75"]
    plain = run(
        str(gold),
        str(predictions),
        "--grader=choice",
        "--targets=0.75",
        "--abstention-phrases=pass",
        "--seed=7",
        "--resamples=200",
        "--json",
    )
    assert json.loads(plain.stdout) == data
    human = run("--benchmark", str(benchmark_file(tmp_path)), str(predictions))
    assert "predictions.csv against letters (" in human.stdout
    assert "abstention phrases pass; minimum coverage 0.5; 200 resamples from seed 7" in (
        human.stdout
    )


def test_it_rejects_a_run_below_the_benchmarks_minimum_coverage(tmp_path, capsys):
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("id,answer\n1,A\n")
    result = run_here(
        capsys, "--benchmark", str(benchmark_file(tmp_path)), str(predictions), "--json"
    )
    assert result.returncode == 1
    assert "coverage" in json.loads(result.stdout)["errors"][0]


def test_it_puts_a_gold_file_in_the_benchmarks_order(tmp_path, capsys):
    items = [{"id": str(i)} for i in range(1, 5)]
    path = benchmark_file(tmp_path, items=items, gold_public=False)
    gold = tmp_path / "gold.csv"
    gold.write_text("id,answer\n4,D\n3,C\n2,B\n1,A\n")
    in_order = tmp_path / "gold-in-order.csv"
    in_order.write_text("id,answer\n1,A\n2,B\n3,C\n4,D\n")
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("id,answer\n1,A\n2,B\n3,D\n4,pass\n")
    result = run_here(capsys, "--benchmark", str(path), str(gold), str(predictions), "--json")
    assert result.returncode == 0, result.stderr
    expected = run_here(capsys, "--benchmark", str(path), str(in_order), str(predictions), "--json")
    assert json.loads(result.stdout) == json.loads(expected.stdout)
    assert json.loads(result.stdout)["counts"] == {"correct": 2, "incorrect": 1, "abstained": 1}

    other = tmp_path / "other-gold.csv"
    other.write_text("id,answer\n1,A\n2,B\n9,C\n")
    refused = run_here(capsys, "--benchmark", str(path), str(other), str(predictions), "--json")
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["errors"] == [
        "2 items of letters not in this gold file (the first is '3'): "
        "is it the gold of another benchmark?",
        "1 item of this gold file not in letters",
    ]


def test_a_pregraded_benchmark_needs_no_gold(capsys, tmp_path):
    path = benchmark_file(
        tmp_path, grader="pregraded", items=[{"id": "a"}, {"id": "b"}], n_items=2, gold_public=False
    )
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("id,grade\na,A\nb,C\n")
    result = run_here(capsys, "--benchmark", str(path), str(predictions), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["counts"] == {"correct": 1, "incorrect": 0, "abstained": 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot be read"),
        ("{", "not JSON"),
        ('{"grader": "exact"}', "no list of items"),
        ('{"grader": "exact", "items": [{"answer": "A"}]}', "an item without an id"),
        ('{"items": [{"id": "1"}]}', "no grader"),
        ('{"grader": "fuzzy", "items": [{"id": "1"}]}', "unknown grader 'fuzzy'"),
        ('{"grader": "exact", "targets": [1.5], "items": [{"id": "1"}]}', "target 1.5"),
        ('{"grader": "exact", "seed": "x", "items": [{"id": "1"}]}', "seed 'x' is not a whole"),
        (
            '{"grader": "exact", "n_items": 2, "items": [{"id": "1"}]}',
            "holds 1 item where it announces 2",
        ),
        ('{"grader": "exact", "items": [{"id": "1"}, {"id": 1}]}', "an item id appears twice"),
        ('{"grader": "exact", "items": [{"id": "1"}]}', "give its GOLD file"),
    ],
)
def test_it_refuses_an_unusable_benchmark_json(capsys, tmp_path, files, content, message):
    _, predictions = files
    path = tmp_path / "benchmark.json"
    if content is not None:
        path.write_text(content)
    result = run_here(capsys, "--benchmark", str(path), str(predictions), "--json")
    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_it_refuses_settings_the_benchmark_sets(capsys, tmp_path, files):
    _, predictions = files
    result = run_here(
        capsys, "--benchmark", str(benchmark_file(tmp_path)), str(predictions), "--targets=0.9"
    )
    assert result.returncode == 2
    assert "--targets: --benchmark sets the site's own settings; leave it out" in result.stderr


def test_it_needs_gold_without_a_benchmark(capsys, files):
    _, predictions = files
    result = run_here(capsys, str(predictions))
    assert result.returncode == 2
    assert "GOLD is needed unless --benchmark gives the benchmark" in result.stderr


@pytest.fixture
def site(tmp_path):
    """A plain HTTP server serving a folder, as the site serves benchmark.json."""
    root = tmp_path / "site"
    (root / "benchmarks" / "letters").mkdir(parents=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_it_reads_benchmark_json_from_a_url(capsys, site, tmp_path):
    root, url = site
    benchmark_file(tmp_path).rename(root / "benchmarks" / "letters" / "benchmark.json")
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("id,answer\n1,A\n2,pass\n3,B\n")
    expected = {"correct": 1, "incorrect": 1, "abstained": 2}
    for address in [
        f"{url}/benchmarks/letters/benchmark.json",
        f"{url}/benchmarks/letters/",
        f"{url}/benchmarks/letters?sort=0.75",
    ]:
        result = run_here(capsys, "--benchmark", address, str(predictions), "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["counts"] == expected


def test_it_says_when_the_site_cannot_give_the_benchmark(capsys, site, files):
    _, url = site
    _, predictions = files
    missing = run_here(capsys, "--benchmark", f"{url}/benchmarks/nothing/", str(predictions))
    assert missing.returncode == 2
    assert (
        f"{url}/benchmarks/nothing/benchmark.json: the site answered HTTP 404 File not found "
        "(no such benchmark, or not published)"
    ) in missing.stderr
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    down = run_here(
        capsys, "--benchmark", f"http://127.0.0.1:{port}/benchmarks/x/", str(predictions)
    )
    assert down.returncode == 2
    assert f"http://127.0.0.1:{port}/benchmarks/x/benchmark.json: unreachable (" in down.stderr
    assert "Traceback" not in down.stderr


def test_it_gives_up_on_a_site_that_does_not_answer(capsys, files, monkeypatch):
    _, predictions = files
    monkeypatch.setattr("scoring.__main__.FETCH_TIMEOUT", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # connections are accepted by the kernel, and never answered
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/benchmarks/x/"
        result = run_here(capsys, "--benchmark", url, str(predictions))
    assert result.returncode == 2
    assert "benchmarks/x/benchmark.json: unreachable (timed out)" in result.stderr
