"""The model page in a real browser, on a phone and on a desktop screen."""

from pathlib import Path

import pytest

from leaderboard.models import Model

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.mark.parametrize("width", [390, 1280])
def test_the_model_page_reads_at_every_width(watched_page, seeded_simpleqa_cs, width):
    page, problems = watched_page
    model = Model.objects.get(slug="claude-3-5-sonnet-20240620-anthropic")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/models/{model.slug}/")
    page.locator("#model-ranks-chart .main-svg").first.wait_for()
    assert "SimpleQA in Czech" in page.locator(".model-benchmark").inner_text()
    # No sideways scrolling, and a plot area tall enough to read.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    plot = page.locator("#model-ranks-chart .nsewdrag").first.bounding_box()
    assert plot["height"] >= 200
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"model-{width}.png"), full_page=True)
    assert not problems, problems
