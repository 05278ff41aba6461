"""URLs. The JSON and CSV paths are public interfaces (SPEC §6): keep them stable."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from leaderboard import ratelimit, views
from leaderboard.api import api

# Both log-in pages count failed attempts and refuse them past the limit (leaderboard.ratelimit).
admin.site.login_form = ratelimit.AdminLoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path("how-scores-are-computed/", views.methods, name="methods"),
    path("benchmarks/", views.benchmarks, name="benchmarks"),
    path("benchmarks.json", views.benchmarks_json, name="benchmarks_json"),
    path("benchmarks/<slug:slug>/", views.benchmark, name="benchmark"),
    path(
        "benchmarks/<slug:slug>/sample-predictions.csv",
        views.sample_predictions_csv,
        name="sample_predictions_csv",
    ),
    path(
        "benchmarks/<slug:slug>/leaderboard.json",
        views.leaderboard_json,
        name="leaderboard_json",
    ),
    path(
        "benchmarks/<slug:slug>/leaderboard.csv",
        views.leaderboard_csv,
        name="leaderboard_csv",
    ),
    path(
        "benchmarks/<slug:slug>/benchmark.json",
        views.benchmark_json,
        name="benchmark_json",
    ),
    path("benchmarks/<slug:slug>/submit/", views.submit, name="submit"),
    path("benchmarks/<slug:slug>/compare/", views.compare, name="compare"),
    path("models/<slug:slug>/", views.model, name="model"),
    path("models/<slug:slug>.json", views.model_json, name="model_json"),
    path("submissions/<int:submission_id>/", views.submission, name="submission"),
    path("submissions/<int:submission_id>.json", views.submission_json, name="submission_json"),
    path(
        "submissions/<int:submission_id>/outcomes.csv",
        views.submission_outcomes_csv,
        name="submission_outcomes_csv",
    ),
    path("accounts/signup/", views.signup, name="signup"),
    path(
        "accounts/login/",
        ratelimit.refused_with_429(
            auth_views.LoginView.as_view(authentication_form=ratelimit.LoginForm)
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/confirm/", views.confirm_email_send, name="confirm_email_send"),
    path("accounts/confirm/<str:token>/", views.confirm_email, name="confirm_email"),
    # Django's own password-reset views, under the names they look each other up by.
    path("accounts/password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("accounts/", views.account, name="account"),
    path("accounts/submissions/", views.my_submissions, name="my_submissions"),
    # Submitting and following submissions from scripts, with a personal token (leaderboard.api).
    path("api/", api.urls),
    path("favicon.ico", views.favicon),
    # Ahead of the admin's own URLs, to give its refusals their status.
    path("admin/login/", ratelimit.refused_with_429(admin.site.login)),
    path("admin/", admin.site.urls),
]
