"""Nothing leaks: every page, JSON and CSV, crawled as each kind of visitor.

The crawl starts from every URL of the URLconf (the admin's included), filled in with the ids and
slugs of the seeded data and with ones that do not exist, and follows every same-host link it
finds. A benchmark whose gold is private must never show a gold answer, an alias or a question
text to anyone but staff; a private submission must show nowhere but to its owner and staff.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern

from leaderboard import services
from leaderboard.models import Benchmark, Submission

pytestmark = pytest.mark.django_db

# Strings that cannot appear on a page by chance: if one does, it came from the gold file.
SECRET_GOLD = """id,question,answer,aliases,category
s1,QTEXT-7f3a which city is the capital of France?,GOLD-7f3a-Paris,ALIAS-7f3a-Lutetia,geography
s2,QTEXT-7f3a who wrote Hamlet?,GOLD-7f3a-Shakespeare,ALIAS-7f3a-Bard|ALIAS-7f3a-Will,literature
s3,QTEXT-7f3a which is the largest planet?,GOLD-7f3a-Jupiter,,science
s4,QTEXT-7f3a what colour is a clear sky?,GOLD-7f3a-Blue,,science
"""
GOLD_STRINGS = [
    "GOLD-7f3a-Paris",
    "GOLD-7f3a-Shakespeare",
    "GOLD-7f3a-Jupiter",
    "GOLD-7f3a-Blue",
    "ALIAS-7f3a-Lutetia",
    "ALIAS-7f3a-Bard",
    "ALIAS-7f3a-Will",
    "QTEXT-7f3a which city is the capital of France?",
    "QTEXT-7f3a who wrote Hamlet?",
    "QTEXT-7f3a which is the largest planet?",
    "QTEXT-7f3a what colour is a clear sky?",
]
# Shorter pieces of the same strings: a message that quoted part of a gold cell shows these.
GOLD_PIECES = ["7f3a-Paris", "7f3a-Shakespeare", "7f3a-Jupiter", "7f3a-Blue", "7f3a-Lutetia"]
GOLD_PIECES += ["7f3a-Bard", "7f3a-Will", "QTEXT-7f3a", "capital of France"]

OPEN_GOLD = """id,question,answer,category
o1,What is 2 + 2?,4,arithmetic
o2,What is 3 + 3?,6,arithmetic
o3,What is the capital of Italy?,Rome,geography
"""

MISSING_ID = 2_000_000_000
MISSING_SLUG = "no-such-benchmark"


@dataclass
class Site:
    secret: Benchmark
    open: Benchmark
    public: list[Submission] = field(default_factory=list)
    private: list[Submission] = field(default_factory=list)

    @property
    def private_markers(self) -> list[str]:
        markers = []
        for submission in self.private:
            markers += [submission.model_name, submission.organisation, submission.description]
        return [marker for marker in markers if marker]


@pytest.fixture
def site(make_benchmark, save_submission, user, other_user, settings) -> Site:
    # The crawl looks for gold strings and private rows on a benchmark of four items: every run
    # answering one item is enough for it to be scored and shown.
    settings.HIDDEN_GOLD_MIN_ITEMS = 1
    secret = make_benchmark(slug="secret", gold=SECRET_GOLD, gold_public=False)
    opened = make_benchmark(slug="open", gold=OPEN_GOLD, gold_public=True)
    site = Site(secret=secret, open=opened)

    def add(benchmark, owner, content: bytes, *, private: bool = False, **fields) -> None:
        visibility = Submission.Visibility.PRIVATE if private else Submission.Visibility.PUBLIC
        submission = save_submission(benchmark, owner, content, visibility=visibility, **fields)
        services.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        (site.private if private else site.public).append(submission)

    # Scored, with results per category: right, wrong, abstained, and one item left out.
    add(
        secret,
        user,
        b"id,answer\ns1,GOLD-7f3a-Paris\ns2,Marlowe\ns3,I don't know\n",
        model_name="public-model-4b2d",
        organisation="Public Org",
        description="An ordinary public run.",
    )
    add(
        secret,
        other_user,
        b"id,answer\ns1,Lyon\ns2,GOLD-7f3a-Shakespeare\ns3,GOLD-7f3a-Jupiter\ns4,Grey\n",
        model_name="others-model-51e0",
    )
    add(
        secret,
        user,
        b"id,answer\ns1,GOLD-7f3a-Paris\ns2,GOLD-7f3a-Shakespeare\ns3,GOLD-7f3a-Jupiter\n",
        private=True,
        model_name="PRIVATE-MODEL-9c1e",
        organisation="PRIVATE-ORG-9c1e",
        description="PRIVATE-DESC-9c1e",
    )
    # Rejected, with ids and answers close to the gold ones, in places a careless message would
    # quote the gold next to them (an id, its answer, a duplicate, a value out of range).
    near_gold = (
        b"id,answer,confidence\n"
        b"S1,gold-7f3a-paris,0.5\n"
        b"s1 ,Pari,2\n"
        b"s2,Shakespear,0.9\n"
        b"s2,Shakespeare!,0.9\n"
        b"s5,Jupiter,0.1\n"
        b",Blue,0.3\n"
    )
    add(secret, user, near_gold, model_name="rejected-model-3d9a")
    add(
        secret,
        user,
        b'{"id": "s1", "answer": ["Paris"]}\n{"id": "s2", "answer": {"gold": 1}}\n{"qid": 7}\n',
        name="p.jsonl",
        private=True,
        model_name="PRIVATE-REJECTED-9c1e",
    )
    add(opened, user, b"id,answer\no1,4\no2,7\n", model_name="open-public-model")
    add(
        opened,
        user,
        b"id,answer\no1,4\no2,6\no3,Rome\n",
        private=True,
        model_name="PRIVATE-OPEN-9c1e",
    )
    return site


# --- the crawler -------------------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"a": "href", "form": "action"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.links.append(value)


def links_in(body: str, base: str) -> list[str]:
    """Same-host links of a page, as paths; static files and the admin's sort orders left out."""
    parser = _Links()
    parser.feed(body)
    found = []
    for link in parser.links:
        url = urldefrag(urljoin(f"http://testserver{base}", link)).url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.netloc != "testserver":
            continue
        if parts.path.startswith("/static/"):
            continue
        # The admin's changelists link to every ordering and filter of the same rows: its pages
        # are crawled once each, without their query strings.
        query = "" if parts.path.startswith("/admin/") else parts.query
        found.append(parts.path + (f"?{query}" if query else ""))
    return found


def urls_from_urlconf(site: Site) -> list[str]:
    """Every URL of the URLconf, filled in with the ids and slugs of the data and missing ones."""
    submissions = list(Submission.objects.values_list("pk", flat=True))
    benchmarks = list(Benchmark.objects.values_list("pk", flat=True))
    shared = {
        "slug": [site.secret.slug, site.open.slug, MISSING_SLUG],
        "submission_id": [*submissions, MISSING_ID],
        "content_type_id": [
            ContentType.objects.get_for_model(model).pk for model in (Benchmark, Submission)
        ],
        "app_label": sorted({model._meta.app_label for model in admin.site._registry}),
        # The links of confirmation and password-reset e-mails, as a guesser would write them.
        "token": ["not-a-token"],
        "uidb64": ["MQ"],
        # Any other path under /api/ (a JSON 404).
        "rest": ["no/such/endpoint"],
    }
    urls = []
    for route, pattern, namespace in _patterns(get_resolver().url_patterns, ""):
        names = list(pattern.pattern.regex.groupindex)
        if getattr(pattern.callback, "__name__", "") == "catch_all_view":
            continue  # the admin's answer to any other path: the seeds below reach it
        values = {}
        for name in names:
            if name in ("object_id", "id"):  # an object of the admin page's model
                model_admin = getattr(pattern.callback, "model_admin", None)
                if model_admin is not None:
                    pks = list(model_admin.model.objects.values_list("pk", flat=True))
                else:  # the admin's "view on site" redirect
                    pks = [*benchmarks, *submissions]
                values[name] = [*pks, MISSING_ID]
            elif name in shared:
                values[name] = shared[name]
            else:
                pytest.fail(f"the crawl has no values for <{name}> in {route!r}: add some")
        for combination in itertools.product(*(values[name] for name in names)):
            kwargs = dict(zip(names, combination, strict=True))
            if isinstance(pattern.pattern, RoutePattern):
                path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m, k=kwargs: str(k[m.group(1)]), route)
                urls.append("/" + path)
            else:
                assert pattern.name, f"name the URL {route!r} so that the crawl can build it"
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                urls.append(reverse(name, kwargs=kwargs))
    return urls


def _patterns(patterns, prefix: str, namespace: str = ""):
    """(route, pattern, namespace) of every URL pattern, nested ones included."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            assert isinstance(entry.pattern, RoutePattern), f"unexpected prefix {entry.pattern}"
            inner = ":".join(part for part in (namespace, entry.namespace) if part)
            yield from _patterns(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry, namespace


def seeds(site: Site) -> list[str]:
    """The URLconf's URLs, plus what only a query string or a mistyped path reaches."""
    extra = ["/no/such/page/", "/admin/no/such/page/", "/submissions/abc/"]
    for benchmark in (site.secret, site.open):
        ids = list(benchmark.submissions.values_list("pk", flat=True))
        extra.append(f"/benchmarks/{benchmark.slug}/compare/?ids={','.join(map(str, ids))}")
        for first, second in itertools.combinations(ids, 2):
            extra.append(f"/benchmarks/{benchmark.slug}/compare/?ids={first},{second}")
        extra.append(f"/benchmarks/{benchmark.slug}/compare/?ids={ids[0]},{MISSING_ID}")
    return urls_from_urlconf(site) + extra


# A crawl that grows past this has started to walk in circles.
MAX_PAGES = 1500


def crawl(client: Client, start: list[str]) -> dict[str, tuple[int, str]]:
    """GET every URL reachable from `start`: URL → (status, body as text)."""
    queue = deque(dict.fromkeys(start))
    seen = set(queue)
    pages = {}
    while queue:
        url = queue.popleft()
        response = client.get(url)
        # Files (the admin's link to an upload) are streamed.
        content = b"".join(response.streaming_content) if response.streaming else response.content
        body = content.decode("utf-8", errors="replace")
        pages[url] = (response.status_code, body)
        assert len(pages) <= MAX_PAGES, "the crawl does not end"
        found = links_in(body, url) if "html" in response.get("Content-Type", "") else []
        if response.status_code in (301, 302, 303, 307, 308):
            found += links_in(f'<a href="{response["Location"]}">', url)
        for link in found:
            if link not in seen:
                seen.add(link)
                queue.append(link)
    return pages


def client_for(who: str, user, other_user, django_user_model) -> Client:
    client = Client()
    if who == "owner":
        client.force_login(user)
    elif who == "other user":
        client.force_login(other_user)
    elif who == "staff":
        staff = django_user_model.objects.create_superuser("root", password="a-long-passphrase-0")
        client.force_login(staff)
    return client


def containing(pages: dict[str, tuple[int, str]], needle: str) -> list[str]:
    return [url for url, (_, body) in pages.items() if needle in body]


# --- the tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "other user", "owner"])
def test_it_shows_no_gold_of_a_private_benchmark_anywhere(
    who, site, user, other_user, django_user_model
):
    pages = crawl(client_for(who, user, other_user, django_user_model), seeds(site))
    for needle in GOLD_STRINGS + GOLD_PIECES:
        where = containing(pages, needle)
        assert not where, f"{needle!r} shown to {who} on {where}"
    # The crawl reached what it is meant to read: boards, exports, submissions, errors, 404s.
    by_status = {status for status, _ in pages.values()}
    assert {200, 302, 404} <= by_status
    for path in (
        "/",
        "/benchmarks/secret/",
        "/benchmarks/secret/leaderboard.json",
        "/benchmarks/secret/leaderboard.csv",
        "/benchmarks/secret/benchmark.json",
        "/benchmarks/secret/?sort=0.9",
        f"/submissions/{site.public[0].pk}/",
        f"/submissions/{site.public[0].pk}.json",
        f"/submissions/{MISSING_ID}/",
        "/accounts/login/",
        "/accounts/signup/",
    ):
        assert path in pages, f"the crawl missed {path}"
    rejected = pages[f"/submissions/{site.public[2].pk}/"][1]
    assert "The file was rejected" in rejected and "row 3" in rejected
    scored = pages[f"/submissions/{site.public[0].pk}/"][1]
    assert "By category" in scored and "geography" in scored


@pytest.mark.parametrize("who", ["anonymous", "other user"])
def test_it_shows_private_submissions_to_no_one_else(
    who, site, user, other_user, django_user_model
):
    pages = crawl(client_for(who, user, other_user, django_user_model), seeds(site))
    for marker in site.private_markers:
        where = containing(pages, marker)
        assert not where, f"{marker!r} shown to {who} on {where}"
    for submission in site.private:
        # Not found, rather than forbidden: its existence is not given away either.
        assert pages[f"/submissions/{submission.pk}/"][0] == 404
        assert pages[f"/submissions/{submission.pk}.json"][0] == 404
        # Only a page asked for by that path names it (its 404 page's log-in link).
        for path in (f"/submissions/{submission.pk}/", f"/submissions/{submission.pk}.json"):
            assert all(path in url for url in containing(pages, path)), path
    private_ids = {submission.pk for submission in site.private}
    for slug in ("secret", "open"):
        board = pages[f"/benchmarks/{slug}/"][1]
        assert not [pk for pk in private_ids if f'value="{pk}"' in board]  # compare boxes
        rows = json.loads(pages[f"/benchmarks/{slug}/leaderboard.json"][1])["rows"]
        assert rows and not private_ids & {row["id"] for row in rows}
        lines = pages[f"/benchmarks/{slug}/leaderboard.csv"][1].splitlines()[1:]
        assert lines and not private_ids & {int(line.split(",")[0]) for line in lines}


@pytest.mark.parametrize("who", ["owner", "staff"])
def test_it_shows_private_submissions_to_their_owner_and_staff(
    who, site, user, other_user, django_user_model
):
    pages = crawl(client_for(who, user, other_user, django_user_model), seeds(site))
    for submission in site.private:
        assert pages[f"/submissions/{submission.pk}/"][0] == 200
        assert pages[f"/submissions/{submission.pk}.json"][0] == 200
    for marker in ("PRIVATE-MODEL-9c1e", "PRIVATE-OPEN-9c1e"):
        assert containing(pages, marker), f"{marker} hidden from {who}"
    assert "PRIVATE-MODEL-9c1e" in pages["/benchmarks/secret/"][1]
    rows = json.loads(pages["/benchmarks/secret/leaderboard.json"][1])["rows"]
    assert site.private[0].pk in {row["id"] for row in rows}
    if who == "owner":
        assert "PRIVATE-REJECTED-9c1e" in pages["/accounts/submissions/"][1]


def test_it_shows_gold_to_staff_in_the_admin_only(site, user, other_user, django_user_model):
    pages = crawl(client_for("staff", user, other_user, django_user_model), seeds(site))
    # Seeing every gold string proves that the crawl reached the admin's item pages.
    for needle in GOLD_STRINGS:
        where = containing(pages, needle)
        assert where, f"{needle!r} not found in the admin: did the crawl miss its pages?"
        assert all(url.startswith("/admin/") for url in where), where


@pytest.mark.parametrize("who", ["anonymous", "other user"])
def test_it_answers_a_private_id_as_it_answers_a_missing_one(
    who, site, user, other_user, django_user_model
):
    client = client_for(who, user, other_user, django_user_model)
    private, public = site.private[0].pk, site.public[0].pk

    def page(path: str, number: int) -> tuple[int, str]:
        response = client.get(path.format(number))
        body = response.content.decode()
        # The number asked for comes back only as the visitor wrote it, in a message or a link.
        for echo in ("#{}", "/submissions/{}/", "/submissions/{}.json"):
            body = body.replace(echo.format(number), echo.format("N"))
        return response.status_code, re.sub(r'value="[^"]{64}"', "", body)  # CSRF tokens

    for path in (
        "/submissions/{}/",
        "/submissions/{}.json",
        "/benchmarks/secret/compare/?ids=" + f"{public}," + "{}",
    ):
        assert page(path, private) == page(path, MISSING_ID)


def test_it_ranks_a_public_submission_among_what_each_reader_sees(
    client, make_benchmark, save_submission, user
):
    benchmark = make_benchmark(slug="ranks")
    weaker = save_submission(benchmark, user, b"id,answer\nq1,Paris\n", model_name="weaker")
    stronger = save_submission(
        benchmark,
        user,
        b"id,answer\nq1,Paris\nq2,Shakespeare\nq3,Jupiter\n",
        model_name="stronger",
        visibility=Submission.Visibility.PRIVATE,
    )
    for submission in (weaker, stronger):
        services.submission_score(submission_id=submission.pk)
    # A reader who cannot see the private run must not learn from the ranks that it exists.
    page = client.get(f"/submissions/{weaker.pk}/").content.decode()
    assert "1 of 1" in page and "of 2" not in page
    client.force_login(user)
    page = client.get(f"/submissions/{weaker.pk}/").content.decode()
    assert "2 of 2" in page
