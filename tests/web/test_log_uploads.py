"""Harness logs through the site: the upload form's format and options, what the submission
page and its JSON say about how a log was read, partial credit, and gold files from logs.

How each format is read is scoring's to test (tests/scoring/test_harness_logs.py); here the site
stores what the uploader chose, hands it to the reader, and shows the reader's report.
"""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

import scoring
from leaderboard import services
from leaderboard.models import Benchmark, Submission
from tests.web.test_admin import benchmark_form, store_gold_as_the_worker_does

pytestmark = pytest.mark.django_db

LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "logs"
INSPECT_EVAL = LOGS / "inspect-eval" / "log_read_sample.eval"
INSPECT_JSON = LOGS / "inspect-json" / "data_arc_qwen.json"
LM_EVAL = LOGS / "lm-eval" / "samples_math_perturbed_full_2026-01-21T03-44-18.458309.jsonl"
PREDICTIONS_CSV = b"id,answer\nq1,Paris\nq2,Marlowe\nq3,Jupiter\nq4,I don't know\n"

# What scoring reports of a log it read (LogReport.to_dict()), stored with the result.
REPORT = {
    "format": "lm-eval",
    "format_name": "lm-evaluation-harness samples (.jsonl)",
    "id_field": "doc_id",
    "model": "pretrained=EleutherAI/pythia-160m",
    "task": "capitals_gen",
    "rows": 6,
    "matched": 4,
    "unmatched": 2,
    "first_unmatched": ["q98", "q99"],
    "unextracted": 1,
    "idk_abstentions": 1,
    "partial": 2,
    "partial_credit": "not_attempted",
    "options": {"filter": "strict-match"},
    "found": {"filter": ["flexible-extract", "strict-match"]},
    "notes": ['the file holds several evaluations: "capitals_gen", "capitals_mc"'],
}


def upload(client, content, name, slug="capitals", **fields):
    data = {
        "model_name": "harness-model",
        "visibility": "public",
        "file": SimpleUploadedFile(name, content),
        **fields,
    }
    return client.post(f"/benchmarks/{slug}/submit/", data)


def helm_zip() -> bytes:
    """A HELM run directory zipped, as a user uploads one."""
    folder = LOGS / "helm" / "mmlu-philosophy-openai_gpt2"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{folder.name}/{path.name}")
    return buffer.getvalue()


def lighteval_parquet() -> bytes:
    # The parquet writer lighteval uses; the form itself judges a file by its name and size.
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"example": ["Capital of France?"], "predictions": [["Paris"]]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name, content",
    [
        ("log_read_sample.eval", lambda: INSPECT_EVAL.read_bytes()),
        (LM_EVAL.name, lambda: LM_EVAL.read_bytes()),
        ("helm-run.zip", helm_zip),
        ("details_capitals_2026.parquet", lighteval_parquet),
    ],
)
def test_it_takes_every_kind_of_harness_log(client, user, make_benchmark, name, content):
    make_benchmark()
    client.force_login(user)
    response = upload(client, content(), name)
    assert response.status_code == 302, response.content.decode()
    submission = Submission.objects.get()
    assert submission.original_filename == name
    assert submission.file.read() == content()


@pytest.mark.parametrize("name", ["run.tar.gz", "details.arrow", "log.eval.txt", "samples.db"])
def test_it_refuses_other_files_naming_every_type_it_reads(client, user, make_benchmark, name):
    make_benchmark()
    client.force_login(user)
    page = upload(client, b"id,answer\nq1,Paris\n", name).content.decode()
    assert f"“{name}” is not a file type we read" in page
    assert ".csv, .jsonl or .json" in page
    assert "(.json, .jsonl, .eval, .zip or .parquet)" in page
    assert not Submission.objects.exists()


def test_it_keeps_the_options_given_and_leaves_out_the_others(client, user, make_benchmark):
    make_benchmark()
    client.force_login(user)
    response = upload(client, LM_EVAL.read_bytes(), LM_EVAL.name, filter=" strict-match ")
    assert response.status_code == 302
    assert Submission.objects.get().log_options == {"filter": "strict-match"}

    upload(
        client,
        INSPECT_EVAL.read_bytes(),
        INSPECT_EVAL.name,
        format="inspect",
        epoch="2",
        scorer="choice",
    )
    latest = Submission.objects.order_by("-pk").first()
    assert latest.log_options == {"format": "inspect", "epoch": 2, "scorer": "choice"}
    # As the worker reads them back.
    assert scoring.LogOptions.from_dict(latest.log_options) == scoring.LogOptions(
        format="inspect", epoch=2, scorer="choice"
    )

    upload(client, PREDICTIONS_CSV, "p.csv", format="", filter="", epoch="", scorer="")
    assert Submission.objects.order_by("-pk").first().log_options == {}


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"epoch": "0"}, "Ensure this value is greater than or equal to 1."),
        ({"epoch": "two"}, "Enter a whole number."),
        ({"format": "csv"}, "Select a valid choice. csv is not one of the available choices."),
    ],
)
def test_it_refuses_options_it_cannot_use(client, user, make_benchmark, fields, message):
    make_benchmark()
    client.force_login(user)
    page = upload(client, LM_EVAL.read_bytes(), LM_EVAL.name, **fields).content.decode()
    assert message in page
    assert not Submission.objects.exists()


def test_the_form_offers_every_format_and_the_log_options(client, user, make_benchmark):
    make_benchmark()
    client.force_login(user)
    page = client.get("/benchmarks/capitals/submit/").content.decode()
    formats = [
        ("", "Recognise it from the file"),
        ("table", "Our CSV / JSON Lines / JSON"),
        *scoring.LOG_FORMATS.items(),
    ]
    assert ("inspect", "Inspect AI log (.json or .eval)") in formats
    for value, name in formats:
        assert f'<option value="{value}"' in page and f">{name}</option>" in page
    group = page.split("<legend>Harness log options</legend>")[1].split("</fieldset>")[0]
    for field in ("filter", "epoch", "scorer"):
        assert f'name="{field}"' in group
    assert 'list="filters-found"' in group and '<datalist id="filters-found">' in group
    assert '<script src="/static/js/log-options.js">' in page


def test_a_file_read_as_our_own_format_is_scored_as_before(client, user, make_benchmark):
    make_benchmark()
    client.force_login(user)
    upload(client, PREDICTIONS_CSV, "p.csv", format="table")
    submission = Submission.objects.get()
    services.submission_score(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.SCORED, submission.errors
    primary = submission.result().primary
    assert (primary.correct, primary.incorrect, primary.abstained) == (2, 1, 1)
    assert submission.source is None
    page = client.get(f"/submissions/{submission.pk}/").content.decode()
    assert 'id="read-from"' not in page
    assert client.get(f"/submissions/{submission.pk}.json").json()["source"] is None


def scored_from_a_log(benchmark, user, save_submission, report=REPORT) -> Submission:
    """A scored submission whose stored columns carry a log reader's report, as the worker
    stores a log it scored (scoring's ColumnReport.to_dict(), with "log")."""
    submission = save_submission(benchmark, user, PREDICTIONS_CSV, log_options={"filter": "x"})
    services.submission_score(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.SCORED, submission.errors
    Submission.objects.filter(pk=submission.pk).update(columns=submission.columns | {"log": report})
    submission.refresh_from_db()
    return submission


def test_the_submission_page_says_what_was_read_from_the_log(
    client, user, make_benchmark, save_submission
):
    submission = scored_from_a_log(make_benchmark(), user, save_submission)
    response = client.get(f"/submissions/{submission.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    block = page.split('id="read-from"')[1].split("</section>")[0]
    text = " ".join(block.split())
    assert "lm-evaluation-harness samples (.jsonl)" in text
    assert "<code>pretrained=EleutherAI/pythia-160m</code>" in text
    assert "<code>capitals_gen</code>" in text
    assert "<dt>Item id</dt><dd>doc_id</dd>" in text
    assert "<dt>Rows read</dt><dd>6</dd>" in text
    assert "4 rows matched an item of Capitals" in text
    assert "2 rows whose id is no item of this benchmark, the first: <code>q98</code>, " in text
    assert "<code>q99</code>" in text
    assert "<dt>No answer extracted</dt><dd>1 (counted as abstentions)</dd>" in text
    assert "“I don't know” chosen</dt><dd>1 (the option" in text
    assert "<code>strict-match</code> (also in the log: <code>flexible-extract</code>)" in text
    assert "2 samples the harness graded partial, counted as abstentions" in text
    assert "<li>the file holds several evaluations: &quot;capitals_gen&quot;, " in text
    # The results stand as scored.
    assert "<h2>Outcomes</h2>" in page


def test_the_page_names_only_the_options_a_log_held(client, user, make_benchmark, save_submission):
    report = REPORT | {"unmatched": 0, "first_unmatched": [], "found": {"filter": ["none"]}}
    report |= {"partial": 0, "notes": []}
    report["options"] = {"filter": "none"}
    submission = scored_from_a_log(make_benchmark(), user, save_submission, report)
    page = " ".join(client.get(f"/submissions/{submission.pk}/").content.decode().split())
    assert "<dt>Filter</dt><dd><code>none</code></dd>" in page
    assert "also in the log" not in page
    assert "Left out" not in page
    assert "Partial grades" not in page
    assert 'class="notes"' not in page


def test_the_json_gives_the_report_as_source(client, user, make_benchmark, save_submission):
    submission = scored_from_a_log(make_benchmark(), user, save_submission)
    data = client.get(f"/submissions/{submission.pk}.json").json()
    assert data["source"] == REPORT
    assert data["metrics"]["columns"]["log"] == REPORT
    assert list(data)[-2:] == ["source", "metrics"]


def test_partial_credit_is_a_grading_setting(make_benchmark):
    benchmark = make_benchmark()
    refused = benchmark.settings_fingerprint
    for value in ("correct", "incorrect", "not_attempted"):
        benchmark.partial_credit = value
        benchmark.save()
        assert benchmark.config().partial_credit == value
        assert benchmark.settings_fingerprint != refused
    benchmark.partial_credit = ""
    benchmark.save()
    assert benchmark.settings_fingerprint == refused


def test_a_benchmark_refusing_partial_credit_keeps_the_stamp_it_had(make_benchmark):
    # The stamp as it was computed before partial credit was a setting: existing results are
    # not scored again for a setting that changes nothing.
    benchmark = make_benchmark()
    earlier = {
        "grader": benchmark.grader,
        "targets": sorted(float(t) for t in benchmark.targets),
        "abstention_phrases": benchmark.abstention_phrases,
        "min_coverage": float(benchmark.min_coverage),
        "numeric_tolerance": float(benchmark.numeric_tolerance),
        "gold_public": True,
        "gold": benchmark.gold_digest,
    }
    text = json.dumps(earlier, sort_keys=True, ensure_ascii=False)
    assert benchmark.settings_fingerprint == hashlib.sha256(text.encode()).hexdigest()


def test_benchmark_json_gives_the_partial_credit_setting(client, make_benchmark):
    make_benchmark(partial_credit="not_attempted")
    data = json.loads(client.get("/benchmarks/capitals/benchmark.json").content)
    assert data["partial_credit"] == "not_attempted"


def test_changing_partial_credit_in_the_admin_rescores(
    admin_client, make_benchmark, user, save_submission
):
    benchmark = make_benchmark()
    submission = save_submission(benchmark, user, PREDICTIONS_CSV)
    services.submission_score(submission_id=submission.pk)
    url = f"/admin/leaderboard/benchmark/{benchmark.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert '<option value="not_attempted">Count as abstained</option>' in page
    assert '<option value="" selected>Refuse partial credit</option>' in page

    form = benchmark_form(None, slug="capitals", min_coverage="0", partial_credit="correct")
    response = admin_client.post(url, form, follow=True)
    assert "1 submission queued for rescoring." in response.content.decode()
    benchmark.refresh_from_db()
    assert benchmark.partial_credit == "correct"
    assert Submission.objects.get(pk=submission.pk).status == Submission.Status.QUEUED


def test_a_new_benchmark_can_be_made_from_an_inspect_log(admin_client):
    page = admin_client.get("/admin/leaderboard/benchmark/add/").content.decode()
    assert "its samples' targets become the gold answers" in page
    form = benchmark_form(INSPECT_EVAL.read_bytes(), name="log_read_sample.eval", grader="choice")
    response = admin_client.post("/admin/leaderboard/benchmark/add/", form)
    assert response.status_code == 302, response.content.decode()
    benchmark = Benchmark.objects.get(slug="capitals")
    assert benchmark.gold_status == Benchmark.GoldStatus.QUEUED
    assert benchmark.gold_filename == "log_read_sample.eval"
    assert benchmark.gold_upload.name.endswith(".eval")
    assert benchmark.gold_upload.read() == INSPECT_EVAL.read_bytes()


def test_the_admin_refuses_a_gold_file_of_no_type_it_reads(admin_client):
    form = benchmark_form(b"PK\x03\x04", name="gold.tar")
    page = admin_client.post("/admin/leaderboard/benchmark/add/", form).content.decode()
    assert "“gold.tar” is not a file type we read" in page
    assert not Benchmark.objects.exists()


def test_a_benchmark_made_from_an_inspect_log_scores_that_log(
    admin_client, client, user, django_capture_on_commit_callbacks
):
    # A curator who ran a harness once opens a board with its log; a model builder uploads the
    # log Inspect wrote for their model, and the page says how it was read.
    form = benchmark_form(
        INSPECT_JSON.read_bytes(), name=INSPECT_JSON.name, grader="choice", gold_public="on"
    )
    form["min_coverage"] = "0"
    assert admin_client.post("/admin/leaderboard/benchmark/add/", form).status_code == 302
    benchmark = Benchmark.objects.get(slug="capitals")
    assert store_gold_as_the_worker_does(benchmark) == Benchmark.GoldStatus.STORED
    benchmark.refresh_from_db()
    assert benchmark.grader == "choice"
    assert list(benchmark.items.values_list("item_id", "answer")) == [
        ("1", "A"),
        ("2", "B"),
        ("3", "D"),
    ]

    client.force_login(user)
    with django_capture_on_commit_callbacks():
        response = upload(client, INSPECT_JSON.read_bytes(), INSPECT_JSON.name, scorer="choice")
    assert response.status_code == 302
    submission = Submission.objects.get()
    services.submission_score(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.SCORED, submission.errors
    primary = submission.result().primary
    # As Inspect graded it: one sample of three correct (its `choice` scorer's C, I, I).
    assert (primary.correct, primary.incorrect, primary.abstained) == (1, 2, 0)

    source = submission.source
    assert source["format"] == "inspect" and source["rows"] == source["matched"] == 3
    assert source["options"] == {"epoch": "1", "scorer": "choice"}
    page = " ".join(client.get(f"/submissions/{submission.pk}/").content.decode().split())
    block = page.split('id="read-from"')[1].split("</section>")[0]
    assert f"{INSPECT_JSON.name}: Inspect AI log (.json or .eval)" in block
    assert "<code>ollama/qwen2.5:0.5b</code>" in block
    assert "<code>inspect_evals/arc_easy</code>" in block
    assert "3 rows matched an item of Capitals" in block
    assert "<dt>Scorer</dt><dd><code>choice</code></dd>" in block
    data = client.get(f"/submissions/{submission.pk}.json").json()
    assert data["source"] == source == data["metrics"]["columns"]["log"]


def test_a_log_that_needs_an_option_is_rejected_naming_the_field(
    client, user, make_benchmark, tmp_path
):
    # Inspect's log of two epochs: one item takes one answer, so an epoch must be chosen.
    log = json.loads(INSPECT_JSON.read_text())
    second = [dict(sample, epoch=2) for sample in log["samples"]]
    log["samples"] = log["samples"] + second
    make_benchmark(gold="id,answer\n1,A\n2,B\n3,D\n", grader="choice")
    client.force_login(user)
    upload(client, json.dumps(log).encode(), "two-epochs.json")
    submission = Submission.objects.get()
    services.submission_score(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.REJECTED
    assert any("epoch" in error for error in submission.errors), submission.errors

    upload(client, json.dumps(log).encode(), "two-epochs.json", epoch="2")
    chosen = Submission.objects.order_by("-pk").first()
    services.submission_score(submission_id=chosen.pk)
    chosen.refresh_from_db()
    assert chosen.status == Submission.Status.SCORED, chosen.errors
    assert chosen.source["options"]["epoch"] == "2"


def test_a_partial_grade_is_refused_until_the_benchmark_says_how_it_counts(
    admin_client, client, user, make_benchmark, django_capture_on_commit_callbacks
):
    # Inspect graded the second sample partial; the benchmark takes the harness's grades.
    log = json.loads(INSPECT_JSON.read_text())
    log["samples"][1]["scores"]["choice"]["value"] = "P"
    benchmark = make_benchmark(gold="id,answer\n1,A\n2,B\n3,D\n", grader="pregraded")
    client.force_login(user)
    upload(client, json.dumps(log).encode(), "arc-partial.json")
    submission = Submission.objects.get()
    services.submission_score(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.REJECTED
    assert any("partial" in error for error in submission.errors), submission.errors

    url = f"/admin/leaderboard/benchmark/{benchmark.pk}/change/"
    form = benchmark_form(
        None, slug="capitals", grader="pregraded", min_coverage="0", gold_public="on"
    )
    form["partial_credit"] = "not_attempted"
    with django_capture_on_commit_callbacks() as queued:
        response = admin_client.post(url, form, follow=True)
    assert "1 submission queued for rescoring." in response.content.decode()
    assert len(queued) >= 1
    services.submission_score(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.status == Submission.Status.SCORED, submission.errors
    primary = submission.result().primary
    assert (primary.correct, primary.incorrect, primary.abstained) == (1, 1, 1)
    assert submission.source["partial"] == 1
    page = " ".join(client.get(f"/submissions/{submission.pk}/").content.decode().split())
    assert "1 sample the harness graded partial, counted as abstentions" in page


def test_the_api_takes_the_same_options_as_the_form(client, user, make_benchmark):
    from tests.web.test_api import api_upload, errors_of

    make_benchmark()
    _, token = services.api_token_create(user=user, name="CI")
    response = api_upload(
        client,
        "capitals",
        token,
        LM_EVAL.read_bytes(),
        LM_EVAL.name,
        format="lm-eval",
        filter="none",
    )
    assert response.status_code == 201, response.content
    assert Submission.objects.get().log_options == {"format": "lm-eval", "filter": "none"}

    refused = api_upload(client, "capitals", token, LM_EVAL.read_bytes(), LM_EVAL.name, epoch="0")
    assert refused.status_code == 400
    assert errors_of(refused) == ["epoch: Ensure this value is greater than or equal to 1."]
    schema = client.get("/api/schema").json()
    upload = schema["paths"]["/api/benchmarks/{slug}/submissions"]["post"]["requestBody"]
    fields = upload["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"format", "filter", "epoch", "scorer"} <= set(fields)
    assert "lm-eval" in fields["format"].get("enum", [])
