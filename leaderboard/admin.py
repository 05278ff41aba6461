"""Staff curation: benchmarks created from a gold file, submissions watched and hidden."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models, transaction
from django.utils.html import format_html

from leaderboard import services, uploads
from leaderboard.forms import BenchmarkAdminForm
from leaderboard.models import Benchmark, Item, Submission

admin.site.site_header = "Abstention-aware leaderboard: administration"

# Changing any of these changes the results of every submission of the benchmark.
# gold_public too: a benchmark whose gold is hidden shows coarser figures (HIDDEN_GOLD_MIN_ITEMS).
SCORING_FIELDS = (
    "grader",
    "targets",
    "abstention_phrases",
    "min_coverage",
    "numeric_tolerance",
    "gold_public",
)


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):
    form = BenchmarkAdminForm
    list_display = ("name", "slug", "grader", "visibility", "gold_public", "n_items", "updated_at")
    list_filter = ("visibility", "grader", "gold_public")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("n_items", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "source", "visibility")}),
        ("Gold", {"fields": ("gold_file", "gold_public", "n_items")}),
        (
            "Grading",
            {
                "fields": (
                    "grader",
                    "targets",
                    "abstention_phrases",
                    "min_coverage",
                    "numeric_tolerance",
                )
            },
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.upload_refusal = getattr(request, uploads.REFUSAL, "")
        return form

    def save_model(self, request, obj, form, change) -> None:
        # The admin wraps the whole request in a transaction: items and settings land together.
        super().save_model(request, obj, form, change)
        gold_changed = form.gold is not None
        if gold_changed:
            services.benchmark_set_items(benchmark=obj, gold=form.gold)
            messages.info(request, f"{obj.n_items:,} items read from the gold file.")
        if change and (gold_changed or any(f in form.changed_data for f in SCORING_FIELDS)):
            requeued = services.benchmark_rescore(benchmark=obj)
            if requeued:
                messages.info(request, f"{requeued} submissions queued for rescoring.")


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
        "file",
        "original_filename",
        "file_size",
        "status",
        "progress",
        "errors",
        "n_errors",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
        "self_graded",
        "summary",
        "columns",
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

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Submission) -> str:
        return format_html('<span class="status status-{}">{}</span>', obj.status, obj.status)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        services.benchmark_results_changed(benchmark_id=obj.benchmark_id)

    @admin.action(description="Hide from the leaderboard")
    def hide_from_leaderboard(self, request, queryset) -> None:
        for submission in queryset:
            services.submission_set_hidden(submission=submission, hidden=True)
        self.message_user(request, f"{queryset.count()} submissions hidden.", messages.SUCCESS)

    @admin.action(description="Show on the leaderboard")
    def show_on_leaderboard(self, request, queryset) -> None:
        for submission in queryset:
            services.submission_set_hidden(submission=submission, hidden=False)
        self.message_user(request, f"{queryset.count()} submissions shown.", messages.SUCCESS)

    @admin.action(description="Score again")
    def rescore(self, request, queryset) -> None:
        with transaction.atomic():
            count = services.submissions_rescore(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} submissions queued for scoring.", messages.SUCCESS)
