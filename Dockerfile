# One image for the web process and the Celery workers.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 1000 leaderboard

COPY pyproject.toml README.md ./
COPY scoring ./scoring
COPY leaderboard ./leaderboard
RUN pip install .

COPY . .
# Static files are collected at build time; collectstatic needs a key but never uses it.
RUN SECRET_KEY=build-only DATABASE_URL=sqlite:////tmp/build.sqlite3 VAR_DIR=/tmp/var \
    python manage.py collectstatic --noinput --verbosity 0 \
 && mkdir -p /data/media && chown -R leaderboard /data

USER leaderboard
ENV MEDIA_ROOT=/data/media VAR_DIR=/data
EXPOSE 8000
CMD ["gunicorn", "leaderboard.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
