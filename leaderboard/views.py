"""Pages and JSON/CSV endpoints: the boards, uploads, submission status and accounts."""

from __future__ import annotations

import functools
import gzip
import math
import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_safe

import scoring
from leaderboard import charts, confirmation, exports, live_target, ratelimit, services, uploads
from leaderboard.boards import behaviour_of
from leaderboard.exports import (
    benchmark_json_gzip,
    board_csv,
    board_csv_pieces,
    outcomes_csv_pieces,
    submission_json_data,
)
from leaderboard.forms import (
    AccountSettingsForm,
    ApiTokenForm,
    ConfirmationRequestForm,
    SignupForm,
    SubmissionForm,
)
from leaderboard.model_pages import model_page
from leaderboard.models import (
    AccountSettings,
    ApiToken,
    Benchmark,
    ConfirmedEmail,
    Model,
    Submission,
    results_of,
)
from leaderboard.results_cache import cached_results
from leaderboard.selectors import (
    CHART_TOP,
    STREAMED_ABOVE_ROWS,
    being_rescored,
    benchmark_index,
    board_for,
    board_json,
    category_figure,
    charts_for,
    compared,
    model_slugs,
    rubric_rows,
)

ACCEPTS_GZIP = re.compile(r"\bgzip\b")


def _get_benchmark_for_user(request: HttpRequest, slug: str) -> Benchmark:
    return get_object_or_404(Benchmark.objects.visible_to(request.user), slug=slug)


def _get_submission_for_user(request: HttpRequest, submission_id: int) -> Submission:
    return get_object_or_404(
        Submission.objects.visible_to(request.user).select_related("benchmark", "owner"),
        pk=submission_id,
    )


def _may_be_stale(request: HttpRequest) -> bool:
    """Whether this reader may be given the board before while the current one is computed.

    Anonymous visitors, the crowd that would otherwise compute it all at once, may; a visitor
    who is logged in (the submitter following an upload, staff) is given the current board,
    waiting for the process computing it (``results_cache.cached_results``).
    """
    return not request.user.is_authenticated


# A board ranks fewer models than this too few to say how much its ranking changes: the home
# page lists it after those that do.
MIN_MODELS_TO_ORDER = 3
# A home card's description is cut to this many characters.
HOME_SUMMARY_CHARS = 280


def _lowest_tau(board) -> tuple[float, str] | None:
    """The board's lowest Kendall tau-b between the binary ranking and a target's, with that
    target's key: how far rewarding abstention reorders it. None on a board of too few models."""
    if len(board.ranking(scoring.BINARY_KEY)) < MIN_MODELS_TO_ORDER:
        return None
    taus = [(tau, key) for key, tau in board.taus.items() if tau is not None]
    return min(taus) if taus else None


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    benchmarks = Benchmark.objects.visible_to(request.user).exclude(
        visibility=Benchmark.Visibility.ARCHIVED
    )
    cards = []
    for benchmark in benchmarks:
        board = board_for(benchmark, request.user, stale_ok=_may_be_stale(request))
        strictest = board.strictest
        strictest_leader = board.leader(strictest.key) if strictest else None
        lowest = _lowest_tau(board)
        cards.append(
            {
                "benchmark": benchmark,
                "n_models": len(board.rows),
                "binary_key": scoring.BINARY_KEY,
                "binary_leader": board.leader(scoring.BINARY_KEY),
                "strictest": strictest,
                "strictest_leader": strictest_leader,
                # A leader is named only with what it must be read with: whether it beats
                # abstaining on everything, and how much of the benchmark it omits.
                "strictest_context": (
                    board.leader_context(strictest_leader, strictest.key)
                    if strictest_leader
                    else ""
                ),
                "verdict": board.abstaining_verdict(),
                "lowest_tau": lowest,
                # Whole when short, else cut after a sentence, or a word and an ellipsis.
                "summary": benchmark.summary(HOME_SUMMARY_CHARS),
            }
        )
    # The board whose ranking changes most under the targets first: the lowest tau. Boards of
    # too few models after them, by name.
    cards.sort(
        key=lambda card: (
            card["lowest_tau"] is None,
            card["lowest_tau"][0] if card["lowest_tau"] else 0.0,
        )
    )
    archived = Benchmark.objects.visible_to(request.user).filter(
        visibility=Benchmark.Visibility.ARCHIVED
    )
    return render(
        request,
        "home.html",
        {"cards": cards, "archived": archived, "min_models_to_order": MIN_MODELS_TO_ORDER},
    )


@require_safe
def benchmarks(request: HttpRequest) -> HttpResponse:
    """Every benchmark a visitor may see, drafts marked (staff only), archived ones last."""
    return render(request, "benchmarks.html", {"benchmarks": benchmark_index(request.user)})


@require_safe
def benchmarks_json(request: HttpRequest) -> JsonResponse:
    """The index as JSON: the same benchmarks and facts as ``/benchmarks/``."""
    return JsonResponse(
        {
            "benchmarks": [
                {
                    "slug": benchmark.slug,
                    "name": benchmark.name,
                    "url": request.build_absolute_uri(benchmark.get_absolute_url()),
                    "visibility": benchmark.visibility,
                    "grader": benchmark.grader,
                    "n_items": benchmark.n_items,
                    "n_scored_public_submissions": benchmark.n_scored_public,
                    "gold_public": benchmark.gold_public,
                    "summary": benchmark.summary(),
                }
                for benchmark in benchmark_index(request.user)
            ]
        }
    )


# The sample prediction file lists this many of a benchmark's first items.
SAMPLE_ROWS = 5


@require_safe
def sample_predictions_csv(request: HttpRequest, slug: str) -> HttpResponse:
    """A small prediction file in the format the upload form reads, for a benchmark's first
    items: their ids and made-up answers, never the gold."""
    benchmark = _get_benchmark_for_user(request, slug)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{benchmark.slug}-sample-predictions.csv"'
    )
    response.write(exports.sample_predictions_csv(benchmark, rows=SAMPLE_ROWS))
    return response


# The table of a board lists this many models a page; a board of at most this many looks as
# if there were no pages.
TABLE_PAGE_SIZE = 100


@require_safe
def benchmark(request: HttpRequest, slug: str) -> HttpResponse:
    benchmark = _get_benchmark_for_user(request, slug)
    show_all = request.GET.get("all") == "1"
    sort_key = request.GET.get("sort", scoring.BINARY_KEY)
    if sort_key not in {scoring.target_key(t) for t in benchmark.config().rubrics}:
        sort_key = scoring.BINARY_KEY
    page_number = request.GET.get("page", "1")
    page_number = max(1, int(page_number)) if page_number.isascii() and page_number.isdigit() else 1
    # The target slider's t (``live_target``): any other value is ignored, not an error.
    asked_t = live_target.parse_t(request.GET.get("t"))

    def page() -> HttpResponse:
        # Always from the current board: a cached page must never hold an older one.
        board = board_for(benchmark, request.user)
        sort = board.rubric(sort_key)
        # Sorted whole, then cut into pages: page 2 holds the models ranked 101 to 200.
        table = Paginator(board.sorted_by(sort.key), TABLE_PAGE_SIZE).get_page(page_number)
        first = table.start_index() - 1 if table.object_list else 0
        # The board's part of the page is the same for every viewer of the same board: it is
        # rendered once per change of results and set of private rows shown, not per request.
        # Keyed by the private rows and the submissions being rescored that this viewer sees, so
        # that no viewer is given a part of the page that names another's private submissions.
        ids = board.rows.column("id")
        private = ",".join(
            str(pk)
            for pk in sorted(
                pk for pk, private in zip(ids, board.rows.column("private"), strict=True) if private
            )
        )
        waiting = being_rescored(benchmark, request.user)
        listed = ",".join(str(submission["id"]) for submission in waiting)
        content_key = (
            f"{benchmark.results_cache_key('content')}:{sort.key}:{show_all}:{table.number}:"
            f"{private}:{listed}:{asked_t}"
        )
        on_page = {ids[at] for at in table.object_list.order}

        def behaviour_rows() -> list:
            return [
                board.rows[at]
                for at, (pk, behaviour) in enumerate(
                    zip(ids, board.rows.column("behaviour"), strict=True)
                )
                if behaviour and pk in on_page
            ]

        # The slider, computed once and only when the board's part of the page is rendered.
        live = functools.cache(functools.partial(live_target.slider_of, board, asked_t))

        def table_rows() -> list:
            lines = board.lines_of_page(sort.key, first, first + len(table.object_list))
            slider = live() if asked_t is not None else None
            # At a t of the address the page's rows come in the slider's order at that t.
            return slider.ordered(lines) if slider is not None else lines

        return render(
            request,
            "benchmark.html",
            {
                "content_key": content_key,
                "benchmark": benchmark,
                "board": board,
                "sort": sort,
                "table": table,
                # The rows of the board's part of the page, read only when that part is rendered
                # (a template calls what it is given): most requests find it cached.
                "table_rows": table_rows,
                "columns": functools.partial(board.columns, limit=None if show_all else CHART_TOP),
                "figures": charts_for(board, show_all=show_all),
                "show_all": show_all,
                # What the table's sort and page links keep of the address: its sort, "show all"
                # and the slider's t.
                "sort_query": "" if sort.key == "0" else f"sort={sort.key}&",
                "all_query": "all=1&" if show_all else "",
                "t_query": "" if asked_t is None else f"t={asked_t:g}&",
                "chart_top": CHART_TOP,
                # On a board of several pages, those of the models on this page.
                "behaviour_rows": behaviour_rows,
                "being_rescored": waiting,
                "live": live,
                # Where each row's model links, read only when the board's part is rendered.
                "model_slugs": functools.cache(functools.partial(model_slugs, benchmark)),
            },
        )

    if request.user.is_authenticated or len(messages.get_messages(request)):
        # A message is for one visitor only: such a page is never the one cached for all.
        return page()
    # Anonymous visitors, most of the readers, all see the same page: it is rendered once per
    # change of results and then served from the cache, the page before while it is rendered.
    if page_number > 1:
        # A number past the last page shows the last page, and is cached as it: one page of the
        # cache per page of the table, however many numbers are asked for.
        count = cached_results(
            benchmark,
            "row-count",
            lambda: len(board_for(benchmark, request.user, stale_ok=True).rows),
            stale_ok=True,
        )
        page_number = min(page_number, max(1, math.ceil(count / TABLE_PAGE_SIZE)))
    kind = f"page-{sort_key}-{int(show_all)}" + (f"-{page_number}" if page_number > 1 else "")
    if asked_t is not None:
        kind += f"-t{asked_t}"
    content = cached_results(benchmark, kind, lambda: page().content, stale_ok=True)
    return HttpResponse(content)


def _get_model(slug: str) -> tuple[Model, bool]:
    """The model of this slug, followed to the one it was merged into; and whether it was."""
    named = get_object_or_404(Model, slug=slug)
    current = named.current()
    return current, current.pk != named.pk


@require_safe
def model(request: HttpRequest, slug: str) -> HttpResponse:
    current, merged = _get_model(slug)
    if merged:
        return redirect(current, permanent=True)
    page = model_page(current)
    return render(
        request,
        "model.html",
        {"model": current, "page": page, "figure": page.figure()},
    )


@require_safe
def model_json(request: HttpRequest, slug: str) -> HttpResponse:
    current, merged = _get_model(slug)
    if merged:
        return redirect("model_json", slug=current.slug, permanent=True)
    return JsonResponse(model_page(current).to_dict())


@require_safe
def methods(request: HttpRequest) -> HttpResponse:
    """How scores are computed: every formula behind the boards, linked from each of them."""
    return render(
        request, "methods.html", {"hidden_gold_min_items": settings.HIDDEN_GOLD_MIN_ITEMS}
    )


@require_safe
def leaderboard_json(request: HttpRequest, slug: str) -> HttpResponse:
    benchmark = _get_benchmark_for_user(request, slug)
    body = board_json(benchmark, request.user, stale_ok=_may_be_stale(request))
    if isinstance(body, bytes):
        return HttpResponse(body, content_type="application/json")
    # A large board: sent a piece at a time, as it is formatted.
    return StreamingHttpResponse(body, content_type="application/json")


@require_safe
def leaderboard_csv(request: HttpRequest, slug: str) -> HttpResponse:
    benchmark = _get_benchmark_for_user(request, slug)
    board = board_for(benchmark, request.user, stale_ok=_may_be_stale(request))
    if len(board.rows) > STREAMED_ABOVE_ROWS:
        response = StreamingHttpResponse(
            (piece.encode() for piece in board_csv_pieces(board)),
            content_type="text/csv; charset=utf-8",
        )
    else:
        response = HttpResponse(board_csv(board), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{benchmark.slug}-leaderboard.csv"'
    return response


@require_safe
def benchmark_json(request: HttpRequest, slug: str) -> HttpResponse:
    """The benchmark's settings and items for `python -m scoring --benchmark` (SPEC §6)."""
    benchmark = _get_benchmark_for_user(request, slug)
    compressed = benchmark_json_gzip(benchmark)
    # Kept compressed (MMLU-Pro's 12,032 items with their questions are a few megabytes):
    # sent as it is to any client that accepts gzip, urllib in the CLI included.
    if ACCEPTS_GZIP.search(request.headers.get("Accept-Encoding", "")):
        response = HttpResponse(compressed, content_type="application/json")
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(gzip.decompress(compressed), content_type="application/json")
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


# Beyond this many submissions a side-by-side table stops being readable.
COMPARE_MAX = 8


@require_safe
def compare(request: HttpRequest, slug: str) -> HttpResponse:
    benchmark = _get_benchmark_for_user(request, slug)
    board = board_for(benchmark, request.user)
    problems = []
    ids: list[int] = []
    for part in ",".join(request.GET.getlist("ids")).split(","):
        part = part.strip()
        if not part:
            continue
        if not (part.isascii() and part.isdigit()):
            problems.append(f"“{part}” is not a submission number.")
        elif int(part) not in ids:
            ids.append(int(part))
    rows_by_id = {i: row for i in ids if (row := board.row(i)) is not None}
    unknown = [i for i in ids if i not in rows_by_id]
    if unknown:
        problems.append(
            "Not on this board (or not visible to you): "
            + ", ".join(f"#{i}" for i in unknown)
            + "."
        )
    rows = [rows_by_id[i] for i in ids if i in rows_by_id]
    if len(rows) > COMPARE_MAX:
        problems.append(f"Up to {COMPARE_MAX} submissions fit side by side: the first are shown.")
        rows = rows[:COMPARE_MAX]
    if len(rows) < 2:
        problems.append("Pick two or more scored submissions of this benchmark to compare.")
    min_items = benchmark.config().min_items_per_figure
    agreement, shares, withheld = compared(benchmark, board, rows)
    # With more than two, the paired test and the item table are offered per pair instead.
    pairs = (
        [
            (first, second, f"{first.id},{second.id}")
            for at, first in enumerate(rows)
            for second in rows[at + 1 :]
        ]
        if len(rows) > 2
        else []
    )
    return render(
        request,
        "compare.html",
        {
            "benchmark": benchmark,
            "board": board,
            "rows": rows,
            "problems": problems,
            "agreement": agreement,
            "shares": shares,
            "withheld": withheld,
            "pairs": pairs,
            "min_items": min_items,
            "beats_share": scoring.statistics.BEATS_SHARE,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def submit(request: HttpRequest, slug: str) -> HttpResponse:
    benchmark = _get_benchmark_for_user(request, slug)
    quota = settings.SUBMISSION_DAILY_QUOTA
    refused = services.submission_upload_refused(benchmark=benchmark, user=request.user)
    if refused is not None and refused.code == "needs_confirmation":
        return render(
            request,
            "submit.html",
            {"benchmark": benchmark, "needs_confirmation": refused.errors[0]},
            status=403 if request.method == "POST" else 200,
        )
    if refused is not None:
        messages.error(request, refused.errors[0])
        return redirect(benchmark)
    form = SubmissionForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        # The same rules as the API's (services.submission_upload): a refusal's reasons are
        # in the form's errors.
        try:
            submission = services.submission_upload(
                benchmark=benchmark,
                owner=request.user,
                form=form,
                upload_refusal=getattr(request, uploads.REFUSAL, ""),
                quota=quota,
            )
        except services.UploadRefused:
            pass
        else:
            return redirect(submission)
    left = services.quota_left(benchmark=benchmark, owner=request.user, quota=quota)
    return render(
        request,
        "submit.html",
        {
            "benchmark": benchmark,
            "form": form,
            "quota": quota,
            "quota_left": left,
            "min_items": benchmark.config().min_items_per_figure,
            "sample_rows": SAMPLE_ROWS,
        },
    )


def source_options(source: dict | None) -> list[dict]:
    """The options a harness log was read with (filter, epoch, scorer), each with the other
    values the log held, for the submission page."""
    if not source:
        return []
    found = source.get("found") or {}
    return [
        {
            "name": name,
            "used": used,
            "others": [value for value in found.get(name, []) if str(value) != str(used)],
        }
        for name, used in (source.get("options") or {}).items()
    ]


@require_safe
def submission(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = _get_submission_for_user(request, submission_id)
    result = submission.result() if submission.status == Submission.Status.SCORED else None
    primary = result.primary if result else None
    # On a benchmark whose gold is hidden, categories with too few answers are left out.
    categories = sorted(primary.categories.items()) if primary else []
    behaviour = behaviour_of(result.runs) if result else []
    return render(
        request,
        "submission.html",
        {
            "submission": submission,
            "benchmark": submission.benchmark,
            "result": result,
            "runs": result.runs if result else (),
            "primary": primary,
            "categories": categories,
            "min_items": submission.benchmark.config().min_items_per_figure,
            "category_figure": category_figure(submission, categories),
            "rubrics": rubric_rows(submission, result, request.user),
            "status_url": reverse("submission_json", args=[submission.pk]),
            "outcomes_shown": submission.outcomes_shown_to(request.user),
            "source": submission.source,
            "source_options": source_options(submission.source),
            "behaviour": behaviour,
            "behaviour_figure": (
                charts.behaviour_chart([(submission.model_name, behaviour)]) if behaviour else ""
            ),
            "confidences": [
                {
                    "run": run,
                    "reliability": charts.reliability_diagram(run.confidence_calibration),
                    "reliability_id": f"figure-reliability-{index}",
                    "risk_coverage": charts.risk_coverage_chart(run.confidence_calibration),
                    "risk_id": f"figure-risk-{index}",
                }
                for index, run in enumerate(result.runs if result else ())
                if run.confidence_calibration
            ],
        },
    )


@require_safe
def submission_json(request: HttpRequest, submission_id: int) -> JsonResponse:
    """The submission's status and, once scored, its result: the shape the README documents
    under "A submission as JSON"."""
    submission = _get_submission_for_user(request, submission_id)
    result = submission.result() if submission.status == Submission.Status.SCORED else None
    return JsonResponse(submission_json_data(submission, result))


@require_safe
def submission_outcomes_csv(request: HttpRequest, submission_id: int) -> HttpResponse:
    """The submission's outcome per item and run, for its owner (and staff) on a benchmark whose
    gold is public: 404 to anyone else, as if there were none."""
    submission = _get_submission_for_user(request, submission_id)
    pieces = outcomes_csv_pieces(submission) if submission.outcomes_shown_to(request.user) else None
    if pieces is None:
        raise Http404("No outcomes here.")
    if submission.benchmark.n_items > exports.ITEMS_PER_PIECE:
        # Sent a piece at a time, as it is formatted.
        response = StreamingHttpResponse(
            (piece.encode() for piece in pieces), content_type="text/csv; charset=utf-8"
        )
    else:
        response = HttpResponse("".join(pieces), content_type="text/csv; charset=utf-8")
    filename = f"{submission.benchmark.slug}-submission-{submission.pk}-outcomes.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # One person's download: never kept by a shared cache.
    response["Cache-Control"] = "private"
    return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Counted before the account exists, so concurrent sign-ups cannot pass the limit together.
        wait = ratelimit.signup_refused(ratelimit.client_address(request))
        if wait:
            form.add_error(None, ratelimit.too_many_message("sign-ups from this address", wait))
            return _too_many(
                render(request, "registration/signup.html", {"form": form}, status=429), wait
            )
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}. You can now submit predictions.")
        # The link goes to whatever address was typed: it counts against that recipient's limit,
        # so that sign-ups from many addresses cannot flood someone else's mailbox.
        wait = ratelimit.email_request_refused(ratelimit.client_address(request), user.email)
        if wait:
            messages.error(
                request,
                f"{_too_many_emails(wait)} No confirmation link was sent to {user.email}; ask for "
                "one then from the confirmation page.",
            )
        else:
            _send_confirmation(request, user)
        next_url = request.GET.get("next", "")
        if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
            return redirect(next_url)
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_safe
def my_submissions(request: HttpRequest) -> HttpResponse:
    submissions = list(request.user.submissions.select_related("benchmark").order_by("-created_at"))
    results = results_of(submissions, for_board=True)
    return render(
        request,
        "my_submissions.html",
        {"submissions": [(submission, results.get(submission.pk)) for submission in submissions]},
    )


# Tokens an account may hold at once, revoked ones aside: enough for every CI of a lab.
MAX_API_TOKENS = 20


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """The account page: personal API tokens (made, shown once, revoked) and e-mail settings."""
    user = request.user
    token_form = ApiTokenForm(prefix="token")
    settings_form = AccountSettingsForm(instance=AccountSettings.of(user), prefix="settings")
    created = None
    action = request.POST.get("action", "")
    if request.method == "POST" and action == "create-token":
        token_form = ApiTokenForm(request.POST, prefix="token")
        if token_form.is_valid():
            if (
                ApiToken.objects.filter(user=user, revoked_at__isnull=True).count()
                >= MAX_API_TOKENS
            ):
                token_form.add_error(
                    "name", f"You hold {MAX_API_TOKENS} tokens already: revoke one first."
                )
            else:
                created = services.api_token_create(user=user, name=token_form.cleaned_data["name"])
                token_form = ApiTokenForm(prefix="token")
    elif request.method == "POST" and action == "revoke-token":
        token_id = request.POST.get("token", "")
        token = (
            services.api_token_revoke(user=user, token_id=int(token_id))
            if token_id.isascii() and token_id.isdigit()
            else None
        )
        if token is None:
            raise Http404("No such token of yours.")
        messages.success(
            request,
            f"The token “{token.name}” ({token.prefix}…) is revoked: the API refuses it now.",
        )
        return redirect("account")
    elif request.method == "POST" and action == "settings":
        settings_form = AccountSettingsForm(
            request.POST, instance=AccountSettings.of(user), prefix="settings"
        )
        if settings_form.is_valid():
            settings_form.save()
            messages.success(request, "Your e-mail settings are saved.")
            return redirect("account")
    elif request.method == "POST":
        return HttpResponseBadRequest("Unknown action.")
    response = render(
        request,
        "account.html",
        {
            "tokens": ApiToken.objects.filter(user=user),
            "created": created,
            "token_form": token_form,
            "settings_form": settings_form,
            "confirmed": ConfirmedEmail.objects.filter(user=user).first(),
            "api_docs": reverse("api:openapi-view"),
        },
    )
    if created:
        # The page that shows a new token: kept by no cache, the browser's included.
        response["Cache-Control"] = "no-store"
    return response


def _too_many(response: HttpResponse, seconds: int) -> HttpResponse:
    response["Retry-After"] = str(seconds)
    return response


def _too_many_emails(seconds: int) -> str:
    return ratelimit.too_many_message(
        "e-mails asked for from this address or to this recipient", seconds
    )


def _send_confirmation(request: HttpRequest, user) -> None:
    if confirmation.send_link(request, user):
        messages.info(
            request,
            f"We sent a link to {user.email}: follow it within {confirmation.valid_for()} to "
            "confirm the address. Benchmarks whose answers are hidden take uploads from confirmed "
            "addresses only.",
        )
    else:
        messages.error(
            request,
            f"The confirmation e-mail to {user.email} could not be sent. Please ask for it again "
            "later from the confirmation page.",
        )


@login_required
@require_http_methods(["GET", "POST"])
def confirm_email_send(request: HttpRequest) -> HttpResponse:
    """Whether the address is confirmed; if not, (re)send the link, to a corrected address."""
    confirmed = ConfirmedEmail.objects.filter(user=request.user).first()
    form = ConfirmationRequestForm(
        None if confirmed else request.POST or None,
        initial={"email": request.user.email},
        user=request.user,
    )
    wait = 0
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        wait = ratelimit.email_request_refused(ratelimit.client_address(request), email)
        if not wait:
            if email != request.user.email:
                request.user.email = email
                request.user.save(update_fields=["email"])
            _send_confirmation(request, request.user)
            return redirect("confirm_email_send")
        form.add_error(None, _too_many_emails(wait))
    response = render(
        request,
        "registration/confirm_email_send.html",
        {"form": form, "confirmed": confirmed, "valid_for": confirmation.valid_for()},
        status=429 if wait else 200,
    )
    return _too_many(response, wait) if wait else response


@require_http_methods(["GET", "POST"])
def confirm_email(request: HttpRequest, token: str) -> HttpResponse:
    """The page a confirmation link opens: a button confirms (a GET changes nothing)."""
    problem = ""
    status = 400
    user = email = None
    try:
        user_id, email = confirmation.read_token(token)
    except signing.SignatureExpired:
        problem = (
            "This confirmation link has expired (links are valid for "
            f"{confirmation.valid_for()}): ask for a new one."
        )
    except signing.BadSignature:
        problem = (
            "This confirmation link is not valid: it may have been cut short or altered. "
            "Copy the whole link from the e-mail, or ask for a new one."
        )
    else:
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is None or user.email.casefold() != email.casefold():
            problem = (
                "This link was sent to an address the account no longer uses: "
                "follow the link in the latest e-mail, or ask for a new one."
            )
    taken = (
        f"{email} is already confirmed for another account: an address confirms one account only."
    )
    if (
        not problem
        and ConfirmedEmail.objects.filter(email__iexact=email).exclude(user=user).exists()
    ):
        problem, status = taken, 409
    if not problem and request.method == "POST":
        try:
            services.email_confirm(user=user, email=email)
        except services.EmailTaken:
            problem, status = taken, 409
        else:
            messages.success(
                request,
                f"{email} is confirmed: you can now submit to every benchmark.",
            )
            return redirect("home")
    return render(
        request,
        "registration/confirm_email.html",
        {"problem": problem, "account": user, "email": email},
        status=status if problem else 200,
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password-reset page, its e-mails counted like the confirmation e-mails."""

    extra_email_context = {"SITE_NAME": settings.SITE_NAME}

    def form_valid(self, form):
        wait = ratelimit.email_request_refused(
            ratelimit.client_address(self.request), form.cleaned_data["email"]
        )
        if wait:
            form.add_error(None, _too_many_emails(wait))
            response = self.form_invalid(form)
            response.status_code = 429
            return _too_many(response, wait)
        return super().form_valid(form)


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that link no icon of their own (the admin's)."""
    return redirect(static("favicon.svg"), permanent=True)
