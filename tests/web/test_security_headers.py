"""The Content-Security-Policy and Permissions-Policy headers: on every kind of response, and
obeyed by every page, the admin's included, in a real browser."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from leaderboard import services

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def directives(header: str) -> dict[str, str]:
    return dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in header.split(";") if part.strip()
    )


@pytest.fixture
def scored(make_benchmark, save_submission, user):
    benchmark = make_benchmark()
    submission = save_submission(benchmark, user, b"id,answer\nq1,Paris\nq2,Marlowe\n")
    services.submission_score(submission_id=submission.pk)
    return submission


def test_it_sends_both_headers_with_every_kind_of_response(client, scored, admin_user, settings):
    # WhiteNoise answers /static/ before Django's views; here it finds the files through the
    # finders, as the tests run no collectstatic.
    settings.WHITENOISE_USE_FINDERS = True
    static = Client()
    staff = Client()
    staff.force_login(admin_user)
    responses = {
        "page": client.get("/benchmarks/capitals/"),
        "home": client.get("/"),
        "submission JSON": client.get(f"/submissions/{scored.pk}.json"),
        "board JSON": client.get("/benchmarks/capitals/leaderboard.json"),
        "CSV": client.get("/benchmarks/capitals/leaderboard.csv"),
        "static file": static.get("/static/css/site.css"),
        "404": client.get("/no-such-page/"),
        "405": client.post("/benchmarks/capitals/leaderboard.json"),
        "redirect": client.get("/benchmarks/capitals/submit/"),
        "admin log-in": client.get("/admin/login/"),
        "admin": staff.get("/admin/leaderboard/benchmark/"),
    }
    statuses = {name: response.status_code for name, response in responses.items()}
    assert statuses == {
        "page": 200,
        "home": 200,
        "submission JSON": 200,
        "board JSON": 200,
        "CSV": 200,
        "static file": 200,
        "404": 404,
        "405": 405,
        "redirect": 302,
        "admin log-in": 200,
        "admin": 200,
    }
    assert b"--accent" in b"".join(responses["static file"].streaming_content)
    for name, response in responses.items():
        policy = directives(response.get("Content-Security-Policy", ""))
        assert {key: policy.get(key) for key in POLICY} == POLICY, name
        # No script may run but the site's own files: no inline script, no eval.
        assert "unsafe" not in policy["script-src"], name
        permissions = response.get("Permissions-Policy", "")
        for feature in ("camera", "microphone", "geolocation"):
            assert f"{feature}=()" in permissions, name


def test_it_has_no_inline_script_in_any_template():
    from django.conf import settings

    templates = sorted((settings.BASE_DIR / "templates").rglob("*.html"))
    assert templates
    for template in templates:
        text = template.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            # A script tag either loads one of our files or carries data (json_script).
            assert "src=" in tag or 'type="application/json"' in tag, (template.name, tag)
        assert not re.search(r"\son[a-z]+\s*=", text), template.name
        assert "javascript:" not in text, template.name


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_reports_a_policy_violation_to_the_browser_tests(watched_page, scored):
    page, problems = watched_page
    page.goto("/benchmarks/capitals/")
    # What an injected name would try, were it ever written into a page unescaped.
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true;";
            document.body.appendChild(script);
        }"""
    )
    page.wait_for_function("() => true")
    assert page.evaluate("() => window.injected === undefined")
    page.wait_for_timeout(200)  # the report comes back from the page
    assert any(
        problem.startswith("content security policy: script-src-elem blocked inline")
        for problem in problems
    ), problems


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_runs_the_charts_under_the_policy(page, scored):
    page.goto("/benchmarks/capitals/")
    page.locator("#bump-chart .main-svg").first.wait_for()
    # Plotly's "download plot as a png" draws the chart through an image of it.
    page.locator("#bump-chart").hover()
    with page.expect_download() as download:
        page.locator("#bump-chart .modebar-btn[data-title^='Download plot']").click()
    assert download.value.suggested_filename.endswith(".png")
    page.goto(f"/submissions/{scored.pk}/")
    page.wait_for_load_state("networkidle")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_runs_the_admin_under_the_policy(page, scored, admin_user, client):
    admin_user.set_password("admin-passphrase-42")
    admin_user.save()
    page.goto("/admin/login/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", "admin-passphrase-42")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    for path in (
        "/admin/leaderboard/benchmark/",
        "/admin/leaderboard/benchmark/add/",
        f"/admin/leaderboard/benchmark/{scored.benchmark.pk}/change/",
        f"/admin/leaderboard/submission/{scored.pk}/change/",
        "/admin/auth/user/",
    ):
        page.goto(path)
        page.wait_for_load_state("networkidle")
    # The changelist's scripts work: ticking the header box ticks every row.
    page.goto("/admin/leaderboard/submission/")
    page.check("#action-toggle")
    assert page.locator("input.action-select").first.is_checked()
    assert page.locator(".action-counter").inner_text().startswith("1 of 1 selected")
