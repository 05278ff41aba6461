"""The Django project: stores benchmarks and submissions, queues scoring, shows the boards."""

from leaderboard.celery import app as celery_app

__all__ = ["celery_app"]
