"""The pages on a phone (390 px) and on a laptop (1,280 px), in a real browser: nothing scrolls
sideways but a table in its own scroller, charts keep a plot area one can read, labels stay
apart, the sorted column is in view, and a dark system theme gives a dark page."""

import contextlib
import re
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WIDTHS = [390, 1280]
MIN_PLOT_HEIGHT = 200


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sideways_overflow(page) -> int:
    """How many pixels the page scrolls sideways (0: none)."""
    return page.evaluate(
        "() => document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
    )


def wait_for_charts(page) -> None:
    for chart in page.locator("[data-figure]").all():
        chart.locator(".main-svg").first.wait_for()
    # The narrow-screen and dark relayouts follow the first draw; a page without them is
    # measured as it is.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function("() => document.body.dataset.chartsReady === 'yes'", timeout=3000)


def overlapping(boxes: list[dict]) -> list[tuple[int, int]]:
    pairs = []
    for i, a in enumerate(boxes):
        for j, b in enumerate(boxes[i + 1 :], start=i + 1):
            if (
                a["x"] < b["x"] + b["width"]
                and b["x"] < a["x"] + a["width"]
                and a["y"] < b["y"] + b["height"]
                and b["y"] < a["y"] + a["height"]
            ):
                pairs.append((i, j))
    return pairs


def pages_to_visit(benchmark) -> dict[str, str]:
    ids = list(
        benchmark.submissions.filter(status="scored").order_by("pk").values_list("pk", flat=True)
    )
    return {
        "home": "/",
        "benchmark": f"/benchmarks/{benchmark.slug}/",
        "submission": f"/submissions/{ids[0]}/",
        "compare": f"/benchmarks/{benchmark.slug}/compare/?ids={ids[0]}&ids={ids[3]}",
        "methods": "/how-scores-are-computed/",
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_it_scrolls_no_page_sideways(page, seeded_simpleqa_cs, width):
    page.set_viewport_size({"width": width, "height": 900})
    for name, url in pages_to_visit(seeded_simpleqa_cs).items():
        page.goto(url)
        if page.locator("[data-figure]").count():
            wait_for_charts(page)
        screenshot(page, f"{name}-{width}")
        assert sideways_overflow(page) == 0, f"{name} ({url}) scrolls sideways at {width} px"


@pytest.mark.parametrize("width", WIDTHS)
def test_it_keeps_each_chart_readable(page, seeded_simpleqa_cs, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/benchmarks/simpleqa-cs/")
    wait_for_charts(page)
    for chart in ("#bump-chart", "#curves-chart", "#outcomes-chart"):
        plot = page.locator(f"{chart} .nsewdrag").first.bounding_box()
        assert plot["height"] >= MIN_PLOT_HEIGHT, f"{chart} plot is {plot['height']} px tall"
        assert plot["width"] >= 150, f"{chart} plot is {plot['width']} px wide"

    # The model names beside the bump chart's ranks and the target labels above the curves.
    for labels in ("#bump-chart .annotation-text", "#curves-chart .annotation-text"):
        boxes = [box for box in map(lambda x: x.bounding_box(), page.locator(labels).all()) if box]
        assert boxes, labels
        assert overlapping(boxes) == [], f"{labels} overlap at {width} px"
        chart_box = page.locator(labels.split()[0]).bounding_box()
        for box in boxes:
            assert chart_box["x"] - 1 <= box["x"]
            assert box["x"] + box["width"] <= chart_box["x"] + chart_box["width"] + 1

    for chart in ("bump-chart", "curves-chart"):
        page.locator(f"#{chart}").screenshot(path=str(ARTIFACTS / f"{chart}-{width}.png"))

    # Ranks start at 1: no empty rank 0 above the first model.
    ticks = sorted(int(t) for t in page.locator("#bump-chart .ytick text").all_text_contents())
    assert ticks[0] == 1, ticks


def test_it_gives_each_of_fifteen_models_its_own_colour(
    page, make_benchmark, user, save_submission
):
    from leaderboard import services

    gold = "id,answer\n" + "".join(f"q{i},a{i}\n" for i in range(20))
    benchmark = make_benchmark(slug="fifteen", gold=gold)
    for n in range(15):
        # Model n answers the first n + 3 items, the first n of them right.
        rows = "".join(f"q{i},{'a' if i < n else 'x'}{i}\n" for i in range(n + 3))
        submission = save_submission(
            benchmark, user, content=f"id,answer\n{rows}".encode(), model_name=f"model-{n:02}"
        )
        services.submission_score(submission_id=submission.pk)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/benchmarks/fifteen/?all=1")
    wait_for_charts(page)
    for chart in ("bump-chart", "curves-chart"):
        colours = page.evaluate(
            """(id) => document.getElementById(id)._fullData
                .filter((trace) => trace.mode !== "markers" && !/reference/.test(trace.name))
                .map((trace) => trace.line.color)""",
            chart,
        )
        assert len(colours) == 15 and len(set(colours)) == 15, (chart, colours)
    screenshot(page, "benchmark-fifteen-1280")


@pytest.mark.parametrize("width", WIDTHS)
def test_it_keeps_the_labels_of_tied_models_apart(
    page, make_benchmark, user, save_submission, width
):
    from leaderboard import services

    gold = "id,answer\n" + "".join(f"q{i},a{i}\n" for i in range(20))
    benchmark = make_benchmark(slug="ties", gold=gold)
    # Three models give the same answers (tied under every rubric, at both ends of the chart);
    # two others answer more and fewer items right.
    files = {f"tied-{name}": 8 for name in "abc"} | {"more-right": 14, "fewer-right": 3}
    for model, right in files.items():
        rows = "".join(f"q{i},{'a' if i < right else 'x'}{i}\n" for i in range(16))
        submission = save_submission(
            benchmark, user, content=f"id,answer\n{rows}".encode(), model_name=model
        )
        services.submission_score(submission_id=submission.pk)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/benchmarks/ties/")
    wait_for_charts(page)
    labels = page.locator("#bump-chart .annotation-text")
    texts = labels.all_text_contents()
    assert sum("tied" in text for text in texts) == (3 if width < 640 else 6), texts
    boxes = [box for box in map(lambda x: x.bounding_box(), labels.all()) if box]
    assert overlapping(boxes) == [], f"tied labels overlap at {width} px: {texts}"
    page.locator("#bump-chart").screenshot(path=str(ARTIFACTS / f"bump-chart-ties-{width}.png"))


@pytest.mark.parametrize("width", WIDTHS)
def test_it_shows_the_sorted_column(page, seeded_simpleqa_cs, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/benchmarks/simpleqa-cs/?sort=0.9#table")
    wait_for_charts(page)
    sorted_header = page.locator("table.board th.group.sorted")
    box = sorted_header.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    # The model column stays beside it.
    model = page.locator("table.board tbody tr:not(.baseline) td.model").first.bounding_box()
    assert model["x"] >= 0 and model["x"] + model["width"] <= box["x"] + 1, (model, box)
    screenshot(page, f"benchmark-sorted-{width}")
    page.locator("#board-scroller").screenshot(path=str(ARTIFACTS / f"all-metrics-{width}.png"))
    if width >= 1280:
        # Every rubric's score and rank fits on a laptop without scrolling the table.
        scroller = page.locator("table.board").locator("xpath=..")
        assert scroller.evaluate("(el) => el.scrollWidth <= el.clientWidth")


@pytest.mark.parametrize("width", WIDTHS)
def test_it_follows_a_dark_system_theme(page, seeded_simpleqa_cs, width):
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/benchmarks/simpleqa-cs/")
    wait_for_charts(page)
    screenshot(page, f"benchmark-dark-{width}")

    def brightness(css_colour: str) -> float:
        if css_colour.startswith("#"):
            red, green, blue = (int(css_colour[i : i + 2], 16) for i in (1, 3, 5))
        else:
            red, green, blue = (int(part) for part in re.findall(r"\d+", css_colour)[:3])
        return (0.299 * red + 0.587 * green + 0.114 * blue) / 255

    background = page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")
    text = page.evaluate("() => getComputedStyle(document.body).color")
    assert brightness(background) < 0.2, background
    assert brightness(text) > 0.7, text
    paper = page.evaluate("() => document.getElementById('curves-chart')._fullLayout.paper_bgcolor")
    assert brightness(paper) < 0.2, paper
