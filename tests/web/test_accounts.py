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
            "password1": "analytical-engine-42",
            "password2": "analytical-engine-42",
        },
    )
    assert response["Location"] == "/"
