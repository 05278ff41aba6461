"""Password reset with Django's own views, through the real pages and the e-mail they send."""

import re
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.django_db


def reset_link(message) -> str:
    (link,) = re.findall(r"https?://\S+/accounts/reset/\S+/", message.body)
    return urlsplit(link).path


def test_it_resets_a_forgotten_password(client, user, mailoutbox):
    login_page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password-reset/"' in login_page
    form = client.get("/accounts/password-reset/")
    assert form.status_code == 200
    assert "Reset your password" in form.content.decode()

    response = client.post("/accounts/password-reset/", {"email": "ADA@example.org"})
    assert response.status_code == 302
    assert "Check your e-mail" in client.get(response["Location"]).content.decode()
    (message,) = mailoutbox
    assert message.to == ["ada@example.org"]
    assert message.subject == "Reset your password on Abstention-aware leaderboard"
    assert 'the account "ada"' in message.body

    # Django's confirm view swaps the token for a session key, then shows the form.
    page = client.get(reset_link(message), follow=True)
    assert "Choose a new password" in page.content.decode()
    set_password = page.redirect_chain[-1][0]
    response = client.post(
        set_password,
        {"new_password1": "a-fresh-passphrase-9", "new_password2": "a-fresh-passphrase-9"},
    )
    assert response.status_code == 302
    assert "Password changed" in client.get(response["Location"]).content.decode()

    old = client.post("/accounts/login/", {"username": "ada", "password": "a-long-passphrase-1"})
    assert old.status_code == 200
    new = client.post("/accounts/login/", {"username": "ada", "password": "a-fresh-passphrase-9"})
    assert new.status_code == 302
    assert b"Log out ada" in client.get("/").content
    # The link works once.
    again = client.get(reset_link(message), follow=True).content.decode()
    assert "The password-reset link is not valid" in again


def test_it_refuses_a_tampered_reset_link(client, user, mailoutbox):
    client.post("/accounts/password-reset/", {"email": "ada@example.org"})
    link = reset_link(mailoutbox[0])
    page = client.get(link[:-3] + "xx/", follow=True).content.decode()
    assert "The password-reset link is not valid" in page
    assert "new_password1" not in page


def test_it_sends_nothing_for_an_unknown_address_and_does_not_say_so(client, mailoutbox):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert mailoutbox == []


def test_it_limits_reset_e_mails_per_client_address(client, user, mailoutbox, settings):
    settings.EMAIL_REQUESTS_PER_ADDRESS = 2
    sender = {"REMOTE_ADDR": "198.51.100.41"}
    for number in range(2):
        form = {"email": f"someone-{number}@example.org"}
        assert client.post("/accounts/password-reset/", form, **sender).status_code == 302
    response = client.post("/accounts/password-reset/", {"email": "ada@example.org"}, **sender)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many e-mails asked for" in response.content.decode()
    assert mailoutbox == []


def test_it_limits_reset_e_mails_per_recipient(client, django_user_model, mailoutbox, settings):
    settings.EMAIL_REQUESTS_PER_ADDRESS = 2
    # A recipient that no other test counts against.
    django_user_model.objects.create_user(
        "flooded", email="flooded@example.org", password="a-long-passphrase-3"
    )
    # From ever-new addresses, one inbox still gets no more than the limit.
    for number in range(2):
        response = client.post(
            "/accounts/password-reset/",
            {"email": "flooded@example.org"},
            REMOTE_ADDR=f"198.51.100.{50 + number}",
        )
        assert response.status_code == 302
    response = client.post(
        "/accounts/password-reset/", {"email": "FLOODED@example.org"}, REMOTE_ADDR="198.51.100.52"
    )
    assert response.status_code == 429
    assert len(mailoutbox) == 2
