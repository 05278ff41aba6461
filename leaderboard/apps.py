from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class LeaderboardConfig(AppConfig):
    name = "leaderboard"
    verbose_name = "Abstention-aware leaderboard"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from leaderboard import services
        from leaderboard.models import Submission

        # Whoever saves or deletes a submission, its board's cached results are bumped: no
        # caller has to remember it.
        post_save.connect(services.submission_saved, sender=Submission, dispatch_uid="results")
        post_delete.connect(services.submission_deleted, sender=Submission, dispatch_uid="results")
