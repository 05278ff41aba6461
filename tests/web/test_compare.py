"""The compare page: scores side by side, and for two submissions the item-by-item agreement."""

import pandas as pd
import pytest

from leaderboard import services
from leaderboard.models import Submission
from tests.conftest import DEMO

pytestmark = pytest.mark.django_db

LETTERS = {"A": "correct", "B": "incorrect", "C": "abstained"}


def outcomes_from_file(model: str) -> pd.Series:
    gold = pd.read_csv(DEMO / "simpleqa-cs" / "gold.csv.gz", usecols=["id"])
    graded = pd.read_csv(DEMO / "simpleqa-cs" / "predictions" / f"{model}.csv.gz")
    merged = gold.merge(graded, on="id", how="left")
    return merged["grade"].map(LETTERS).fillna("abstained")


def test_it_counts_agreement_item_by_item(client, seeded_simpleqa_cs):
    gpt4o = Submission.objects.get(model_name="gpt-4o-2024-11-20")
    sonnet = Submission.objects.get(model_name="claude-3-5-sonnet-20240620")
    page = client.get(f"/benchmarks/simpleqa-cs/compare/?ids={gpt4o.pk},{sonnet.pk}")
    assert page.status_code == 200
    matrix = page.context["agreement"]["matrix"]
    # Counted straight from the two graded files, independently of the site.
    pairs = pd.crosstab(
        outcomes_from_file("gpt-4o-2024-11-20"), outcomes_from_file("claude-3-5-sonnet-20240620")
    )
    for first, counts in matrix:
        for second, count in zip(("correct", "abstained", "incorrect"), counts, strict=True):
            expected = pairs.loc[first, second] if second in pairs.columns else 0
            assert count == expected, (first, second)
    assert sum(sum(counts) for _, counts in matrix) == 4326
    html = page.content.decode()
    assert "Of 4,326 items, the two have the same outcome on" in html


def test_it_sets_more_than_two_side_by_side(client, seeded_simpleqa_cs):
    ids = list(Submission.objects.values_list("pk", flat=True)[:3])
    page = client.get("/benchmarks/simpleqa-cs/compare/", {"ids": [str(i) for i in ids]})
    assert len(page.context["rows"]) == 3
    assert page.context["agreement"] is None
    assert "t = 0.9" in page.content.decode()


def test_it_explains_a_bad_selection(client, seeded_simpleqa_cs):
    mine = Submission.objects.first()
    page = client.get(f"/benchmarks/simpleqa-cs/compare/?ids={mine.pk},abc,²,999999")
    html = page.content.decode()
    assert page.status_code == 200
    assert "“abc” is not a submission number." in html
    assert "“²” is not a submission number." in html
    assert "#999999" in html
    assert "Pick two or more" in html


def test_it_never_shows_a_private_submission_to_others(client, seeded_simpleqa_cs, user):
    first, second = Submission.objects.all()[:2]
    Submission.objects.filter(pk=second.pk).update(visibility="private", owner=user)
    # As the admin does on saving a submission: the cached public board is for the results before.
    services.benchmark_results_changed(benchmark_id=second.benchmark_id)
    page = client.get(f"/benchmarks/simpleqa-cs/compare/?ids={first.pk},{second.pk}")
    assert f"#{second.pk}" in page.content.decode()
    assert second.model_name not in page.content.decode().split("compare-problems")[1]
    client.force_login(user)
    page = client.get(f"/benchmarks/simpleqa-cs/compare/?ids={first.pk},{second.pk}")
    assert page.context["agreement"] is not None
