"""Confirming an e-mail address, through the real pages and the e-mails the site sends.

Benchmarks whose gold is hidden take uploads only from accounts with a confirmed address, and an
address confirms one account only: a new identity able to probe a hidden answer key costs a
mailbox. Benchmarks with public gold take uploads from everyone.
"""

import re
import time
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from leaderboard.models import ConfirmedEmail, Submission

pytestmark = pytest.mark.django_db

PASSWORD = "analytical-engine-42"


def sign_up(client, username="lovelace", email="ada@example.org"):
    response = client.post(
        "/accounts/signup/",
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302, response.content.decode()
    return response


def confirmation_link(message) -> str:
    """The path of the confirmation link in an e-mail."""
    (link,) = re.findall(r"https?://\S+/accounts/confirm/\S+/", message.body)
    return urlsplit(link).path


def upload(client, slug):
    return client.post(
        f"/benchmarks/{slug}/submit/",
        {
            "model_name": "probe",
            "visibility": "public",
            "file": SimpleUploadedFile("p.csv", b"id,answer\nq1,Paris\n"),
        },
    )


def test_it_sends_a_link_that_confirms_the_address(client, mailoutbox):
    response = sign_up(client)
    assert "We sent a link to ada@example.org" in client.get(response["Location"]).content.decode()
    (message,) = mailoutbox
    assert message.to == ["ada@example.org"]
    assert "Confirm your e-mail address" in message.subject
    link = confirmation_link(message)

    # Opening the link changes nothing (mail scanners open links); its button confirms.
    page = client.get(link)
    assert page.status_code == 200
    assert "Confirm ada@example.org" in page.content.decode()
    assert not ConfirmedEmail.objects.exists()
    response = client.post(link)
    assert response.status_code == 302
    assert "ada@example.org is confirmed" in client.get(response["Location"]).content.decode()
    confirmed = ConfirmedEmail.objects.get()
    assert (confirmed.user.username, confirmed.email) == ("lovelace", "ada@example.org")
    status = client.get("/accounts/confirm/").content.decode()
    assert "ada@example.org</strong> is confirmed for this account" in status


def test_it_refuses_an_altered_link(client, mailoutbox):
    sign_up(client)
    link = confirmation_link(mailoutbox[0])
    token = link.split("/")[-2]
    for altered in (token[:-1] + ("A" if token[-1] != "A" else "B"), token[:20], "x" + token):
        for response in (
            client.get(f"/accounts/confirm/{altered}/"),
            client.post(f"/accounts/confirm/{altered}/"),
        ):
            assert response.status_code == 400
            assert "This confirmation link is not valid" in response.content.decode()
    assert not ConfirmedEmail.objects.exists()


def test_it_refuses_an_expired_link(client, mailoutbox, settings):
    settings.EMAIL_CONFIRMATION_MAX_AGE = 1
    sign_up(client)
    link = confirmation_link(mailoutbox[0])
    time.sleep(2.1)
    response = client.post(link)
    assert response.status_code == 400
    page = response.content.decode()
    assert "This confirmation link has expired" in page
    assert 'href="/accounts/confirm/"' in page  # where to ask for a new one
    assert not ConfirmedEmail.objects.exists()


def test_it_refuses_a_link_sent_to_an_address_since_replaced(client, mailoutbox):
    sign_up(client, email="ada@exmaple.org")
    old_link = confirmation_link(mailoutbox[0])
    # The address was mistyped: the confirmation page sends a new link to the corrected one,
    # once it is given the account's password.
    response = client.post("/accounts/confirm/", {"email": "ada@example.org"})
    assert response.status_code == 200
    assert "Give your password to change the address." in response.content.decode()
    assert len(mailoutbox) == 1
    form = {"email": "ada@example.org", "password": PASSWORD}
    response = client.post("/accounts/confirm/", form)
    assert response.status_code == 302
    assert mailoutbox[1].to == ["ada@example.org"]
    response = client.post(old_link)
    assert response.status_code == 400
    assert "sent to an address the account no longer uses" in response.content.decode()
    client.post(confirmation_link(mailoutbox[1]))
    assert ConfirmedEmail.objects.get().email == "ada@example.org"


def test_it_confirms_an_address_for_one_account_only(client, mailoutbox):
    sign_up(client, username="lovelace", email="ada@example.org")
    first = confirmation_link(mailoutbox[0])
    client.post("/accounts/logout/")
    sign_up(client, username="byron", email="ADA@Example.org")
    second = confirmation_link(mailoutbox[1])
    assert client.post(first).status_code == 302

    for response in (client.get(second), client.post(second)):
        assert response.status_code == 409
        page = response.content.decode()
        # Sign-up keeps the case of the part before the @.
        assert "ADA@example.org is already confirmed for another account" in page
    assert list(ConfirmedEmail.objects.values_list("user__username", flat=True)) == ["lovelace"]


def test_it_refuses_unconfirmed_uploads_where_gold_is_hidden(client, make_benchmark, mailoutbox):
    make_benchmark(slug="hidden", gold_public=False)
    make_benchmark(slug="open", gold_public=True)
    sign_up(client)

    form = client.get("/benchmarks/hidden/submit/")
    assert form.status_code == 200
    page = form.content.decode()
    assert "takes uploads only from accounts with a confirmed e-mail address" in page
    assert 'href="/accounts/confirm/"' in page
    assert 'type="file"' not in page
    refused = upload(client, "hidden")
    assert refused.status_code == 403
    assert 'id="needs-confirmation"' in refused.content.decode()
    assert not Submission.objects.exists()

    # Public gold: nothing to probe, so no confirmation needed.
    assert 'type="file"' in client.get("/benchmarks/open/submit/").content.decode()
    assert upload(client, "open").status_code == 302
    assert Submission.objects.get().benchmark.slug == "open"

    client.post(confirmation_link(mailoutbox[0]))
    assert 'type="file"' in client.get("/benchmarks/hidden/submit/").content.decode()
    assert upload(client, "hidden").status_code == 302
    assert Submission.objects.filter(benchmark__slug="hidden").count() == 1


def test_it_keeps_a_second_account_on_one_address_from_hidden_gold(
    client, make_benchmark, mailoutbox
):
    make_benchmark(slug="hidden", gold_public=False)
    sign_up(client, username="lovelace", email="ada@example.org")
    client.post(confirmation_link(mailoutbox[0]))
    client.post("/accounts/logout/")
    sign_up(client, username="byron", email="ada@example.org")
    client.post(confirmation_link(mailoutbox[1]))
    assert upload(client, "hidden").status_code == 403
    assert not Submission.objects.exists()


def test_it_limits_the_confirmation_e_mails_asked_for(client, mailoutbox, settings):
    settings.EMAIL_REQUESTS_PER_ADDRESS = 2
    # An address and a recipient that no other test counts against.
    client.defaults["REMOTE_ADDR"] = "203.0.113.21"
    sign_up(client, email="limit-test@example.org")
    assert client.post("/accounts/confirm/", {"email": "limit-test@example.org"}).status_code == 302
    response = client.post("/accounts/confirm/", {"email": "limit-test@example.org"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many e-mails asked for" in response.content.decode()
    assert len(mailoutbox) == 2  # the sign-up's, which counts too, and one asked for


def test_it_signs_up_even_when_the_mail_server_is_down(client, settings, mailoutbox):
    # A real SMTP backend pointed at a port where nothing listens.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    response = sign_up(client)
    page = client.get(response["Location"]).content.decode()
    assert "The confirmation e-mail to ada@example.org could not be sent" in page
    assert "Log out lovelace" in page
