"""Sign-up, log-in and log-out through the real URLs."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_it_signs_up_and_logs_in(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "lovelace",
            "email": "ada@example.org",
            "password1": "analytical-engine-42",
            "password2": "analytical-engine-42",
        },
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(username="lovelace").exists()
    home = client.get("/")
    assert b"Log out lovelace" in home.content


def test_it_shows_signup_errors(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "x", "password1": "short", "password2": "different"},
    )
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not get_user_model().objects.filter(username="x").exists()


def test_it_logs_in_and_out(client, user):
    response = client.post(
        "/accounts/login/", {"username": "ada", "password": "a-long-passphrase-1"}
    )
    assert response.status_code == 302
    assert b"Log out ada" in client.get("/").content
    client.post("/accounts/logout/")
    assert b"Log in" in client.get("/").content


def test_it_rejects_a_wrong_password(client, user):
    response = client.post("/accounts/login/", {"username": "ada", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_it_does_not_redirect_elsewhere_after_signup(client):
    response = client.post(
        "/accounts/signup/?next=https://evil.example/",
        {
            "username": "lovelace",
            "email": "ada@example.org",
            "password1": "analytical-engine-42",
            "password2": "analytical-engine-42",
        },
    )
    assert response["Location"] == "/"


def signup_form(username):
    return {
        "username": username,
        "email": f"{username}@example.org",
        "password1": "analytical-engine-42",
        "password2": "analytical-engine-42",
    }


def test_it_throttles_signups_per_address(client, settings):
    settings.SIGNUP_MAX_PER_ADDRESS = 3
    crowded = {"REMOTE_ADDR": "198.51.100.31"}
    for number in range(3):
        response = client.post("/accounts/signup/", signup_form(f"crowd{number}"), **crowded)
        assert response.status_code == 302
        client.post("/accounts/logout/")
    response = client.post("/accounts/signup/", signup_form("crowd3"), **crowded)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= settings.SIGNUP_WINDOW
    page = response.content.decode()
    assert "Too many sign-ups from this address: try again in" in page
    assert 'name="username"' in page  # the form, with what was typed
    assert not get_user_model().objects.filter(username="crowd3").exists()
    # Another address is not held back by this one.
    response = client.post(
        "/accounts/signup/", signup_form("elsewhere"), REMOTE_ADDR="198.51.100.32"
    )
    assert response.status_code == 302


def test_it_sends_one_mailbox_no_more_links_than_its_limit_whoever_signs_up(
    client, settings, mailoutbox
):
    settings.EMAIL_REQUESTS_PER_ADDRESS = 2
    for number in range(3):
        form = {**signup_form(f"prank{number}"), "email": "victim@example.org"}
        response = client.post("/accounts/signup/", form, REMOTE_ADDR=f"192.0.2.{60 + number}")
        assert response.status_code == 302
        client.post("/accounts/logout/")
    assert [mail.to for mail in mailoutbox] == [["victim@example.org"]] * 2
    assert get_user_model().objects.filter(username="prank2").exists()


def test_it_counts_concurrent_signups_before_letting_any_through(settings):
    from concurrent.futures import ThreadPoolExecutor

    from leaderboard import ratelimit

    settings.SIGNUP_MAX_PER_ADDRESS = 5
    with ThreadPoolExecutor(16) as pool:
        refusals = list(pool.map(lambda _: ratelimit.signup_refused("198.51.100.33"), range(16)))
    assert sum(1 for wait in refusals if wait == 0) == 5


def test_it_signs_up_when_the_cache_is_down(client, settings):
    # Nothing listens on port 9: the sign-up cannot be counted, and goes through all the same.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    settings.SIGNUP_MAX_PER_ADDRESS = 1
    response = client.post("/accounts/signup/", signup_form("offline"))
    assert response.status_code == 302
    assert get_user_model().objects.filter(username="offline").exists()
