from django.apps import AppConfig


class LeaderboardConfig(AppConfig):
    name = "leaderboard"
    verbose_name = "Abstention-aware leaderboard"
    default_auto_field = "django.db.models.BigAutoField"
