"""`manage.py seed_demo`: the two demo benchmarks from the real data shipped in demo/."""

import io

import pytest
from django.core.management import call_command

from leaderboard.models import Benchmark, Submission

pytestmark = pytest.mark.django_db


def test_it_seeds_mmlu_pro_with_its_29_models(client):
    out = io.StringIO()
    call_command("seed_demo", only="mmlu-pro", stdout=out)
    benchmark = Benchmark.objects.get(slug="mmlu-pro")
    assert benchmark.grader == "choice"
    assert benchmark.n_items == 12032
    assert benchmark.is_published and benchmark.gold_public
    submissions = Submission.objects.filter(benchmark=benchmark)
    assert submissions.count() == 29
    assert set(submissions.values_list("status", flat=True)) == {"scored"}
    deepseek = submissions.get(model_name="DeepSeek-Coder-V2")
    assert deepseek.result().primary.coverage == pytest.approx(10351 / 12032)
    llama = submissions.get(model_name="Llama-2-7b-hf")
    # 2,061 empty letters are abstentions.
    assert llama.result().primary.abstained == 2061
    assert llama.result().primary.correct == 2207
    assert llama.organisation == "Meta"
    assert "[29/29]" in out.getvalue()
    # Every demo file covers the 80% that new benchmarks ask for.
    assert benchmark.min_coverage == 0.8
    board = client.get("/benchmarks/mmlu-pro/leaderboard.json").json()
    rows = board["rows"]
    assert len(rows) == 29
    assert rows[0]["model"] == "gemini-1.5-pro-002"
    # Guessing among each question's options (10 for most, as few as 3 for some) gets 11.1%.
    guessing = board["baselines"][1]
    assert guessing["name"] == "uniform guessing"
    assert guessing["scores"]["0"] == pytest.approx(0.11086, abs=1e-5)
    assert guessing["scores"]["0.5"] == pytest.approx(2 * 0.11086448 - 1, abs=1e-5)


def test_it_skips_benchmarks_already_seeded(seeded_simpleqa_cs):
    assert seeded_simpleqa_cs.min_coverage == 0.8
    assert set(seeded_simpleqa_cs.submissions.values_list("status", flat=True)) == {"scored"}
    out = io.StringIO()
    call_command("seed_demo", only="simpleqa-cs", stdout=out)
    assert "already seeded" in out.getvalue()
    assert Submission.objects.filter(benchmark=seeded_simpleqa_cs).count() == 5
    call_command("seed_demo", only="simpleqa-cs", reset=True, stdout=io.StringIO())
    assert Submission.objects.filter(benchmark__slug="simpleqa-cs").count() == 5
