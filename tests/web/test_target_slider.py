"""The board's target slider: the ranking at any t, moved with the keyboard in a real browser
and rendered by the server at `?t=`, against scores computed here from each run's counts."""

import re
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest

from leaderboard import services
from leaderboard.models import Run

pytestmark = pytest.mark.django_db(transaction=True)

ABSTAIN = "abstain on everything"


def expected_scores(benchmark, t: float) -> dict[str, float]:
    """Each model's score at t (SPEC §5), from the runs' counts in the database: at one of the
    benchmark's targets the run prompted at it where there is one, else (and between targets)
    the default run."""
    at_target = any(abs(target - t) <= 1e-9 for target in benchmark.targets)
    scores = {}
    for submission in benchmark.submissions.filter(status="scored"):
        runs = list(Run.objects.filter(submission=submission))
        prompted = [run for run in runs if run.target is not None and abs(run.target - t) <= 1e-9]
        default = [run for run in runs if run.target is None]
        run = (prompted if at_target and prompted else default)[0]
        scores[submission.model_name] = (run.correct - t / (1 - t) * run.incorrect) / run.n_items
    return scores


def expected_lines(benchmark, t: float) -> list[tuple[str, str]]:
    """(model, rank) in the order SPEC §5 ranks the board at t, the abstain-everything line
    among them."""
    scored = [(score, model) for model, score in expected_scores(benchmark, t).items()]
    scored.sort(key=lambda pair: -pair[0])
    ranked = []
    for place, (score, model) in enumerate(scored, start=1):
        if ranked and ranked[-1][0] - score <= 1e-12:
            place = ranked[-1][1]
        ranked.append((score, place, model))
    ranked.sort(key=lambda line: (line[1], line[2].lower()))
    lines = [(model, str(place)) for _, place, model in ranked]
    below = next(
        (at for at, (score, _, _) in enumerate(ranked) if score <= 1e-12),
        len(ranked),
    )
    lines.insert(below, (ABSTAIN, "ref"))
    return lines


def page_lines(page) -> list[tuple[str, str]]:
    lines = page.locator("#live-ranking li")
    return [
        (item.locator(".model").inner_text().strip(), item.locator(".rank").inner_text().strip())
        for item in lines.all()
    ]


def served_lines(client, query: str) -> list[tuple[str, str]]:
    """The slider's ranking as the server renders it, read from the HTML with no script run."""
    response = client.get(f"/benchmarks/{query}")
    assert response.status_code == 200
    body = unescape(response.content.decode())
    section = body.split('id="live-ranking"', 1)[1].split("</ol>", 1)[0]
    return [
        (re.sub(r"<[^>]+>", "", model).strip(), rank)
        for rank, model in re.findall(
            r'<span class="rank"[^>]*>([^<]*)</span>\s*<span class="model"[^>]*>(.*?)</span>',
            section,
            re.S,
        )
    ]


def slider_value(client, query: str) -> str:
    body = client.get(f"/benchmarks/{query}").content.decode()
    return re.search(r'<input type="range" id="target-t"[^>]* value="([^"]+)"', body).group(1)


@pytest.fixture
def tied_board(make_benchmark, user, save_submission):
    """Three models on 40 items: two with the same default answers' counts (a tie between the
    targets), one of them prompted at 0.75 with answers of its own, and a bolder one."""
    benchmark = make_benchmark(
        slug="slider", gold="id,answer\n" + "".join(f"q{i},a{i}\n" for i in range(40))
    )

    def answers(correct: int, wrong: int, target: str = "") -> list[str]:
        return [f"q{i},a{i},{target}" for i in range(correct)] + [
            f"q{i},x{i},{target}" for i in range(correct, correct + wrong)
        ]

    files = {
        "alpha": answers(20, 4) + answers(18, 1, "0.75"),
        "Beta": answers(20, 4),
        "gamma": answers(26, 12),
    }
    for model, rows in files.items():
        content = ("id,answer,target\n" + "\n".join(rows) + "\n").encode()
        submission = save_submission(benchmark, user, content=content, model_name=model)
        services.submission_score(submission_id=submission.pk)
    return benchmark


@pytest.mark.browser
def test_it_reranks_the_board_as_the_slider_moves_with_the_keyboard(page, seeded_simpleqa_cs):
    page.goto("/benchmarks/simpleqa-cs/")
    slider = page.get_by_role("slider", name="Confidence target t")
    # With no t in the address the slider stands at the board's strictest target.
    assert float(slider.input_value()) == 0.9
    assert page_lines(page) == expected_lines(seeded_simpleqa_cs, 0.9)
    slider.focus()
    page.keyboard.press("Home")
    assert slider.input_value() == "0"
    assert page_lines(page) == expected_lines(seeded_simpleqa_cs, 0.0)
    seen = set()
    for step in range(1, 81):
        page.keyboard.press("ArrowRight")
        t = round(step * 0.01, 2)
        assert float(slider.input_value()) == t
        if step % 5 == 0:
            lines = page_lines(page)
            assert lines == expected_lines(seeded_simpleqa_cs, t), t
            seen.add(tuple(lines))
    # The slider went past orders that differ, the abstain-everything line among them.
    assert len(seen) > 2
    assert slider.get_attribute("aria-valuetext") == "t = 0.80, a wrong answer costs 4 points"
    assert parse_qs(urlparse(page.url).query)["t"] == ["0.8"]
    page.keyboard.press("PageUp")
    t = float(slider.input_value())
    assert t > 0.8
    assert page_lines(page) == expected_lines(seeded_simpleqa_cs, t)
    assert parse_qs(urlparse(page.url).query)["t"] == [f"{t:g}"]

    # The address, shared, opens the page at the same t, in the same order.
    page.goto("/benchmarks/simpleqa-cs/?t=0.35")
    assert float(page.get_by_role("slider", name="Confidence target t").input_value()) == 0.35
    assert page_lines(page) == expected_lines(seeded_simpleqa_cs, 0.35)


@pytest.mark.browser
def test_it_scores_a_target_by_its_prompted_run_and_breaks_ties_by_name(page, tied_board):
    page.goto("/benchmarks/slider/?t=0.74")
    slider = page.get_by_role("slider", name="Confidence target t")
    expected = expected_lines(tied_board, 0.74)
    # alpha and Beta share their default answers' counts: one rank, by name.
    assert expected[:2] == [("alpha", "1"), ("Beta", "1")]
    assert page_lines(page) == expected
    slider.focus()
    page.keyboard.press("ArrowRight")
    # At 0.75 alpha is scored by the run prompted at it, and leads alone.
    expected = expected_lines(tied_board, 0.75)
    assert expected[0] == ("alpha", "1") and expected[1][1] == "2"
    assert page_lines(page) == expected
    page.keyboard.press("ArrowRight")
    assert page_lines(page) == expected_lines(tied_board, 0.76)
    assert page_lines(page)[:2] == [("alpha", "1"), ("Beta", "1")]


def test_it_renders_the_ranking_at_the_t_of_the_address(client, seeded_simpleqa_cs):
    for t in ("0", "0.2", "0.5", "0.8", "0.95"):
        assert served_lines(client, f"simpleqa-cs/?t={t}") == expected_lines(
            seeded_simpleqa_cs, float(t)
        )
        assert slider_value(client, f"simpleqa-cs/?t={t}") == f"{float(t):.2f}"
    # Each t is a page of its own in the cache: the second is not the first one served again.
    assert served_lines(client, "simpleqa-cs/?t=0.2") != served_lines(client, "simpleqa-cs/?t=0.8")


def test_it_ignores_a_t_it_cannot_use(client, seeded_simpleqa_cs):
    default = served_lines(client, "simpleqa-cs/")
    assert default == expected_lines(seeded_simpleqa_cs, 0.9)
    for bad in ("abc", "1", "0.96", "-0.1", "nan", "inf", "", "0.5e400"):
        assert served_lines(client, f"simpleqa-cs/?t={bad}") == default, bad
        assert slider_value(client, f"simpleqa-cs/?t={bad}") == "0.90", bad


def test_it_puts_on_a_hidden_gold_board_only_counts_its_json_shows(
    client, make_benchmark, user, save_submission
):
    benchmark = make_benchmark(
        slug="hidden",
        gold="id,answer\n" + "".join(f"q{i},a{i}\n" for i in range(40)),
        gold_public=False,
    )
    rows = [f"q{i},{'a' if i % 3 else 'x'}{i}," for i in range(36)]
    rows += [f"q{i},{'a' if i % 5 else 'x'}{i},0.75" for i in range(30)]
    content = ("id,answer,target\n" + "\n".join(rows) + "\n").encode()
    submission = save_submission(benchmark, user, content=content, model_name="quiet")
    services.submission_score(submission_id=submission.pk)

    board = client.get("/benchmarks/hidden/leaderboard.json").json()
    (row,) = board["rows"]
    n = board["n_items"]
    shown = {(row["counts"]["correct"], row["counts"]["incorrect"])}
    for run in row["behavioural_calibration"]:
        wrong = round(run["error_rate"] * n)
        shown.add((n - wrong - round(run["abstention_rate"] * n), wrong))

    body = client.get("/benchmarks/hidden/").content.decode()
    item = re.search(r'<li data-model="quiet"[^>]*>', body).group(0)
    assert f'data-items="{n}"' in item
    on_page = {
        (int(correct), int(incorrect))
        for _, correct, incorrect in re.findall(r"([\d.]+):(\d+):(\d+)", item)
    }
    on_page.add(
        (
            int(re.search(r'data-correct="(\d+)"', item).group(1)),
            int(re.search(r'data-incorrect="(\d+)"', item).group(1)),
        )
    )
    # The default run's counts and the run prompted at 0.75: both already in the JSON.
    assert on_page == shown
    assert len(on_page) == 2
    # The table's row carries the same counts as the slider's line, and no others.
    table_row = re.search(r'<tr data-id="\d+" data-model="quiet"[^>]*>', body).group(0)
    assert re.search(r'data-runs="[^"]*"', table_row).group(0) == re.search(
        r'data-runs="[^"]*"', item
    ).group(0)
    assert f'data-items="{n}"' in table_row
    assert set(re.findall(r"data-[a-z-]+", table_row)) == {
        "data-id",
        "data-model",
        "data-items",
        "data-runs",
    }


def shown(score: float) -> str:
    return f"{score:.3f}".replace("-", "−")


def table_lines(page) -> list[tuple[str, str, str]]:
    """(model, rank at t, score at t) of the All-metrics table's rows in the browser, the
    abstain-everything line among them; the other reference lines must come last."""
    lines, others = [], 0
    for row in page.locator("table.board tbody tr").all():
        rank = row.locator(".live-rank").inner_text().strip()
        score = row.locator(".live-score").inner_text().strip()
        if row.get_attribute("class") == "baseline":
            name = row.locator("td.model").inner_text().split("\n")[0].replace("reference", "")
            if name.strip() == ABSTAIN:
                assert others == 0
                lines.append((ABSTAIN, "ref", score))
            else:
                others += 1
            continue
        assert others == 0, "a reference line other than abstaining comes before a model"
        lines.append((row.get_attribute("data-model"), rank, score))
    return lines


def expected_table(benchmark, t: float) -> list[tuple[str, str, str]]:
    scores = expected_scores(benchmark, t)
    return [
        (model, "ref" if rank == "ref" else rank, shown(0.0 if rank == "ref" else scores[model]))
        for model, rank in expected_lines(benchmark, t)
    ]


def served_table(html: str) -> list[tuple[str, str, str]]:
    """The table's lines as the server renders them (same shape as ``table_lines``)."""
    body = html.split('<table class="board">', 1)[1].split("</table>", 1)[0]
    body = body.split("<tbody>", 1)[1]
    lines = []
    for row in re.findall(r"<tr(.*?)</tr>", body, re.S):
        score = re.search(r'class="num group-start live-score"[^>]*>([^<]*)<', row).group(1)
        rank = re.search(r'class="num live-rank">([^<]*)<', row).group(1)
        model = re.search(r'data-model="([^"]*)"', row)
        if model:
            lines.append((unescape(model.group(1)), rank, score))
        elif "data-abstains" in row:
            lines.append((ABSTAIN, "ref", score))
    return lines


@pytest.mark.browser
def test_the_slider_reorders_the_table_with_its_live_column(page, seeded_simpleqa_cs):
    page.goto("/benchmarks/simpleqa-cs/")
    slider = page.get_by_role("slider", name="Confidence target t")
    # Without a t in the address the table keeps its sort; its live column is at 0.9.
    lines = table_lines(page)
    assert sorted(lines) == sorted(expected_table(seeded_simpleqa_cs, 0.9))
    slider.focus()
    page.keyboard.press("Home")
    assert table_lines(page) == expected_table(seeded_simpleqa_cs, 0.0)
    orders = set()
    for step in range(1, 81):
        page.keyboard.press("ArrowRight")
        if step % 5 == 0:
            t = round(step * 0.01, 2)
            lines = table_lines(page)
            assert lines == expected_table(seeded_simpleqa_cs, t), t
            assert page.locator("#live-t-head").inner_text() == f"t = {t:.2f}"
            orders.add(tuple(line[0] for line in lines))
    assert len(orders) > 2
    # The table follows the list beside the slider, line for line.
    assert [line[:2] for line in table_lines(page)] == page_lines(page)
    # The sort links now keep the slider's t.
    for link in page.locator("a.sort-link").all():
        assert parse_qs(urlparse(link.get_attribute("href")).query)["t"] == ["0.8"]
    page.locator(".sort-link", has_text="t = 0.75").click()
    page.wait_for_url("**t=0.8**")
    assert parse_qs(urlparse(page.url).query) == {"t": ["0.8"], "sort": ["0.75"]}
    assert table_lines(page) == expected_table(seeded_simpleqa_cs, 0.8)


def test_it_renders_the_table_at_the_t_of_the_address(client, seeded_simpleqa_cs):
    html = client.get("/benchmarks/simpleqa-cs/?t=0.8").content.decode()
    assert served_table(html) == expected_table(seeded_simpleqa_cs, 0.8)
    # Every model has its counts on its row, and the same as on the slider's list.
    for model, runs in re.findall(r'<li data-model="([^"]+)"[^>]*data-runs="([^"]*)"', html):
        assert re.search(
            rf'<tr data-id="\d+" data-model="{re.escape(model)}"[^>]*'
            rf'data-runs="{re.escape(runs)}"',
            html,
        )
    # The sort links keep t; without t in the address the table is in its sorted order.
    links = re.findall(r'<a href="([^"]+)" class="sort-link"', html)
    assert links and all("t=0.8&" in unescape(link) for link in links)
    plain = client.get("/benchmarks/simpleqa-cs/").content.decode()
    assert all("t=" not in link for link in re.findall(r'class="sort-link"[^>]*', plain))
    assert served_table(plain) != served_table(html)
    assert sorted(served_table(plain)) == sorted(expected_table(seeded_simpleqa_cs, 0.9))


def test_it_reorders_a_long_board_within_each_page(client, seeded_simpleqa_cs):
    from tests.web.test_board_pages import clone_submissions

    clone_submissions(30)
    services.benchmark_results_changed(benchmark_id=seeded_simpleqa_cs.pk)
    board = client.get("/benchmarks/simpleqa-cs/leaderboard.json").json()
    ranked = sorted(
        board["rows"], key=lambda row: (row["scores"]["0"]["rank"], row["model"].lower())
    )
    second = {row["model"] for row in ranked[100:]}
    html = client.get("/benchmarks/simpleqa-cs/?t=0.8&page=2").content.decode()
    assert "within this page only" in html
    expected = [
        line
        for line in expected_table(seeded_simpleqa_cs, 0.8)
        if line[0] in second or line[0] == ABSTAIN
    ]
    lines = served_table(html)
    # Page 2 holds the models of page 2 by binary rank, in their order at 0.8 (ranks of the
    # whole board); the abstain-everything line only if binary grading puts it on this page.
    assert [line for line in lines if line[0] != ABSTAIN] == [
        line for line in expected if line[0] != ABSTAIN
    ]
    for link in re.findall(r'<a href="([^"]+)" rel="(?:first|prev|next|last)">', html):
        assert "t=0.8&" in unescape(link)
