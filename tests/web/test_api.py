"""The API under /api/: personal tokens, uploads under the upload form's rules, and the JSON of
submissions and boards, for scripts and CI jobs."""

from __future__ import annotations

import hashlib
import json
import re
import time

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from leaderboard import services
from leaderboard.models import ApiToken, Submission
from tests.processes import start_gunicorn, stop

pytestmark = pytest.mark.django_db

PREDICTIONS_CSV = b"id,answer\nq1,Paris\nq2,shakespeare\nq3,Saturn\nq4,I don't know\n"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token(user) -> str:
    _, text = services.api_token_create(user=user, name="CI")
    return text


def api_upload(client, slug, token, content=PREDICTIONS_CSV, name="predictions.csv", **fields):
    data = {"model_name": "tiny-model", "file": SimpleUploadedFile(name, content), **fields}
    headers = bearer(token) if token else {}
    return client.post(f"/api/benchmarks/{slug}/submissions", data, headers=headers)


def errors_of(response) -> list[str]:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) == {"errors"}, body
    assert body["errors"] and all(isinstance(error, str) for error in body["errors"])
    return body["errors"]


# --- tokens ---------------------------------------------------------------------------------


def test_it_makes_a_token_shows_it_once_and_keeps_only_its_hash(client, user):
    client.force_login(user)
    response = client.post("/accounts/", {"action": "create-token", "token-name": "my CI"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get()
    page = response.content.decode()
    text = page.split('id="new-token-text"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert text.startswith("lb_") and len(text) == 43
    assert token.digest == hashlib.sha256(text.encode()).hexdigest()
    assert token.prefix == text[:10] and token.name == "my CI" and token.user == user
    # Nothing stored holds the token itself.
    stored = json.dumps(list(ApiToken.objects.values()), default=str)
    assert text not in stored
    # Shown once: the page lists it by its prefix afterwards.
    again = client.get("/accounts/").content.decode()
    assert text not in again
    assert f"{text[:10]}…" in again and "my CI" in again and "never" in again
    # It works.
    assert Client().get("/api/benchmarks/none", headers=bearer(text)).status_code == 404


def test_a_revoked_token_is_refused_with_a_clear_message(client, user, make_benchmark, token):
    make_benchmark()
    api = Client()
    assert api_upload(api, "capitals", token).status_code == 201
    client.force_login(user)
    stored = ApiToken.objects.get()
    response = client.post("/accounts/", {"action": "revoke-token", "token": stored.pk})
    assert response.status_code == 302
    assert "revoked" in client.get("/accounts/").content.decode()
    response = api_upload(api, "capitals", token)
    assert response.status_code == 401
    [message] = errors_of(response)
    assert "was revoked on" in message and "“CI”" in message and "/accounts/" in message
    assert Submission.objects.count() == 1
    assert api.get("/api/submissions/1", headers=bearer(token)).status_code == 401


def test_no_one_revokes_another_users_token(client, other_user, token):
    client.force_login(other_user)
    stored = ApiToken.objects.get()
    response = client.post("/accounts/", {"action": "revoke-token", "token": stored.pk})
    assert response.status_code == 404
    stored.refresh_from_db()
    assert stored.revoked_at is None


def test_staff_revoke_a_leaked_token_in_the_admin(admin_client, make_benchmark, token):
    make_benchmark()
    stored = ApiToken.objects.get()
    listing = admin_client.get("/admin/leaderboard/apitoken/").content.decode()
    assert stored.prefix in listing and token not in listing
    response = admin_client.post(
        "/admin/leaderboard/apitoken/", {"action": "revoke", "_selected_action": [stored.pk]}
    )
    assert response.status_code == 302
    stored.refresh_from_db()
    assert stored.revoked_at is not None
    assert Client().get("/api/benchmarks/capitals", headers=bearer(token)).status_code == 401


def test_it_records_when_a_token_was_last_used_at_most_once_a_minute(make_benchmark, token):
    make_benchmark()
    client = Client()
    stored = ApiToken.objects.get()
    assert stored.last_used_at is None
    client.get("/api/benchmarks/capitals", headers=bearer(token))
    stored.refresh_from_db()
    first = stored.last_used_at
    assert first is not None
    client.get("/api/benchmarks/capitals", headers=bearer(token))
    stored.refresh_from_db()
    assert stored.last_used_at == first  # within the minute: not written again
    ApiToken.objects.update(last_used_at=first - services.TOKEN_USE_RECORDED_EVERY)
    client.get("/api/benchmarks/capitals", headers=bearer(token))
    stored.refresh_from_db()
    assert stored.last_used_at > first - services.TOKEN_USE_RECORDED_EVERY


@pytest.mark.parametrize(
    "header, says",
    [
        (None, "This needs a personal API token"),
        ("Bearer lb_" + "x" * 40, "This API token is not valid"),
        ("Token abc", "must be “Bearer <token>”"),
        ("Bearer ", "must be “Bearer <token>”"),
    ],
)
def test_it_refuses_an_upload_without_a_good_token(make_benchmark, header, says):
    make_benchmark()
    headers = {"Authorization": header} if header else {}
    response = Client().post(
        "/api/benchmarks/capitals/submissions",
        {"model_name": "m", "file": SimpleUploadedFile("p.csv", PREDICTIONS_CSV)},
        headers=headers,
    )
    assert response.status_code == 401
    [message] = errors_of(response)
    assert says in message
    assert not Submission.objects.exists()


def test_a_deactivated_users_token_fails(make_benchmark, user, token):
    make_benchmark()
    user.is_active = False
    user.save()
    response = api_upload(Client(), "capitals", token)
    assert response.status_code == 401
    assert errors_of(response) == ["The account of this API token is deactivated."]


def test_it_refuses_tokens_from_an_address_that_sent_many_bad_ones(make_benchmark, token, settings):
    settings.API_TOKEN_MAX_FAILURES_PER_ADDRESS = 3
    make_benchmark()
    client = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(3):
        wrong = bearer(f"lb_{n:040d}")
        assert client.get("/api/benchmarks/capitals", headers=wrong).status_code == 401
    # Past the limit even a good token is refused, before it is looked up.
    response = client.get("/api/benchmarks/capitals", headers=bearer(token))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    [message] = errors_of(response)
    assert message.startswith("Too many unknown or revoked API tokens from this address")
    # Another address is not concerned, and good tokens do not count.
    other = Client(REMOTE_ADDR="203.0.113.10")
    for _ in range(5):
        assert other.get("/api/benchmarks/capitals", headers=bearer(token)).status_code == 200


def test_a_token_logs_in_no_session_and_opens_neither_the_admin_nor_the_account(
    admin_user, make_benchmark
):
    make_benchmark()
    _, text = services.api_token_create(user=admin_user, name="staff script")
    client = Client()
    response = client.get("/api/benchmarks/capitals/leaderboard", headers=bearer(text))
    assert response.status_code == 200
    assert "sessionid" not in response.cookies
    assert client.get("/admin/", headers=bearer(text)).status_code == 302
    assert client.get("/accounts/", headers=bearer(text)).status_code == 302
    response = client.post(
        "/accounts/", {"action": "create-token", "token-name": "x"}, headers=bearer(text)
    )
    assert response.status_code in (302, 403)
    assert ApiToken.objects.count() == 1


def test_a_session_cookie_does_not_submit_through_the_api(user, make_benchmark):
    """A page of another site could make a logged-in visitor's browser post to the API: the
    session cookie alone submits nothing (and the form's page still wants its CSRF token)."""
    make_benchmark()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    response = api_upload(browser, "capitals", token=None)
    assert response.status_code == 401
    assert not Submission.objects.exists()
    form = browser.post(
        "/benchmarks/capitals/submit/",
        {"model_name": "m", "visibility": "public", "file": SimpleUploadedFile("p.csv", b"x")},
    )
    assert form.status_code == 403
    assert not Submission.objects.exists()


# --- uploads --------------------------------------------------------------------------------


def test_it_takes_an_upload_and_queues_it(
    user, make_benchmark, token, django_capture_on_commit_callbacks
):
    make_benchmark()
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_upload(
            Client(), "capitals", token, organisation="Lab", url="https://example.org/m"
        )
    assert response.status_code == 201
    submission = Submission.objects.get()
    assert response.json() == {
        "id": submission.pk,
        "status": "queued",
        "url": f"http://testserver/submissions/{submission.pk}/",
        "status_url": f"http://testserver/api/submissions/{submission.pk}",
    }
    assert response["Location"] == f"http://testserver/api/submissions/{submission.pk}"
    assert submission.status == Submission.Status.QUEUED
    assert submission.owner == user
    assert (submission.model_name, submission.organisation) == ("tiny-model", "Lab")
    # The form's initial visibility where none is sent, as its page would send it.
    assert submission.visibility == "public"
    assert submission.file.read() == PREDICTIONS_CSV
    assert len(callbacks) == 1  # the scoring task, queued once the upload committed


def test_it_keeps_a_private_upload_private(make_benchmark, token, other_user):
    make_benchmark()
    response = api_upload(Client(), "capitals", token, visibility="private")
    submission_id = response.json()["id"]
    assert Submission.objects.get().visibility == "private"
    # Another user's token reads public submissions, never this one.
    _, others = services.api_token_create(user=other_user, name="theirs")
    response = Client().get(f"/api/submissions/{submission_id}", headers=bearer(others))
    assert response.status_code == 404
    assert errors_of(response) == [f"There is no submission {submission_id} visible to you."]
    assert Client().get(f"/api/submissions/{submission_id}").status_code == 404
    mine = Client().get(f"/api/submissions/{submission_id}", headers=bearer(token))
    assert mine.status_code == 200 and mine.json()["visibility"] == "private"
    public = api_upload(Client(), "capitals", token).json()["id"]
    assert Client().get(f"/api/submissions/{public}", headers=bearer(others)).status_code == 200


def test_it_enforces_the_daily_quota_with_the_forms_message(
    client, user, make_benchmark, token, settings
):
    settings.SUBMISSION_DAILY_QUOTA = 2
    make_benchmark()
    assert api_upload(Client(), "capitals", token).status_code == 201
    assert api_upload(Client(), "capitals", token).status_code == 201
    response = api_upload(Client(), "capitals", token)
    assert response.status_code == 429
    [message] = errors_of(response)
    # The quota frees up 24 hours after the oldest upload counted.
    assert 86_000 < int(response["Retry-After"]) <= 86_400
    client.force_login(user)
    page = client.post(
        "/benchmarks/capitals/submit/",
        {
            "model_name": "m",
            "visibility": "public",
            "file": SimpleUploadedFile("p.csv", PREDICTIONS_CSV),
        },
    )
    assert message.startswith("You have used your 2 submissions to Capitals")
    assert message in page.content.decode().replace("&#x27;", "'")
    assert Submission.objects.count() == 2


@pytest.mark.parametrize("size", [101, 3 * 1024 * 1024])
def test_it_refuses_a_file_over_the_limit_with_413(make_benchmark, token, settings, size):
    settings.UPLOAD_MAX_BYTES = 100
    make_benchmark()
    response = api_upload(Client(), "capitals", token, content=b"x" * size)
    assert response.status_code == 413
    assert errors_of(response) == [
        "file: The file is larger than the limit of 100\xa0bytes; nothing was kept."
    ]
    assert not Submission.objects.exists()


def test_the_forms_own_size_check_answers_413_too(make_benchmark, token, settings):
    # Without the upload handler that drops a large file as it arrives, the form's check of
    # the file's size still refuses it, with the same status.
    settings.UPLOAD_MAX_BYTES = 100
    settings.FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
    make_benchmark()
    response = api_upload(Client(), "capitals", token, content=b"x" * 101)
    assert response.status_code == 413
    assert errors_of(response) == ["file: The file is 101\xa0bytes; the limit is 100\xa0bytes."]
    assert not Submission.objects.exists()


def test_it_refuses_a_file_type_it_does_not_read(client, user, make_benchmark, token):
    make_benchmark()
    response = api_upload(Client(), "capitals", token, name="model.pkl")
    assert response.status_code == 400
    [message] = errors_of(response)
    assert message.startswith("file: “model.pkl” is not a file type we read")
    client.force_login(user)
    page = client.post(
        "/benchmarks/capitals/submit/",
        {"model_name": "m", "visibility": "public", "file": SimpleUploadedFile("model.pkl", b"x")},
    )
    assert message.removeprefix("file: ") in page.content.decode()
    assert not Submission.objects.exists()


def test_it_names_each_field_it_refuses(make_benchmark, token):
    make_benchmark()
    response = Client().post(
        "/api/benchmarks/capitals/submissions",
        {"visibility": "secret", "url": "not a url"},
        headers=bearer(token),
    )
    assert response.status_code == 400
    messages = errors_of(response)
    assert "model_name: This field is required." in messages
    assert "file: This field is required." in messages
    assert any(m.startswith("visibility: Select a valid choice.") for m in messages)
    assert "url: Enter a valid URL." in messages


def test_it_wants_a_confirmed_address_on_hidden_gold(make_benchmark, other_user):
    benchmark = make_benchmark(gold_public=False)
    _, text = services.api_token_create(user=other_user, name="unconfirmed")
    response = api_upload(Client(), "capitals", text)
    assert response.status_code == 403
    [message] = errors_of(response)
    assert message.startswith(services.needs_confirmation_message(benchmark))
    assert "http://testserver/accounts/confirm/" in message
    assert not Submission.objects.exists()


def test_it_answers_404_for_what_is_not_there(make_benchmark, token):
    make_benchmark(slug="draft-one", visibility="draft")
    client = Client()
    response = api_upload(client, "no-such-benchmark", token)
    assert response.status_code == 404
    assert errors_of(response) == [
        "There is no benchmark “no-such-benchmark” (or it is not visible to you)."
    ]
    assert api_upload(client, "draft-one", token).status_code == 404
    assert client.get("/api/submissions/999999", headers=bearer(token)).status_code == 404
    for path in ("/api/nothing/here", "/api/submissions/abc", "/api/benchmarks/draft-one/x"):
        response = client.get(path)
        assert response.status_code == 404, path
        [message] = errors_of(response)
        assert message.startswith(f"There is no API endpoint at {path}")


def test_it_answers_other_methods_with_405_in_json(make_benchmark, token):
    make_benchmark()
    client = Client()
    for method, path, allowed in (
        ("get", "/api/benchmarks/capitals/submissions", "POST"),
        ("post", "/api/benchmarks/capitals/leaderboard", "GET"),
        ("delete", "/api/benchmarks/capitals", "GET"),
        ("put", "/api/submissions/1", "GET"),
    ):
        response = getattr(client, method)(path, headers=bearer(token))
        assert response.status_code == 405, path
        assert response["Allow"] == allowed
        assert errors_of(response) == [f"{method.upper()} is not allowed at {path}: use {allowed}."]


def test_it_refuses_an_archived_benchmark(make_benchmark, token):
    make_benchmark(visibility="archived")
    response = api_upload(Client(), "capitals", token)
    assert response.status_code == 403
    assert errors_of(response) == ["Capitals is archived: it takes no uploads."]


# --- reads ----------------------------------------------------------------------------------


def test_a_submission_reads_as_its_json_page(client, user, make_benchmark, token):
    make_benchmark()
    response = api_upload(Client(), "capitals", token)
    submission_id = response.json()["id"]
    queued = Client().get(f"/api/submissions/{submission_id}", headers=bearer(token))
    assert queued.json()["status"] == "queued"
    services.submission_score(submission_id=submission_id)
    scored = Client().get(f"/api/submissions/{submission_id}", headers=bearer(token))
    assert scored.status_code == 200
    body = scored.json()
    assert body["status"] == "scored" and body["progress"] == 100 and body["errors"] == []
    assert body["metrics"]["counts"] == {"correct": 2, "incorrect": 1, "abstained": 1}
    client.force_login(user)
    assert body == client.get(f"/submissions/{submission_id}.json").json()


def test_the_boards_read_as_their_json_pages(client, make_benchmark, token, save_submission, user):
    benchmark = make_benchmark()
    submission = save_submission(benchmark, user, content=PREDICTIONS_CSV)
    services.submission_score(submission_id=submission.pk)
    api = Client()
    board = api.get("/api/benchmarks/capitals/leaderboard", headers=bearer(token))
    assert board.status_code == 200
    assert board.json() == client.get("/benchmarks/capitals/leaderboard.json").json()
    assert board.json()["rows"][0]["id"] == submission.pk
    settings_ = api.get("/api/benchmarks/capitals")
    assert settings_.status_code == 200
    assert settings_.json() == client.get("/benchmarks/capitals/benchmark.json").json()
    assert settings_.json()["n_items"] == 4


# --- schema and reference page --------------------------------------------------------------


def test_the_schema_is_valid_openapi_and_lists_the_endpoints(client):
    from openapi_spec_validator import validate

    response = client.get("/api/schema")
    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    assert set(schema["paths"]) == {
        "/api/benchmarks/{slug}/submissions",
        "/api/submissions/{submission_id}",
        "/api/benchmarks/{slug}/leaderboard",
        "/api/benchmarks/{slug}",
    }
    upload = schema["paths"]["/api/benchmarks/{slug}/submissions"]["post"]
    body = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert body["properties"]["file"] == {
        "type": "string",
        "format": "binary",
        "description": body["properties"]["file"]["description"],
    }
    assert set(body["required"]) == {"model_name", "file"}
    assert body["properties"]["visibility"]["enum"] == ["public", "private"]
    assert {"201", "400", "401", "403", "404", "413", "429"} <= set(upload["responses"])
    assert schema["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"


def test_the_reference_page_loads_its_assets_from_our_static_files(client, settings):
    response = client.get("/api/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    assert assets and all(asset.startswith(settings.STATIC_URL) for asset in assets), assets
    assert "img-src 'self' blob: data:" in response["Content-Security-Policy"]
    assert "script-src 'self';" in response["Content-Security-Policy"]


# --- with real processes --------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_script_submits_and_follows_its_upload_to_the_board(
    celery_worker, client, user, make_benchmark, token
):
    make_benchmark()
    api = Client()
    response = api_upload(api, "capitals", token)
    assert response.status_code == 201
    status_url = response["Location"].removeprefix("http://testserver")
    deadline = time.monotonic() + 60
    while (body := api.get(status_url, headers=bearer(token)).json())["status"] in (
        "queued",
        "scoring",
    ):
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
    assert body["status"] == "scored", body
    client.force_login(user)
    assert body == client.get(f"/submissions/{body['id']}.json").json()
    board = api.get("/api/benchmarks/capitals/leaderboard", headers=bearer(token)).json()
    assert [row["id"] for row in board["rows"]] == [body["id"]]


@pytest.mark.django_db(transaction=True)
def test_the_reference_page_works_from_the_collected_static_files(
    worker_env, collected_static, tmp_path
):
    """Under gunicorn with WhiteNoise and the collected, hashed static files, as in production:
    every asset of the page comes from our static URL."""
    process, url = start_gunicorn(
        {**worker_env, "STATIC_ROOT": str(collected_static)}, tmp_path / "web.log"
    )
    try:
        page = httpx.get(f"{url}/api/docs")
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert len(assets) >= 4, page.text
        for asset in assets:
            # Collected, under a name that holds its hash, and served by WhiteNoise.
            assert re.fullmatch(r"/static/ninja/[\w.-]+\.[0-9a-f]{12}\.\w+", asset), asset
            response = httpx.get(url + asset)
            assert response.status_code == 200, asset
            assert response.headers["Cache-Control"].startswith("max-age=315360000")
        schema = httpx.get(f"{url}/api/schema")
        assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")
    finally:
        stop(process)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_reference_page_runs_under_the_content_security_policy(page):
    """Swagger UI draws every endpoint from /api/schema, with nothing blocked, no error and no
    request to another host (the `page` fixture fails the test on any)."""
    page.goto("/api/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() == 4
    page.locator(".opblock-post .opblock-summary").first.click()
    page.locator(".try-out__btn").first.click()
    # The upload form drawn from the schema: the file field among the form's fields.
    page.locator("input[type=file]").first.wait_for()
    page.wait_for_load_state("networkidle")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_token_made_on_the_account_page_submits_from_a_script(
    page, live_server, user, make_benchmark
):
    make_benchmark()
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "a-long-passphrase-1")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Account").click()
    page.fill("#id_token-name", "nightly CI")
    page.get_by_role("button", name="Create a token").click()
    token = page.locator("#new-token-text").input_value()
    assert token.startswith("lb_") and len(token) == 43

    def upload() -> httpx.Response:
        return httpx.post(
            f"{live_server.url}/api/benchmarks/capitals/submissions",
            headers=bearer(token),
            data={"model_name": "from-ci"},
            files={"file": ("predictions.csv", PREDICTIONS_CSV)},
        )

    response = upload()
    assert response.status_code == 201, response.text
    page.goto("/accounts/")
    assert token not in page.content()
    row = page.locator("#token-list tbody tr", has_text="nightly CI")
    assert token[:10] in row.inner_text() and "never" not in row.inner_text()
    row.get_by_role("button", name="Revoke").click()
    page.get_by_text("is revoked").wait_for()
    assert upload().status_code == 401
    assert Submission.objects.get().model_name == "from-ci"
