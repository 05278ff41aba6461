"""Settings, read from the environment.

With nothing set, the site runs embedded: SQLite (WAL mode) under ``var/`` and a Celery broker on
the filesystem, so ``make demo`` needs no server. Production sets ``DATABASE_URL`` (Postgres) and
``CELERY_BROKER_URL`` (Redis); see the README for every variable.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), not {value!r}")


def envint(name: str, default: str) -> int:
    value = os.getenv(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def envfloat(name: str, default: str) -> float:
    value = os.getenv(name, default)
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.getenv(name, default).split(",") if part.strip()]


DEBUG = envbool("DEBUG", "false")

SECRET_KEY = os.getenv("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-used-with-debug"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_NAME = os.getenv("SITE_NAME", "Abstention-aware leaderboard")

# Where the embedded database, the filesystem broker and uploaded files live by default.
VAR_DIR = Path(os.getenv("VAR_DIR", BASE_DIR / "var"))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "leaderboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "leaderboard.urls"
WSGI_APPLICATION = "leaderboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "leaderboard.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=envint("DB_CONN_MAX_AGE", "0"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions take the
    # write lock up front instead of failing half-way with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

# Boards and their figures are cached under a generation key that every scoring bumps. With
# CACHE_URL (Redis) the web processes and the workers share one cache, and the worker that scores
# a submission computes the new board once for all of them.
# https://docs.djangoproject.com/en/5.2/topics/cache/#redis
# Redis down is a cache miss, not an error (leaderboard.cache_backend): pages are computed without
# it. A Redis that does not answer costs a request at most CACHE_CONNECT_TIMEOUT to connect (or
# CACHE_READ_TIMEOUT to answer), and then nothing for a while.
CACHE_URL = os.getenv("CACHE_URL", "")
CACHE_CONNECT_TIMEOUT = envfloat("CACHE_CONNECT_TIMEOUT", "0.25")
CACHE_READ_TIMEOUT = envfloat("CACHE_READ_TIMEOUT", "2")
CACHES = {
    "default": (
        {
            "BACKEND": "leaderboard.cache_backend.DegradingRedisCache",
            "LOCATION": CACHE_URL,
            "OPTIONS": {
                "socket_connect_timeout": CACHE_CONNECT_TIMEOUT,
                "socket_timeout": CACHE_READ_TIMEOUT,
            },
        }
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "leaderboard.staticfiles.PlotlyFinder",
]
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    # Uploaded files are stored under generated names, outside the static tree.
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"  # never served: uploads are read only by the workers

# --- Uploads (SPEC §7) ---
# The largest prediction or gold file accepted, compressed or not.
UPLOAD_MAX_BYTES = envint("UPLOAD_MAX_BYTES", str(50 * 1024 * 1024))
# Scoring attempts a user may start per benchmark and day; rejected and failed ones do not count.
SUBMISSION_DAILY_QUOTA = envint("SUBMISSION_DAILY_QUOTA", "5")
# Stop storing an upload the moment it passes UPLOAD_MAX_BYTES, before any form reads it.
FILE_UPLOAD_HANDLERS = [
    "leaderboard.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Celery ---
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = os.getenv("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.filesystem.html
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-default-queue
CELERY_TASK_DEFAULT_QUEUE = os.getenv("CELERY_QUEUE", "scoring")
# Results live in the database, not in a Celery result backend.
CELERY_TASK_IGNORE_RESULT = True
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#std-setting-task_serializer
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only once it has finished, and given back to the queue if its worker
# dies, so a killed worker never loses a submission.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-acks-late
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#task-time-limit
CELERY_TASK_SOFT_TIME_LIMIT = envint("SCORING_SOFT_TIME_LIMIT", "300")
CELERY_TASK_TIME_LIMIT = envint("SCORING_TIME_LIMIT", "360")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A task taken by a worker that vanished with its machine (no process left to give it back)
    # returns to the queue after this many seconds. Longer than a task may run, or a slow task
    # would be handed to a second worker while the first is still at it.
    # https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout
    SCORING_REDELIVER_AFTER = envint("SCORING_REDELIVER_AFTER", str(CELERY_TASK_TIME_LIMIT + 60))
    if SCORING_REDELIVER_AFTER <= CELERY_TASK_TIME_LIMIT:
        raise ImproperlyConfigured(
            f"SCORING_REDELIVER_AFTER ({SCORING_REDELIVER_AFTER}) must be longer than "
            f"SCORING_TIME_LIMIT ({CELERY_TASK_TIME_LIMIT})"
        )
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": SCORING_REDELIVER_AFTER}
# A submission queued or scoring for longer than this is picked up again by the sweep, and one
# that was tried this many times ends failed with its reason (SPEC §7: never a stuck status).
SCORING_STALE_AFTER = envint("SCORING_STALE_AFTER", "600")
SCORING_MAX_ATTEMPTS = envint("SCORING_MAX_ATTEMPTS", "3")
# https://docs.celeryq.dev/en/stable/userguide/periodic-tasks.html
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-submissions": {
        "task": "leaderboard.tasks.requeue_stale_submissions",
        "schedule": float(envint("SCORING_SWEEP_EVERY", "60")),
    },
}
# Tests run the task in-process only when asked to.
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", "false")

# --- Security (production) ---
# Off by default so that `make demo` serves plain http on localhost; docker-compose.yml turns
# them on, and `manage.py check --deploy` passes with its environment.
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "false")
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", "false")
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", "false")
# Behind one TLS proxy that sets X-Forwarded-Proto and appends the client's address to
# X-Forwarded-For. Without it both headers come from the client and are not believed.
BEHIND_PROXY = envbool("BEHIND_PROXY", "false")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "false")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "false")
# Failed log-ins (site and admin) allowed per username, and per client address, within
# LOGIN_FAILURE_WINDOW seconds; past either, log-ins are refused until the window ends.
# An address gets more than a username: several people may share one (an office, a NAT).
LOGIN_MAX_FAILURES = envint("LOGIN_MAX_FAILURES", "5")
LOGIN_MAX_FAILURES_PER_ADDRESS = envint("LOGIN_MAX_FAILURES_PER_ADDRESS", "20")
LOGIN_FAILURE_WINDOW = envint("LOGIN_FAILURE_WINDOW", str(15 * 60))
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
