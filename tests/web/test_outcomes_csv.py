"""`/submissions/<id>/outcomes.csv`: a submission's outcome per item and run, for its owner (and
staff) on benchmarks whose gold is public; a 404 like any other to everyone else."""

import re

import pytest

import scoring
from leaderboard import exports, services

pytestmark = pytest.mark.django_db

# The capitals benchmark: q1 Paris, q2 Shakespeare, q3 Jupiter, q4 Blue. The default run answers
# q1 right and q2 wrong, abstains on q3 and leaves q4 out; the run prompted at 0.75 answers q1
# and q3 right, q4 wrong, and abstains on q2.
FILE = (
    b"id,answer,target\n"
    b"q1,Paris,\n"
    b"q2,Hamlet,\n"
    b"q3,I don't know,\n"
    b"q1,Paris,0.75\n"
    b"q2,I don't know,0.75\n"
    b"q3,Jupiter,0.75\n"
    b"q4,Red,0.75\n"
)
EXPECTED = (
    "id,run,outcome\n"
    "q1,default,correct\n"
    "q1,0.75,correct\n"
    "q2,default,incorrect\n"
    "q2,0.75,abstained\n"
    "q3,default,abstained\n"
    "q3,0.75,correct\n"
    "q4,default,missing\n"
    "q4,0.75,incorrect\n"
)


CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]*"')


@pytest.fixture
def scored(user, save_submission):
    def score(benchmark, content=FILE, **fields):
        submission = save_submission(benchmark, user, content, **fields)
        services.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        assert submission.status == "scored", submission.errors
        return submission

    return score


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        username="root", password="a-long-passphrase-3", is_staff=True
    )


def url(submission) -> str:
    return f"/submissions/{submission.pk}/outcomes.csv"


def body(response) -> str:
    return response.content.decode()


def test_it_gives_the_owner_each_items_outcome_per_run(client, user, make_benchmark, scored):
    submission = scored(make_benchmark())
    client.force_login(user)
    response = client.get(url(submission))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="capitals-submission-{submission.pk}-outcomes.csv"'
    )
    assert body(response) == EXPECTED
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert f'href="/submissions/{submission.pk}/outcomes.csv"' in page


def test_it_is_not_found_for_anyone_but_the_owner(client, user, other_user, make_benchmark, scored):
    submission = scored(make_benchmark(), visibility="public")
    # No hint that it exists: the same page as for a submission that does not (but for the
    # address, which the page's log-in link carries, and the log-out form's CSRF token).
    none_such = "/submissions/999999/outcomes.csv"

    def same_as_none_such(response) -> bool:
        missing = client.get(none_such).content.replace(
            none_such.encode(), url(submission).encode()
        )
        return CSRF.sub(b"", response.content) == CSRF.sub(b"", missing)

    anonymous = client.get(url(submission))
    assert anonymous.status_code == 404 and same_as_none_such(anonymous)
    client.force_login(other_user)
    other = client.get(url(submission))
    assert other.status_code == 404 and same_as_none_such(other)
    # The public submission's page shows them no link.
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "This submission as JSON" in page and "outcomes.csv" not in page


def test_on_a_hidden_gold_benchmark_only_staff_get_it(
    client, user, staff, make_benchmark, scored, settings
):
    # Every figure of a hidden-gold benchmark covers at least K answers: here 3 of the 4 items.
    settings.HIDDEN_GOLD_MIN_ITEMS = 3
    content = b"id,answer\nq1,Paris\nq2,Hamlet\nq3,Saturn\n"
    submission = scored(make_benchmark(gold_public=False), content)
    client.force_login(user)
    assert client.get(url(submission)).status_code == 404
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "outcomes.csv" not in page
    client.force_login(staff)
    response = client.get(url(submission))
    assert response.status_code == 200
    assert body(response) == (
        "id,run,outcome\n"
        "q1,default,correct\n"
        "q2,default,incorrect\n"
        "q3,default,incorrect\n"
        "q4,default,missing\n"
    )


def test_staff_get_it_on_a_public_gold_benchmark_too(client, staff, make_benchmark, scored):
    submission = scored(make_benchmark(), visibility="private")
    client.force_login(staff)
    assert body(client.get(url(submission))) == EXPECTED


def test_it_is_not_found_before_the_submission_is_scored(
    client, user, make_benchmark, save_submission
):
    submission = save_submission(make_benchmark(), user, FILE)
    client.force_login(user)
    assert client.get(url(submission)).status_code == 404
    assert "outcomes.csv" not in client.get(f"/submissions/{submission.pk}/").content.decode()


def test_it_is_not_found_while_results_are_under_earlier_settings(
    client, user, make_benchmark, scored
):
    benchmark = make_benchmark()
    submission = scored(benchmark)
    # A new gold file (other items) makes the stored outcomes those of the old items.
    services.benchmark_set_items(
        benchmark=benchmark,
        gold=scoring.read_gold(
            b"id,answer\nz1,Oslo\nz2,Rome\n", filename="gold.csv", grader="exact"
        ),
    )
    client.force_login(user)
    assert client.get(url(submission)).status_code == 404


def test_ids_a_spreadsheet_would_run_are_written_as_text(client, user, make_benchmark, scored):
    gold = 'id,answer\n"=HYPERLINK(""x"")",Paris\n"a,b",Rome\n@sum,Oslo\n'
    content = b'id,answer\n"=HYPERLINK(""x"")",Paris\n"a,b",Lima\n'
    submission = scored(make_benchmark(gold=gold), content)
    client.force_login(user)
    assert body(client.get(url(submission))) == (
        "id,run,outcome\n"
        '"\'=HYPERLINK(""x"")",default,correct\n'
        '"a,b",default,incorrect\n'
        "'@sum,default,missing\n"
    )


def test_a_large_benchmark_is_sent_in_pieces_with_a_query_per_piece(
    client, user, make_benchmark, scored, monkeypatch, django_assert_max_num_queries
):
    n = 2_345
    gold = "id,answer\n" + "".join(f"item-{i},{i}\n" for i in range(n))
    # Every third right, every third wrong, the rest left out.
    rows = [f"item-{i},{i if i % 3 == 0 else 'x'}\n" for i in range(n) if i % 3 != 2]
    submission = scored(make_benchmark(gold=gold), ("id,answer\n" + "".join(rows)).encode())
    monkeypatch.setattr(exports, "ITEMS_PER_PIECE", 500)
    client.force_login(user)
    response = client.get(url(submission))
    assert response.streaming
    with django_assert_max_num_queries(5):
        text = b"".join(response.streaming_content).decode()
    lines = text.splitlines()
    assert lines[0] == "id,run,outcome"
    expected = [f"item-{i},default,{('correct', 'incorrect', 'missing')[i % 3]}" for i in range(n)]
    assert lines[1:] == expected
