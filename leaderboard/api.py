"""The API under /api/: submitting a file and following it from a script, with a personal token.

Built on django-ninja, which writes the OpenAPI schema (/api/schema) from these functions and
serves its reference page (/api/docs) with Swagger UI from our own static files. The API adds no
rule of its own: an upload goes through the upload form's checks (``services.submission_upload``)
and the reads return the bodies of the JSON pages (``views``), for the token's user. Every error
is JSON, ``{"errors": ["message", ...]}``, with the messages the pages show.

A token (``Authorization: Bearer lb_…``) stands for its user here and nowhere else: it logs in
no session, and the admin and the account pages never read it. Uploads take a token only, never
the session cookie, so that no other site can make a visitor's browser submit (the API's views
are exempt from Django's CSRF check, as cookie-less APIs are). Reads take a token or, without
one, whoever the session is, as the JSON pages do.
"""

from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import strip_tags
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError, ValidationError
from ninja.security import HttpBearer

from leaderboard import ratelimit, services, uploads, views
from leaderboard.forms import SubmissionForm
from leaderboard.models import ApiToken, Benchmark, Submission

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An answer of the API other than success: its status and messages."""

    def __init__(self, status: int, errors: list[str], *, retry_after: int = 0) -> None:
        super().__init__(errors)
        self.status = status
        self.errors = list(errors)
        self.retry_after = retry_after


def _account_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("account"))


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``: the token's user, or a 401 that says what is wrong.

    Each token checked counts against the client's address first (``ratelimit``), and is taken
    back when the token proves good: an address that sends many unknown or revoked tokens is
    refused (429) before any more are looked up. Without the header, `required` refuses; else
    the request goes on as whoever the session is (anonymous for a script).
    """

    def __init__(self, *, required: bool) -> None:
        super().__init__()
        self.required = required

    def __call__(self, request: HttpRequest):
        header = request.headers.get("Authorization", "")
        if not header:
            if self.required:
                raise ApiError(
                    401,
                    [
                        "This needs a personal API token, sent as “Authorization: Bearer "
                        f"<token>”: create one on your account page, {_account_url(request)}"
                    ],
                )
            return request.user
        scheme, _, text = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not text.strip():
            raise ApiError(
                401,
                [
                    "The Authorization header must be “Bearer <token>”, with a personal API "
                    f"token from your account page, {_account_url(request)}"
                ],
            )
        return self.authenticate(request, text.strip())

    def authenticate(self, request: HttpRequest, token: str):
        address = ratelimit.client_address(request)
        wait = ratelimit.count_token_attempt(address)
        if wait:
            raise ApiError(429, [ratelimit.too_many_tokens_message(wait)], retry_after=wait)
        found = (
            ApiToken.objects.select_related("user").filter(digest=ApiToken.digest_of(token)).first()
        )
        if found is None:
            raise ApiError(
                401,
                [
                    "This API token is not valid: check that it was copied whole (it starts with "
                    f"“{ApiToken.PREFIX}” and has {ApiToken.LENGTH} characters), or create a new "
                    f"one on your account page, {_account_url(request)}"
                ],
            )
        if found.is_revoked:
            raise ApiError(
                401,
                [
                    f"This API token (“{found.name}”, {found.prefix}…) was revoked on "
                    f"{found.revoked_at:%Y-%m-%d %H:%M} UTC: create a new one on your account "
                    f"page, {_account_url(request)}"
                ],
            )
        if not found.user.is_active:
            raise ApiError(401, ["The account of this API token is deactivated."])
        ratelimit.take_back_token_attempt(address)
        services.api_token_used(token=found)
        # For the views this API calls: the token's user, for this request only (no session).
        request.user = found.user
        return found.user


token_required = TokenAuth(required=True)
token_optional = TokenAuth(required=False)


class Errors(Schema):
    errors: list[str]


class SubmissionCreated(Schema):
    id: int
    status: str
    url: str
    status_url: str


def _with_docs_policy(view):
    """The reference page's Content-Security-Policy: the site's, with images from data: URLs,
    which Swagger UI's stylesheet draws its icons with. Scripts stay our own files only."""

    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY.replace(
            "img-src 'self' blob:", "img-src 'self' blob: data:"
        )
        return response

    return wrapper


api = NinjaAPI(
    title=f"{settings.SITE_NAME} API",
    version="1",
    description=(
        "Submit prediction files and harness logs, follow their scoring, and read the boards. "
        "Uploads need a personal token (account page), sent as `Authorization: Bearer <token>`. "
        'Errors are JSON: `{"errors": ["message", ...]}`.'
    ),
    urls_namespace="api",
    openapi_url="/schema",
    docs_url="/docs",
    docs_decorator=_with_docs_policy,
)


def _errors(request: HttpRequest, status: int, errors: list[str], retry_after: int = 0):
    response = api.create_response(request, {"errors": errors}, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _errors(request, exc.status, exc.errors, exc.retry_after)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _errors(request, 404, ["Not found, or not visible to you."])


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    messages = []
    for error in exc.errors:
        # The location without its kind ("path", "query"): the parameter's name.
        where = ".".join(str(part) for part in error.get("loc", ())[1:])
        messages.append(f"{where}: {error.get('msg', 'invalid')}" if where else error["msg"])
    return _errors(request, 400, messages or ["The request is not valid."])


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _errors(request, exc.status_code, [str(exc)])


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    if isinstance(exc, RequestDataTooBig):
        return _errors(
            request,
            413,
            [
                "The fields besides the file are larger than "
                f"{filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}."
            ],
        )
    if isinstance(exc, SuspiciousOperation | MultiPartParserError):
        return _errors(request, 400, [f"The request body could not be read: {exc}"])
    log.exception("API request %s %s failed", request.method, request.path)
    return _errors(request, 500, ["An error of the site stopped this request; it has been logged."])


def _benchmark(request: HttpRequest, slug: str) -> Benchmark:
    benchmark = Benchmark.objects.visible_to(request.user).filter(slug=slug).first()
    if benchmark is None:
        raise ApiError(404, [f"There is no benchmark “{slug}” (or it is not visible to you)."])
    return benchmark


def _form_field_schema(field: forms.Field) -> dict:
    if isinstance(field, forms.FileField):
        schema: dict = {"type": "string", "format": "binary"}
    elif isinstance(field, forms.ChoiceField):
        schema = {"type": "string", "enum": [str(value) for value, _ in field.choices]}
    elif isinstance(field, forms.IntegerField):
        schema = {"type": "integer"}
        if field.min_value is not None:
            schema["minimum"] = field.min_value
    else:
        schema = {"type": "string"}
        if getattr(field, "max_length", None):
            schema["maxLength"] = field.max_length
    description = strip_tags(str(field.help_text or field.label or ""))
    if description:
        schema["description"] = description
    if field.initial not in (None, "") and not callable(field.initial):
        schema["default"] = field.initial
    return schema


def _upload_body() -> dict:
    """The multipart body of an upload, from the upload form's own fields: the API takes
    whatever the form takes."""
    fields = SubmissionForm.base_fields
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {name: _form_field_schema(f) for name, f in fields.items()},
                    "required": [
                        name
                        for name, field in fields.items()
                        if field.required and field.initial in (None, "")
                    ],
                }
            }
        },
    }


def _form_data(request: HttpRequest):
    """The fields sent, with the form's initial value for those left out that have one
    (`visibility`: public), as the form's page would send them."""
    data = request.POST.copy()
    for name, field in SubmissionForm.base_fields.items():
        if (
            name not in data
            and not isinstance(field, forms.FileField)
            and field.initial not in (None, "")
            and not callable(field.initial)
        ):
            data[name] = field.initial
    return data


REFUSALS = {status: Errors for status in (400, 401, 403, 404, 413, 429)}


@api.post(
    "/benchmarks/{slug}/submissions",
    auth=token_required,
    response={201: SubmissionCreated, **REFUSALS},
    openapi_extra={"requestBody": _upload_body()},
    url_name="submit",
    summary="Upload a prediction file or harness log",
    description=(
        "The upload form's fields, as multipart/form-data, with the same checks: file type and "
        "size, daily quota, confirmed e-mail on benchmarks whose answers are hidden. 201 once "
        "the file is kept and queued; follow it at `status_url` (also in `Location`)."
    ),
)
def submit(request: HttpRequest, slug: str):
    benchmark = _benchmark(request, slug)
    # Refused before the body is read, where the benchmark takes no upload from this user.
    refused = services.submission_upload_refused(benchmark=benchmark, user=request.user)
    if refused is None:
        form = SubmissionForm(_form_data(request), request.FILES)
        try:
            submission = services.submission_upload(
                benchmark=benchmark,
                owner=request.user,
                form=form,
                upload_refusal=getattr(request, uploads.REFUSAL, ""),
                quota=settings.SUBMISSION_DAILY_QUOTA,
            )
        except services.UploadRefused as upload_refused:
            refused = upload_refused
    if refused is not None:
        errors = refused.errors
        if refused.code == "needs_confirmation":
            address = request.build_absolute_uri(reverse("confirm_email_send"))
            errors = [f"{errors[0]} Confirm your address at {address}, then upload again."]
        raise ApiError(refused.status, errors, retry_after=refused.retry_after)
    status_url = request.build_absolute_uri(reverse("api:submission", args=[submission.pk]))
    response = JsonResponse(
        {
            "id": submission.pk,
            "status": submission.status,
            "url": request.build_absolute_uri(submission.get_absolute_url()),
            "status_url": status_url,
        },
        status=201,
    )
    response["Location"] = status_url
    return response


@api.get(
    "/submissions/{int:submission_id}",
    auth=token_optional,
    response={200: dict, 401: Errors, 404: Errors, 429: Errors},
    url_name="submission",
    summary="A submission's status, progress, errors and results",
    description=(
        "The body of `/submissions/<id>.json`: `status` is queued, scoring, scored, rejected or "
        "failed; `metrics` is there once scored. Private submissions for their owner only."
    ),
)
def submission(request: HttpRequest, submission_id: int):
    if not Submission.objects.visible_to(request.user).filter(pk=submission_id).exists():
        raise ApiError(404, [f"There is no submission {submission_id} visible to you."])
    return views.submission_json(request, submission_id)


@api.get(
    "/benchmarks/{slug}/leaderboard",
    auth=token_optional,
    response={200: dict, 401: Errors, 404: Errors, 429: Errors},
    url_name="leaderboard",
    summary="A benchmark's leaderboard",
    description="The body of `/benchmarks/<slug>/leaderboard.json`.",
)
def leaderboard(request: HttpRequest, slug: str):
    _benchmark(request, slug)
    return views.leaderboard_json(request, slug)


@api.get(
    "/benchmarks/{slug}",
    auth=token_optional,
    response={200: dict, 401: Errors, 404: Errors, 429: Errors},
    url_name="benchmark",
    summary="A benchmark's settings and items",
    description=(
        "The body of `/benchmarks/<slug>/benchmark.json`, what `python -m scoring --benchmark` "
        "reads (answers and questions only where the gold is public)."
    ),
)
def benchmark(request: HttpRequest, slug: str):
    _benchmark(request, slug)
    return views.benchmark_json(request, slug)


# The methods of the endpoints above; any other is answered 405 in JSON, like every refusal.
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _refuse_method(request: HttpRequest, allowed: str) -> HttpResponse:
    response = _errors(
        request, 405, [f"{request.method} is not allowed at {request.path}: use {allowed}."]
    )
    response["Allow"] = allowed
    return response


@api.api_operation(
    [m for m in METHODS if m != "POST"],
    "/benchmarks/{slug}/submissions",
    auth=None,
    include_in_schema=False,
)
def submit_other_methods(request: HttpRequest, slug: str):
    return _refuse_method(request, "POST")


@api.api_operation(
    [m for m in METHODS if m != "GET"],
    "/submissions/{int:submission_id}",
    auth=None,
    include_in_schema=False,
)
def submission_other_methods(request: HttpRequest, submission_id: int):
    return _refuse_method(request, "GET")


@api.api_operation(
    [m for m in METHODS if m != "GET"],
    "/benchmarks/{slug}/leaderboard",
    auth=None,
    include_in_schema=False,
)
def leaderboard_other_methods(request: HttpRequest, slug: str):
    return _refuse_method(request, "GET")


@api.api_operation(
    [m for m in METHODS if m != "GET"], "/benchmarks/{slug}", auth=None, include_in_schema=False
)
def benchmark_other_methods(request: HttpRequest, slug: str):
    return _refuse_method(request, "GET")


@api.api_operation(
    ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
    "/{path:rest}",
    auth=None,
    include_in_schema=False,
)
def unknown(request: HttpRequest, rest: str):
    """Any other path under /api/: a JSON 404 rather than the site's page."""
    docs = request.build_absolute_uri(reverse("api:openapi-view"))
    raise ApiError(404, [f"There is no API endpoint at {request.path}: see {docs}"])
