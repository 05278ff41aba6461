"""Staff curation: benchmarks created from a gold file, submissions watched and hidden."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db import models, transaction
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from leaderboard import services, uploads
from leaderboard.exports import submission_json_data
from leaderboard.forms import BenchmarkAdminForm
from leaderboard.models import METRICS, ApiToken, Benchmark, Item, Model, Submission

admin.site.site_header = "Abstention-aware leaderboard: administration"


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):
    form = BenchmarkAdminForm
    list_display = (
        "name",
        "slug",
        "grader",
        "visibility",
        "gold_public",
        "n_items",
        "gold_status",
        "updated_at",
    )
    list_filter = ("visibility", "grader", "gold_public")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("n_items", "gold_state", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "source", "visibility")}),
        ("Gold", {"fields": ("gold_file", "gold_state", "gold_public", "n_items")}),
        (
            "Grading",
            {
                "fields": (
                    "grader",
                    "targets",
                    "abstention_phrases",
                    "no_abstention_phrases",
                    "min_coverage",
                    "n_options",
                    "numeric_tolerance",
                    "partial_credit",
                )
            },
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def get_object(self, request, object_id, from_field=None):
        benchmark = super().get_object(request, object_id, from_field)
        if benchmark is not None and request.method == "POST":
            # Read again under a lock held until the request's transaction ends, as a gold
            # worker or a scoring takes it: the save writes every column, and must not put back
            # what they changed after it was first read.
            benchmark = Benchmark.objects.select_for_update().get(pk=benchmark.pk)
        return benchmark

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.upload_refusal = getattr(request, uploads.REFUSAL, "")
        return form

    @admin.display(description="Gold file read")
    def gold_state(self, obj: Benchmark) -> str:
        if not obj.gold_status:
            return "–"
        state = format_html(
            '<span class="gold-status gold-{}">{}: {}</span>',
            obj.gold_status,
            obj.gold_filename or "gold file",
            obj.get_gold_status_display(),
        )
        if obj.gold_pending:
            state += format_html(
                " ({}%, read with the {} grader; reload this page to follow it)",
                obj.gold_progress,
                obj.gold_grader,
            )
        if obj.gold_errors:
            state += format_html(
                '<ul class="errorlist gold-errors">{}</ul>',
                format_html_join("", "<li>{}</li>", ((error,) for error in obj.gold_errors)),
            )
        return state

    def save_model(self, request, obj, form, change) -> None:
        # The admin wraps the whole request in a transaction: the settings, the gold file's
        # queueing and the rescoring land together.
        before = Benchmark.objects.filter(pk=obj.pk).values_list("settings_fingerprint", "grader")
        previous, previous_grader = before.first() if change else ("", obj.grader)
        upload = form.cleaned_data.get("gold_file")
        grader = obj.grader
        # A new grader reads a new gold file: it applies with that file's items, once stored.
        obj.grader = previous_grader
        super().save_model(request, obj, form, change)
        if upload is not None:
            services.benchmark_queue_gold(benchmark=obj, file=upload, grader=grader)
            later = "" if grader == obj.grader else f" The grader becomes “{grader}” with them."
            messages.info(
                request,
                f"The gold file “{upload.name}” is saved and queued: a worker reads it and stores "
                "its items, replacing the old ones only once all are stored; its progress and "
                f"any errors show on this benchmark's page here.{later}",
            )
        if change and obj.settings_fingerprint != previous:
            requeued = services.benchmark_rescore(benchmark=obj)
            if requeued:
                messages.info(
                    request,
                    ngettext(
                        "%(count)d submission queued for rescoring.",
                        "%(count)d submissions queued for rescoring.",
                        requeued,
                    )
                    % {"count": requeued},
                )


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("item_id", "benchmark", "category", "answer")
    list_filter = ("benchmark",)
    search_fields = ("item_id", "question", "answer")
    list_select_related = ("benchmark",)


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    # A URL typed without its scheme is taken as https, as on the upload form.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = (
        "id",
        "model_name",
        "benchmark",
        "owner",
        "status_badge",
        "visibility",
        "hidden",
        "created_at",
    )
    list_filter = ("status", "benchmark", "visibility", "hidden")
    search_fields = ("model_name", "organisation", "owner__username")
    list_select_related = ("benchmark", "owner")
    actions = ("hide_from_leaderboard", "show_on_leaderboard", "rescore")
    readonly_fields = (
        "benchmark",
        "owner",
        "file_link",
        "original_filename",
        "file_size",
        "log_options",
        "status",
        "progress",
        "errors",
        "n_errors",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        "self_graded",
        "settings_fingerprint",
        "rescore_requested",
        "targets",
        "columns",
        "result",
    )
    fields = (
        "model_name",
        "organisation",
        "url",
        "description",
        "visibility",
        "hidden",
        *readonly_fields,
    )

    def has_add_permission(self, request) -> bool:
        return False  # submissions come through the upload form

    @admin.display(description="result")
    def result(self, obj: Submission) -> str:
        """The result ``/submissions/<id>.json`` gives, as tables (empty until scored)."""
        data = submission_json_data(obj, obj.result()).get("metrics")
        if not data:
            return "–"
        rates = [
            (name.replace("_", " "), data[name], data["intervals"].get(name))
            for name in METRICS
            if name in data
        ]
        return render_to_string(
            "admin/leaderboard/submission_result.html", {"metrics": data, "rates": rates}
        )

    @admin.display(description="file")
    def file_link(self, obj: Submission) -> str:
        """The uploaded file, sent by ``uploaded_file`` to staff only: uploads have no public
        address."""
        if not obj.file:
            return "–"
        url = reverse("admin:leaderboard_submission_file", args=[obj.pk])
        return format_html(
            '<a href="{}">{}</a> ({} bytes)', url, obj.original_filename, obj.file_size
        )

    def get_urls(self):
        # admin_view lets in active staff only and sends anyone else to the admin's log-in.
        return [
            path(
                "<int:submission_id>/file/",
                self.admin_site.admin_view(self.uploaded_file),
                name="leaderboard_submission_file",
            ),
            *super().get_urls(),
        ]

    def uploaded_file(self, request: HttpRequest, submission_id: int) -> FileResponse:
        submission = get_object_or_404(Submission, pk=submission_id)
        if not self.has_view_permission(request, submission):
            raise Http404("No submission here.")
        try:
            handle = submission.file.open("rb")
        except (FileNotFoundError, ValueError) as missing:
            raise Http404("The uploaded file is no longer stored.") from missing
        return FileResponse(
            handle,
            as_attachment=True,
            filename=submission.original_filename or submission.file.name,
            content_type="application/octet-stream",
        )

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Submission) -> str:
        return format_html('<span class="status status-{}">{}</span>', obj.status, obj.status)

    def save_model(self, request, obj, form, change) -> None:
        # The benchmark row first, in the order scoring locks them (services._store_result).
        # Saving it bumps the board's results generation (services.submission_saved).
        Benchmark.objects.select_for_update().filter(pk=obj.benchmark_id).first()
        super().save_model(request, obj, form, change)

    def delete_model(self, request, obj: Submission) -> None:
        # As in save_model: the benchmark row first (its results generation is bumped).
        with transaction.atomic():
            Benchmark.objects.select_for_update().filter(pk=obj.benchmark_id).first()
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            benchmark_ids = sorted(set(queryset.values_list("benchmark_id", flat=True)))
            list(Benchmark.objects.select_for_update().filter(pk__in=benchmark_ids).order_by("pk"))
            super().delete_queryset(request, queryset)

    @admin.action(description="Hide from the leaderboard")
    def hide_from_leaderboard(self, request, queryset) -> None:
        for submission in queryset:
            services.submission_set_hidden(submission=submission, hidden=True)
        count = queryset.count()
        self.message_user(
            request,
            ngettext("%(count)d submission hidden.", "%(count)d submissions hidden.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description="Show on the leaderboard")
    def show_on_leaderboard(self, request, queryset) -> None:
        for submission in queryset:
            services.submission_set_hidden(submission=submission, hidden=False)
        count = queryset.count()
        self.message_user(
            request,
            ngettext("%(count)d submission shown.", "%(count)d submissions shown.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description="Score again")
    def rescore(self, request, queryset) -> None:
        with transaction.atomic():
            count = services.submissions_rescore(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext(
                "%(count)d submission queued for scoring.",
                "%(count)d submissions queued for scoring.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Personal API tokens, by their first characters (the rest is never stored): staff can
    revoke one that leaked. Users make and revoke their own on the account page."""

    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    list_select_related = ("user",)
    actions = ("revoke",)
    fields = readonly_fields = (
        "user",
        "name",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    )

    def has_add_permission(self, request) -> bool:
        return False  # tokens are made on the account page, where they are shown once

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", revoked)
            % {"count": revoked},
            messages.SUCCESS,
        )


class MergeForm(ActionForm):
    """The action bar of the models' list, with the model to merge the selected ones into."""

    into = forms.ModelChoiceField(
        queryset=Model.objects.current(),
        required=False,
        label="into",
        help_text="For “Merge into…”: the model the selected ones are another spelling of.",
    )


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    """Models as their submissions name them. Two spellings of one model are merged into one
    (``services.model_merge``); the merged model's page then redirects to the other."""

    action_form = MergeForm
    actions = ("merge_into",)
    list_display = ("name", "organisation", "slug", "merged_into", "n_submissions", "created_at")
    list_filter = (("merged_into", admin.EmptyFieldListFilter),)
    search_fields = ("name", "organisation", "slug", "key")
    list_select_related = ("merged_into",)
    fields = ("name", "organisation", "slug", "key", "merged_into", "created_at")
    readonly_fields = ("key", "merged_into", "created_at")

    def has_add_permission(self, request) -> bool:
        return False  # models are made by the submissions that name them

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(models.Count("submissions"))

    @admin.display(description="submissions", ordering="submissions__count")
    def n_submissions(self, obj: Model) -> int:
        return obj.submissions__count

    @admin.action(description="Merge into…")
    def merge_into(self, request, queryset) -> None:
        try:
            into = MergeForm.base_fields["into"].clean(request.POST.get("into"))
        except forms.ValidationError:
            into = None
        if into is None:
            self.message_user(
                request,
                "Choose the model to merge into in the “into” list beside the action.",
                messages.ERROR,
            )
            return
        merged, moved = [], 0
        for model in queryset:
            try:
                moved += services.model_merge(source=model, into=into)
            except services.MergeRefused as refused:
                self.message_user(request, str(refused), messages.WARNING)
                continue
            merged.append(model)
        if merged:
            self.message_user(
                request,
                f"{len(merged)} model{'s' if len(merged) != 1 else ''} merged into “{into}”: "
                f"{moved} submission{'s' if moved != 1 else ''} moved; "
                f"{'its page redirects' if len(merged) == 1 else 'their pages redirect'} there.",
                messages.SUCCESS,
            )
