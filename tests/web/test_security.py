"""Who may do what, and what a hostile visitor cannot do: log-ins, uploads, forms, scripts.

Anonymous visitors cannot upload; users cannot see or change each other's private submissions;
only staff curate. Every form needs its CSRF token; names and descriptions are shown as text;
uploads are kept under generated names where no URL reaches them; failed log-ins are limited;
and the production settings pass `manage.py check --deploy`.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, get_resolver

from leaderboard import ratelimit, services
from leaderboard.models import Benchmark, Submission
from tests.processes import Browser, manage_shell

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PREDICTIONS = b"id,answer\nq1,Paris\nq2,Marlowe\nq3,I don't know\n"


def upload_form(name: str = "predictions.csv", content: bytes = PREDICTIONS, **fields) -> dict:
    return {
        "model_name": "tiny-model",
        "organisation": "",
        "url": "",
        "description": "",
        "visibility": "public",
        "file": SimpleUploadedFile(name, content),
        **fields,
    }


def stored_files(media_root: Path) -> set[Path]:
    return {path for path in Path(media_root).rglob("*") if path.is_file()}


# --- who may do what ---------------------------------------------------------------------------


def test_it_sends_anonymous_uploads_to_log_in_and_saves_nothing(client, make_benchmark, settings):
    make_benchmark()
    before = stored_files(settings.MEDIA_ROOT)
    for response in (
        client.get("/benchmarks/capitals/submit/"),
        client.post("/benchmarks/capitals/submit/", upload_form()),
    ):
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/benchmarks/capitals/submit/"
    assert not Submission.objects.exists()
    assert stored_files(settings.MEDIA_ROOT) == before


def _user_paths(submission: Submission) -> dict[str, str]:
    """Every URL outside the admin, built from the URLconf with this submission's id and slug."""
    values = {
        "slug": submission.benchmark.slug,
        "submission_id": submission.pk,
        # Links of confirmation and password-reset e-mails (not valid ones).
        "token": "not-a-token",
        "uidb64": "MQ",
    }
    paths = {}
    for pattern in get_resolver().url_patterns:
        route = str(pattern.pattern)
        if not isinstance(pattern, URLPattern) or route.startswith("admin/"):
            continue  # the admin, tested on its own below
        paths[pattern.name or route] = "/" + re.sub(
            r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route
        )
    return paths


# The only pages that take a POST from users; none of them changes an existing submission.
USER_POSTS = {
    "submit",
    "account",
    "signup",
    "login",
    "logout",
    "confirm_email_send",
    "confirm_email",
    "password_reset",
    "password_reset_confirm",
}


def test_it_keeps_a_private_submission_from_other_users(
    client, make_benchmark, save_submission, user, other_user
):
    benchmark = make_benchmark()
    private = save_submission(
        benchmark,
        user,
        b"id,answer\nq1,Paris\nq2,Shakespeare\n",
        model_name="secret-model",
        visibility=Submission.Visibility.PRIVATE,
    )
    public = save_submission(benchmark, other_user, b"id,answer\nq1,Paris\n", model_name="open")
    for submission in (private, public):
        services.submission_score(submission_id=submission.pk)
    private.refresh_from_db()
    before = Submission.objects.values().get(pk=private.pk)

    client.force_login(other_user)
    paths = _user_paths(private)
    for name in ("submission", "submission_json"):
        assert client.get(paths[name]).status_code == 404, name
    compare = client.get(f"/benchmarks/capitals/compare/?ids={public.pk},{private.pk}")
    assert compare.status_code == 200
    assert "secret-model" not in compare.content.decode()
    assert f"Not on this board (or not visible to you): #{private.pk}" in compare.content.decode()
    # No page a user can post to changes a submission: every other one refuses the method.
    for name, path in paths.items():
        if name not in USER_POSTS:
            response = client.post(path, {"model_name": "renamed", "visibility": "public"})
            assert response.status_code == 405, (name, response.status_code)
    change = f"/admin/leaderboard/submission/{private.pk}/change/"
    response = client.post(change, {"model_name": "renamed", "visibility": "public"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert Submission.objects.values().get(pk=private.pk) == before

    # The owner does see it: the 404s above are about who asks.
    client.force_login(user)
    assert client.get(paths["submission"]).status_code == 200
    assert client.get(paths["submission_json"]).json()["model"] == "secret-model"


def test_it_lets_only_staff_curate(client, make_benchmark, save_submission, user, other_user):
    benchmark = make_benchmark()
    submission = save_submission(benchmark, other_user, PREDICTIONS, model_name="watched")
    client.force_login(user)
    for path in (
        "/admin/",
        "/admin/leaderboard/benchmark/",
        f"/admin/leaderboard/benchmark/{benchmark.pk}/change/",
        "/admin/leaderboard/submission/",
        "/admin/leaderboard/item/",
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"/admin/login/?next={path}"
    hide = {"action": "hide_from_leaderboard", "_selected_action": [submission.pk]}
    response = client.post("/admin/leaderboard/submission/", hide)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    response = client.post(f"/admin/leaderboard/benchmark/{benchmark.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert not Submission.objects.get(pk=submission.pk).hidden
    assert Benchmark.objects.filter(pk=benchmark.pk).exists()

    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    assert client.post("/admin/leaderboard/submission/", hide).status_code == 302
    assert Submission.objects.get(pk=submission.pk).hidden


# --- CSRF --------------------------------------------------------------------------------------


def csrf_client(page: str, login=None) -> tuple[Client, str]:
    """A client that enforces CSRF checks, and the token a visit to `page` gave it."""
    client = Client(enforce_csrf_checks=True)
    if login is not None:
        client.force_login(login)
    assert client.get(page).status_code == 200
    return client, client.cookies["csrftoken"].value


def test_it_refuses_a_signup_without_its_csrf_token():
    client, token = csrf_client("/accounts/signup/")
    form = {
        "username": "lovelace",
        "email": "ada@example.org",
        "password1": "engine-notes-1843",
        "password2": "engine-notes-1843",
    }
    assert client.post("/accounts/signup/", form).status_code == 403
    assert not get_user_model().objects.filter(username="lovelace").exists()
    assert (
        client.post("/accounts/signup/", {**form, "csrfmiddlewaretoken": token}).status_code == 302
    )
    assert get_user_model().objects.filter(username="lovelace").exists()


def test_it_refuses_a_login_without_its_csrf_token(user):
    client, token = csrf_client("/accounts/login/")
    form = {"username": "ada", "password": "a-long-passphrase-1"}
    assert client.post("/accounts/login/", form).status_code == 403
    assert "_auth_user_id" not in client.session
    assert (
        client.post("/accounts/login/", {**form, "csrfmiddlewaretoken": token}).status_code == 302
    )
    assert client.session["_auth_user_id"] == str(user.pk)


def test_it_refuses_a_logout_without_its_csrf_token(user):
    client, token = csrf_client("/", login=user)
    assert client.post("/accounts/logout/").status_code == 403
    assert client.session["_auth_user_id"] == str(user.pk)
    response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_it_refuses_an_upload_without_its_csrf_token(user, make_benchmark):
    make_benchmark()
    client, token = csrf_client("/benchmarks/capitals/submit/", login=user)
    assert client.post("/benchmarks/capitals/submit/", upload_form()).status_code == 403
    assert not Submission.objects.exists()
    response = client.post(
        "/benchmarks/capitals/submit/", {**upload_form(), "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    assert Submission.objects.get().model_name == "tiny-model"


def test_it_refuses_an_admin_change_without_its_csrf_token(
    make_benchmark, save_submission, user, admin_user
):
    submission = save_submission(make_benchmark(), user, PREDICTIONS, model_name="before")
    change = f"/admin/leaderboard/submission/{submission.pk}/change/"
    client, token = csrf_client(change, login=admin_user)
    form = {"model_name": "after", "organisation": "", "url": "", "description": ""}
    form |= {"visibility": "public", "_save": "Save"}
    assert client.post(change, form).status_code == 403
    assert Submission.objects.get(pk=submission.pk).model_name == "before"
    assert client.post(change, {**form, "csrfmiddlewaretoken": token}).status_code == 302
    assert Submission.objects.get(pk=submission.pk).model_name == "after"


# --- scripts in names --------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMAGE = '"><img src=x onerror=alert(2)>'


@pytest.fixture
def hostile(make_benchmark, save_submission, user, other_user) -> list[Submission]:
    """Two scored submissions whose names, descriptions and organisations are markup."""
    benchmark = make_benchmark()
    first = save_submission(
        benchmark,
        user,
        b"id,answer\nq1,Paris\nq2,Shakespeare\nq3,idk\n",
        model_name=SCRIPT,
        description=IMAGE,
        organisation=IMAGE,
    )
    second = save_submission(
        benchmark, other_user, b"id,answer\nq1,Paris\nq2,Marlowe\n", model_name=IMAGE
    )
    for submission in (first, second):
        services.submission_score(submission_id=submission.pk)
    return [first, second]


def figures_in(page: str) -> list[dict]:
    return [
        json.loads(text)
        for text in re.findall(
            r'<script id="figure-\w+" type="application/json">(.*?)</script>', page
        )
    ]


def test_it_shows_markup_in_names_as_text(client, hostile, user):
    first, second = hostile
    client.force_login(user)
    pages = {
        "home": client.get("/"),
        "board": client.get("/benchmarks/capitals/"),
        "submission": client.get(f"/submissions/{first.pk}/"),
        "compare": client.get(f"/benchmarks/capitals/compare/?ids={first.pk},{second.pk}"),
        "my submissions": client.get("/accounts/submissions/"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        page = response.content.decode()
        assert "<script>alert" not in page, name
        assert "<img src=x" not in page, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, name
    for name in ("board", "compare"):
        assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in pages[name].content.decode()
    assert "&quot;&gt;&lt;img src=x" in pages["submission"].content.decode()  # the description
    # The figures carry the names as data, in script tags that "</script>" cannot close, and
    # escaped for plotly, which reads a few HTML tags in its labels.
    figures = figures_in(pages["board"].content.decode())
    assert len(figures) == 3
    for figure in figures:
        assert html.escape(SCRIPT) in json.dumps(figure)
        assert SCRIPT not in json.dumps(figure)


def test_it_refuses_a_script_as_a_model_url(client, user, make_benchmark):
    make_benchmark()
    client.force_login(user)
    form = upload_form(url="javascript:alert(3)")
    response = client.post("/benchmarks/capitals/submit/", form)
    assert response.status_code == 200
    assert "Enter a valid URL." in response.content.decode()
    assert not Submission.objects.exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_runs_no_script_from_a_name_in_the_browser(page, hostile):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    first, second = hostile
    for path in (
        "/benchmarks/capitals/",
        f"/submissions/{first.pk}/",
        f"/benchmarks/capitals/compare/?ids={first.pk},{second.pk}",
    ):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.get_by_text(SCRIPT).first.is_visible(), path
    page.goto("/benchmarks/capitals/")
    page.locator("#bump-chart .main-svg").first.wait_for()
    assert SCRIPT in page.locator("#bump-chart").inner_text()
    assert dialogs == []


# --- uploaded files ----------------------------------------------------------------------------


def test_it_stores_uploads_under_generated_names_no_url_serves(
    client, user, make_benchmark, settings
):
    make_benchmark()
    client.force_login(user)
    response = client.post(
        "/benchmarks/capitals/submit/", upload_form(name="../../static/My Predictions.csv")
    )
    assert response.status_code == 302
    submission = Submission.objects.get()
    assert submission.original_filename == "My Predictions.csv"
    assert re.fullmatch(r"submissions/[0-9a-f]{32}\.csv", submission.file.name)
    stored = Path(submission.file.path).resolve()
    assert stored.read_bytes() == PREDICTIONS
    assert stored.is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    for static in (settings.STATIC_ROOT, *settings.STATICFILES_DIRS):
        assert not stored.is_relative_to(Path(static).resolve()), static
    assert finders.find(submission.file.name, find_all=True) == []
    for url in (
        settings.MEDIA_URL + submission.file.name,
        settings.STATIC_URL + submission.file.name,
        "/" + submission.file.name,
    ):
        assert client.get(url).status_code == 404, url


def _settings_of(env: dict[str, str], *names: str) -> dict:
    code = (
        "import json; from django.conf import settings as s; "
        f"print(json.dumps({{n: str(getattr(s, n)) for n in {list(names)!r}}}))"
    )
    result = manage_shell(code, env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_keeps_uploads_outside_the_static_files_by_default(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SECRET_KEY": secrets.token_urlsafe(50)}
    env["VAR_DIR"] = str(tmp_path / "var")
    found = _settings_of(env, "MEDIA_ROOT", "STATIC_ROOT", "STATICFILES_DIRS")
    media = Path(found["MEDIA_ROOT"])
    assert not media.is_relative_to(Path(found["STATIC_ROOT"]))
    assert str(ROOT / "static") in found["STATICFILES_DIRS"]
    assert not media.is_relative_to(ROOT / "static")


# --- failed log-ins ----------------------------------------------------------------------------


@pytest.fixture
def attempts(settings):
    """Log-in attempts from chosen addresses; their counts are wiped from Redis afterwards."""
    assert "RedisCache" in settings.CACHES["default"]["BACKEND"], "run with CACHE_URL (Redis)"
    settings.LOGIN_MAX_FAILURES = 5
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    settings.LOGIN_FAILURE_WINDOW = 15 * 60
    settings.TRUSTED_PROXIES = 0
    # A fast hasher, so that a burst of attempts takes milliseconds, well inside a short window.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    used: set[tuple[str, str]] = set()

    def attempt(username, password, address, *, path="/accounts/login/", forwarded=None):
        client = Client()
        extra = {"REMOTE_ADDR": address}
        if forwarded is not None:
            extra["HTTP_X_FORWARDED_FOR"] = forwarded
        for counted in (address, *(forwarded or "").split(",")):
            used.add((username, counted.strip()))
        return client.post(path, {"username": username, "password": password}, **extra)

    yield attempt
    for username, address in used:
        for key in ratelimit.failure_keys(username, address):
            cache.delete_many([key, f"{key}:ends"])


@pytest.fixture
def people(django_user_model):
    def make(*names: str):
        return [
            django_user_model.objects.create_user(name, password=f"{name}-passphrase-77")
            for name in names
        ]

    return make


def test_it_locks_a_username_out_after_five_failures(attempts, people):
    alice, bob = people("alice-lock", "bob-lock")
    for _ in range(5):
        response = attempts("alice-lock", "wrong", "198.51.100.1")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    # The right password, even from elsewhere, no longer opens the account.
    for address in ("198.51.100.1", "198.51.100.2"):
        response = attempts("alice-lock", "alice-lock-passphrase-77", address)
        assert response.status_code == 429
        assert "Too many failed log-in attempts" in response.content.decode()
        assert "try again in 15 minutes" in response.content.decode()
        assert 14 * 60 < int(response["Retry-After"]) <= 15 * 60
        assert "_auth_user_id" not in response.client.session
    # Someone else, from another address, logs in as usual.
    assert attempts("bob-lock", "bob-lock-passphrase-77", "198.51.100.3").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_it_checks_no_more_passwords_than_the_limit_when_attempts_come_at_once(
    live_server, people, settings
):
    settings.LOGIN_MAX_FAILURES = 5
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    settings.BEHIND_PROXY = False
    people("ivan-burst")
    browsers = [Browser(live_server.url) for _ in range(16)]
    tokens = [browser.form_token("/accounts/login/") for browser in browsers]
    start = threading.Barrier(len(browsers))
    answers = []

    def guess(browser: Browser, token: str) -> None:
        fields = {"username": "ivan-burst", "password": "wrong", "csrfmiddlewaretoken": token}
        body = urllib.parse.urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        start.wait()
        answers.append(browser.request("/accounts/login/", body, headers))

    threads = [
        threading.Thread(target=guess, args=pair) for pair in zip(browsers, tokens, strict=True)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        # A password was checked (and found wrong) for five of the sixteen; the others were
        # refused before any check.
        checked = [body for status, _, body in answers if status == 200]
        refused = [body for status, _, body in answers if status == 429]
        assert len(checked) == 5 and len(refused) == 11, [status for status, _, _ in answers]
        assert all("Please enter a correct username and password" in body for body in checked)
        assert all("Too many failed log-in attempts" in body for body in refused)
    finally:
        for key in ratelimit.failure_keys("ivan-burst", "127.0.0.1"):
            cache.delete_many([key, f"{key}:ends"])


def test_it_opens_the_account_again_once_the_window_has_passed(attempts, people, settings):
    settings.LOGIN_FAILURE_WINDOW = 2
    people("carol-window")
    for _ in range(5):
        attempts("carol-window", "wrong", "198.51.100.10")
    refused = attempts("carol-window", "carol-window-passphrase-77", "198.51.100.10")
    assert refused.status_code == 429
    time.sleep(int(refused["Retry-After"]) + 0.5)
    opened = attempts("carol-window", "carol-window-passphrase-77", "198.51.100.10")
    assert opened.status_code == 302


def test_it_counts_only_failures_and_forgets_them_on_success(attempts, people):
    people("dave-counts")
    for _ in range(8):
        assert (
            attempts("dave-counts", "dave-counts-passphrase-77", "198.51.100.20").status_code == 302
        )
    for _ in range(4):
        attempts("dave-counts", "wrong", "198.51.100.20")
    assert attempts("dave-counts", "dave-counts-passphrase-77", "198.51.100.20").status_code == 302
    for _ in range(4):
        attempts("dave-counts", "wrong", "198.51.100.20")
    # Eight failures in all, but never five since the last success.
    assert attempts("dave-counts", "dave-counts-passphrase-77", "198.51.100.20").status_code == 302


def test_it_locks_an_address_that_tries_many_usernames(attempts, people, settings):
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 6
    people("erin-address")
    for n in range(6):
        assert attempts(f"guess-{n}", "wrong", "198.51.100.30").status_code == 200
    assert (
        attempts("erin-address", "erin-address-passphrase-77", "198.51.100.30").status_code == 429
    )
    assert (
        attempts("erin-address", "erin-address-passphrase-77", "198.51.100.31").status_code == 302
    )


def test_it_believes_x_forwarded_for_only_behind_the_proxy(attempts, people, settings):
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 3
    people("frank-proxy")
    # Without a proxy, the header is the client's own word: changing it escapes nothing.
    for n in range(3):
        attempts(f"guess-{n}", "wrong", "198.51.100.40", forwarded=f"203.0.113.{n}")
    response = attempts(
        "frank-proxy", "frank-proxy-passphrase-77", "198.51.100.40", forwarded="1.1.1.1"
    )
    assert response.status_code == 429

    # Behind one proxy, every request comes from it; the address it appended is the client's.
    settings.TRUSTED_PROXIES = 1
    for n in range(3):
        attempts(f"other-{n}", "wrong", "10.0.0.2", forwarded=f"192.0.2.{n}, 203.0.113.50")
    locked = attempts(
        "frank-proxy", "frank-proxy-passphrase-77", "10.0.0.2", forwarded="203.0.113.50"
    )
    assert locked.status_code == 429
    # What the client writes in front of the proxy's entry changes nothing.
    spoofed = "203.0.113.51, 203.0.113.50"
    assert attempts("frank-proxy", "x", "10.0.0.2", forwarded=spoofed).status_code == 429
    # Another client behind the same proxy is not affected.
    response = attempts(
        "frank-proxy", "frank-proxy-passphrase-77", "10.0.0.2", forwarded="203.0.113.60"
    )
    assert response.status_code == 302


def test_it_takes_the_client_address_from_the_outermost_trusted_proxy(attempts, people, settings):
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 3
    settings.TRUSTED_PROXIES = 2
    people("gina-proxies")
    password = "gina-proxies-passphrase-77"
    # A load balancer, then the TLS proxy: the client's address is the second from the right.
    for n in range(3):
        attempts(f"lb-{n}", "wrong", "10.0.0.3", forwarded=f"192.0.2.{n}, 203.0.113.70, 10.0.0.9")
    spoofed = "198.51.100.99, 203.0.113.70, 10.0.0.9"
    assert attempts("gina-proxies", password, "10.0.0.3", forwarded=spoofed).status_code == 429
    behind_both = "203.0.113.80, 10.0.0.9"
    assert attempts("gina-proxies", password, "10.0.0.3", forwarded=behind_both).status_code == 302
    # A request with fewer entries than proxies did not come through both of them: its own
    # address counts, whatever its header says.
    for n in range(3):
        attempts(f"direct-{n}", "wrong", "198.51.100.77", forwarded=f"203.0.113.{90 + n}")
    short = "203.0.113.95"
    assert attempts("gina-proxies", password, "198.51.100.77", forwarded=short).status_code == 429


def test_it_limits_the_admin_log_in_as_well(attempts, people):
    (grace,) = people("grace-admin")
    grace.is_staff = True
    grace.save()
    for _ in range(5):
        response = attempts("grace-admin", "wrong", "198.51.100.50", path="/admin/login/")
        assert response.status_code == 200
    response = attempts(
        "grace-admin", "grace-admin-passphrase-77", "198.51.100.50", path="/admin/login/"
    )
    assert response.status_code == 429
    assert "try again in 15 minutes" in response.content.decode()
    # One count for both pages: the site's log-in is closed to the username too.
    response = attempts("grace-admin", "grace-admin-passphrase-77", "198.51.100.51")
    assert response.status_code == 429


# --- production settings -----------------------------------------------------------------------


def compose_environment(secret_key: str) -> dict[str, str]:
    """The environment docker-compose.yml gives the web service, its defaults filled in."""
    text = (ROOT / "docker-compose.yml").read_text()
    block = re.search(r"^x-app:.*?^  environment:\n(.*?)^  \S", text, re.M | re.S)
    assert block, "docker-compose.yml has no x-app environment"
    given = {"SECRET_KEY": secret_key, "ALLOWED_HOSTS": "leaderboard.example.org"}
    env = {}
    for line in block.group(1).splitlines():
        match = re.fullmatch(r"\s+(\w+): (.*)", line)
        if not match:
            continue
        name, value = match.groups()

        def fill(variable: re.Match) -> str:
            wanted, sign, default = variable.groups()
            if wanted in given:
                return given[wanted]
            assert sign == ":-", f"{wanted} must be given: {default}"
            return default

        env[name] = re.sub(r"\$\{(\w+)(:[-?])([^}]*)\}", fill, value).strip('"')
    return env


def test_it_passes_the_deployment_checks_with_the_compose_settings(tmp_path):
    env = compose_environment(secrets.token_urlsafe(50))
    assert env["DEBUG"] == "false" and env["SECURE_SSL_REDIRECT"] == "true"
    env |= {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output


def test_it_refuses_the_old_proxy_setting_and_a_negative_count(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SECRET_KEY": secrets.token_urlsafe(50)}
    env["VAR_DIR"] = str(tmp_path / "var")

    def check(**given: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "manage.py", "check"]
        return subprocess.run(
            command, cwd=ROOT, env={**env, **given}, capture_output=True, text=True, timeout=60
        )

    # A deployment that still says BEHIND_PROXY would otherwise lose its proxy without a word.
    old = check(BEHIND_PROXY="true")
    assert old.returncode != 0
    assert "BEHIND_PROXY is replaced by TRUSTED_PROXIES" in old.stderr
    negative = check(TRUSTED_PROXIES="-1")
    assert negative.returncode != 0
    assert "TRUSTED_PROXIES must be 0 or more, not -1" in negative.stderr
    assert check(TRUSTED_PROXIES="2").returncode == 0


def compose_services() -> dict[str, str]:
    """Each service of docker-compose.yml and the text of its block."""
    text = (ROOT / "docker-compose.yml").read_text()
    block = re.search(r"^services:\n(.*?)^\S", text, re.M | re.S)
    assert block, "docker-compose.yml has no services"
    names = re.split(r"^  (\w+):\n", block.group(1), flags=re.M)[1:]
    return dict(zip(names[::2], names[1::2], strict=True))


def test_it_reaches_the_web_process_in_compose_only_through_the_proxy():
    services = compose_services()
    published = {name for name, block in services.items() if re.search(r"^    ports:", block, re.M)}
    # Were the web port published, anyone could write the X-Forwarded-For the site believes.
    assert published == {"proxy"}
    assert '"443:443"' in services["proxy"]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]
    assert "reverse_proxy web:8000" in (ROOT / "Caddyfile").read_text()
    assert compose_environment("unused")["TRUSTED_PROXIES"] == "1"


def test_it_never_caches_one_visitors_message_into_the_page_everyone_gets(client, make_benchmark):
    from django.contrib.messages import constants
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.http import HttpResponse
    from django.test import RequestFactory

    make_benchmark()
    storage = CookieStorage(RequestFactory().get("/"))
    storage.add(constants.INFO, "for-this-visitor-only")
    carrier = HttpResponse()
    storage.update(carrier)
    client.cookies["messages"] = carrier.cookies["messages"].value
    assert "for-this-visitor-only" in client.get("/benchmarks/capitals/").content.decode()
    for _ in range(2):  # the page anonymous visitors share, rendered then cached
        assert "for-this-visitor-only" not in Client().get("/benchmarks/capitals/").content.decode()
