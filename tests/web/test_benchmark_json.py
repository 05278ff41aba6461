"""`/benchmarks/<slug>/benchmark.json`, and `python -m scoring --benchmark` giving the board's
numbers from it, on the demo benchmarks."""

import contextlib
import gzip
import io
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import call_command

import scoring
from leaderboard import services
from leaderboard.models import METRICS, Benchmark
from scoring.__main__ import main

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo"


def benchmark_json(client, slug: str) -> dict:
    response = client.get(f"/benchmarks/{slug}/benchmark.json")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)


def run_cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main([str(arg) for arg in argv])
    return status, out.getvalue()


def assert_board_numbers(cli: dict, row: dict) -> None:
    """Every rate, score and interval of a leaderboard.json row, exactly, in the CLI's output."""
    for name in METRICS:
        assert cli[name] == row[name], (row["model"], name)
    primary = next(run for run in cli["runs"] if run["key"] == cli["primary_run"])
    assert all(row["intervals"].values()), row["model"]
    for name, interval in row["intervals"].items():
        assert primary["intervals"][name] == interval, (row["model"], name)
    assert cli["scores"].keys() == row["scores"].keys()
    for key, cell in row["scores"].items():
        assert cli["scores"][key] == cell["score"], (row["model"], key)
        assert cell["interval"] is not None
        assert cli["rubrics"][key]["interval"] == cell["interval"], (row["model"], key)
        assert cli["rubrics"][key]["prompted"] == cell["prompted"], (row["model"], key)


def assert_cli_reproduces_board(client, slug: str, tmp_path: Path) -> int:
    path = tmp_path / f"{slug}.json"
    path.write_bytes(client.get(f"/benchmarks/{slug}/benchmark.json").content)
    rows = client.get(f"/benchmarks/{slug}/leaderboard.json").json()["rows"]
    for row in rows:
        predictions = DEMO / slug / "predictions" / f"{row['model']}.csv.gz"
        status, out = run_cli("--benchmark", path, predictions, "--json")
        assert status == 0, out
        assert_board_numbers(json.loads(out), row)
    return len(rows)


def test_it_gives_every_grading_setting_and_the_seed(client, make_benchmark):
    benchmark = make_benchmark(
        gold_public=True,
        targets=[0.8, 0.5],
        abstention_phrases=["pass", "no idea"],
        min_coverage=0.25,
        numeric_tolerance=0.01,
    )
    data = benchmark_json(client, "capitals")
    assert data["benchmark"] == "capitals"
    assert data["grader"] == "exact"
    assert data["targets"] == [0.5, 0.8]
    assert data["abstention_phrases"] == ["pass", "no idea"]
    assert data["min_coverage"] == 0.25
    assert data["numeric_tolerance"] == 0.01
    assert data["seed"] == benchmark.pk
    assert data["n_resamples"] == 1000
    assert data["gold_public"] is True
    assert data["n_items"] == 4
    assert data["items"][1] == {
        "id": "q2",
        "answer": "William Shakespeare",
        "aliases": ["Shakespeare"],
        "question": "Who wrote Hamlet?",
        "category": "literature",
    }
    # Every setting of the scoring package travels, whatever it is.
    assert scoring.BenchmarkConfig.from_dict(data) == benchmark.config()


def test_it_gives_ids_alone_when_the_gold_is_hidden(client, make_benchmark):
    make_benchmark(gold_public=False)
    response = client.get("/benchmarks/capitals/benchmark.json")
    data = json.loads(response.content)
    assert data["gold_public"] is False
    assert data["items"] == [{"id": "q1"}, {"id": "q2"}, {"id": "q3"}, {"id": "q4"}]
    for secret in (b"Paris", b"Shakespeare", b"capital of", b"geography", b"science"):
        assert secret not in response.content


def test_the_board_and_the_methods_say_where_the_seed_is(client, make_benchmark):
    make_benchmark()
    board = client.get("/benchmarks/capitals/").content.decode()
    assert 'href="/benchmarks/capitals/benchmark.json"' in board
    assert "Settings and seed" in board
    methods = client.get("/how-scores-are-computed/").content.decode()
    assert "The seed is given, with every grading setting, in the benchmark's" in methods
    assert "python -m scoring --benchmark" in methods


def test_it_shows_drafts_to_staff_only(client, make_benchmark, admin_user):
    make_benchmark(visibility=Benchmark.Visibility.DRAFT)
    assert client.get("/benchmarks/capitals/benchmark.json").status_code == 404
    client.force_login(admin_user)
    assert benchmark_json(client, "capitals")["benchmark"] == "capitals"


def test_it_is_sent_compressed_to_clients_that_accept_gzip(client, make_benchmark):
    make_benchmark(gold_public=True)
    plain = client.get("/benchmarks/capitals/benchmark.json")
    compressed = client.get("/benchmarks/capitals/benchmark.json", HTTP_ACCEPT_ENCODING="gzip")
    assert compressed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in compressed["Vary"]
    assert not plain.has_header("Content-Encoding")
    assert gzip.decompress(compressed.content) == plain.content


def test_it_follows_changes_of_settings_and_items(client, make_benchmark):
    benchmark = make_benchmark(gold_public=True)
    assert benchmark_json(client, "capitals")["abstention_phrases"] == list(
        scoring.DEFAULT_ABSTENTION_PHRASES
    )
    benchmark.abstention_phrases = []
    benchmark.save()
    assert benchmark_json(client, "capitals")["abstention_phrases"] == []
    # A change that leaves `updated_at` as it was is followed too.
    Benchmark.objects.filter(pk=benchmark.pk).update(gold_public=False, targets=[0.6])
    data = benchmark_json(client, "capitals")
    assert (data["gold_public"], data["targets"], data["items"][0]) == (False, [0.6], {"id": "q1"})
    Benchmark.objects.filter(pk=benchmark.pk).update(gold_public=True)
    gold = scoring.read_gold(b"id,answer\nz1,Oslo\n", filename="gold.csv", grader="exact")
    services.benchmark_set_items(benchmark=benchmark, gold=gold)
    data = benchmark_json(client, "capitals")
    assert data["n_items"] == 1
    assert data["items"] == [
        {"id": "z1", "answer": "Oslo", "aliases": [], "question": None, "category": None}
    ]


def test_the_cli_gives_every_number_of_the_simpleqa_cs_board(client, seeded_simpleqa_cs, tmp_path):
    assert assert_cli_reproduces_board(client, "simpleqa-cs", tmp_path) == 5


def test_the_cli_counts_unknown_answers_as_the_site_does(client, seeded_simpleqa_cs, tmp_path):
    # claude-3-5-haiku answered "<UNKNOWN>" four times, which its judge graded wrong; the
    # default phrases make abstentions of them, the benchmark (with no phrases) does not.
    predictions = DEMO / "simpleqa-cs" / "predictions" / "claude-3-5-haiku-20241022.csv.gz"
    gold = DEMO / "simpleqa-cs" / "gold.csv.gz"
    row = next(
        row
        for row in client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()["rows"]
        if row["model"] == "claude-3-5-haiku-20241022"
    )
    _, out = run_cli(gold, predictions, "--grader", "pregraded", "--json")
    plain = json.loads(out)
    assert plain["counts"]["incorrect"] == round(row["error_rate"] * 4326) - 4
    path = tmp_path / "benchmark.json"
    path.write_bytes(client.get("/benchmarks/simpleqa-cs/benchmark.json").content)
    _, out = run_cli("--benchmark", path, predictions, "--json")
    assert json.loads(out)["counts"]["incorrect"] == round(row["error_rate"] * 4326)
    # The plain form told the same settings gives the same numbers.
    _, out = run_cli(
        gold,
        predictions,
        "--grader=pregraded",
        "--abstention-phrases=",
        f"--seed={seeded_simpleqa_cs.pk}",
        "--json",
    )
    assert_board_numbers(json.loads(out), row)


def test_the_cli_scores_a_hidden_pregraded_benchmark_without_gold(
    client, seeded_simpleqa_cs, tmp_path, rescore_in_process
):
    seeded_simpleqa_cs.gold_public = False
    seeded_simpleqa_cs.save()
    rescore_in_process(seeded_simpleqa_cs)
    path = tmp_path / "benchmark.json"
    path.write_bytes(client.get("/benchmarks/simpleqa-cs/benchmark.json").content)
    assert "answer" not in json.loads(path.read_bytes())["items"][0]
    rows = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()["rows"]
    predictions = DEMO / "simpleqa-cs" / "predictions" / f"{rows[0]['model']}.csv.gz"
    status, out = run_cli("--benchmark", path, predictions, "--json")
    assert status == 0
    assert_board_numbers(json.loads(out), rows[0])


def test_the_cli_gives_every_number_of_the_mmlu_pro_board(client, tmp_path):
    call_command("seed_demo", only="mmlu-pro", stdout=io.StringIO())
    assert assert_cli_reproduces_board(client, "mmlu-pro", tmp_path) == 29

    # With the gold hidden, the CLI needs the gold file, and puts it in the site's item order.
    Benchmark.objects.filter(slug="mmlu-pro").update(gold_public=False)
    path = tmp_path / "benchmark.json"
    path.write_bytes(client.get("/benchmarks/mmlu-pro/benchmark.json").content)
    assert "answer" not in json.loads(path.read_bytes())["items"][0]
    rows = client.get("/benchmarks/mmlu-pro/leaderboard.json").json()["rows"]
    predictions = DEMO / "mmlu-pro" / "predictions" / f"{rows[0]['model']}.csv.gz"
    with pytest.raises(SystemExit) as refused:
        run_cli("--benchmark", path, predictions)
    assert refused.value.code == 2
    shuffled = tmp_path / "questions.csv"
    gold = pd.read_csv(DEMO / "mmlu-pro" / "questions.csv.gz", dtype=str, keep_default_na=False)
    gold.sample(frac=1, random_state=1).to_csv(shuffled, index=False)
    status, out = run_cli("--benchmark", path, shuffled, predictions, "--json")
    assert status == 0, out
    assert_board_numbers(json.loads(out), rows[0])


@pytest.mark.django_db(transaction=True)
def test_the_cli_reads_the_site_itself(live_server, seeded_simpleqa_cs):
    with urllib.request.urlopen(f"{live_server.url}/benchmarks/simpleqa-cs/leaderboard.json") as r:
        board = json.load(r)
    row = board["rows"][-1]
    predictions = DEMO / "simpleqa-cs" / "predictions" / f"{row['model']}.csv.gz"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scoring",
            "--benchmark",
            f"{live_server.url}/benchmarks/simpleqa-cs/?sort=0.9",
            str(predictions),
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert_board_numbers(json.loads(result.stdout), row)
