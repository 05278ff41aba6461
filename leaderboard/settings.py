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

# Where the embedded database, the filesystem broker and uploaded files live by default.
VAR_DIR = Path(os.getenv("VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.getenv("SECRET_KEY", "")
# `make demo` makes a key for this machine under VAR_DIR, beside the embedded database: every
# manage.py command run on that database (createsuperuser, shell) finds it there.
SECRET_KEY_FILE = VAR_DIR / "secret_key"
if not SECRET_KEY and SECRET_KEY_FILE.is_file():
    SECRET_KEY = SECRET_KEY_FILE.read_text().strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            f"SECRET_KEY must be set when DEBUG is off (or written to {SECRET_KEY_FILE})"
        )
    SECRET_KEY = "insecure-development-key-only-used-with-debug"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_NAME = os.getenv("SITE_NAME", "Abstention-aware leaderboard")
# The site's address as its users reach it: the links in e-mails that a worker sends (a
# submission finished), which no request tells.
SITE_URL = os.getenv("SITE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # django-ninja: the API (leaderboard/api.py). Installed as an app so that its reference page
    # is rendered from its own template with Swagger UI from its static files, ours once
    # collected: the page loads nothing from elsewhere.
    "ninja",
    "leaderboard",
]

MIDDLEWARE = [
    "leaderboard.headers.SecurityHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages, JSON and CSV compressed for clients that accept gzip, with Django's padding against
    # BREACH. Inside WhiteNoise, which sends static files already compressed; responses that are
    # compressed already (benchmark.json) pass as they are.
    # https://docs.djangoproject.com/en/5.2/ref/middleware/#module-django.middleware.gzip
    "django.middleware.gzip.GZipMiddleware",
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
# CACHE_URL (Redis) the web processes and the workers share one cache, and a worker computes the
# new board once for all of them after each scoring (leaderboard.results_cache).
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
# On a benchmark whose gold is not public, no figure covers fewer than this many answered items,
# so that no page can be read item by item to rebuild the answers (SPEC §7); 0 turns this off.
HIDDEN_GOLD_MIN_ITEMS = envint("HIDDEN_GOLD_MIN_ITEMS", "25")
if HIDDEN_GOLD_MIN_ITEMS < 0:
    raise ImproperlyConfigured("HIDDEN_GOLD_MIN_ITEMS must be 0 or more")
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
# How often a worker on the filesystem broker looks for new tasks, in seconds.
BROKER_POLLING_INTERVAL = envfloat("BROKER_POLLING_INTERVAL", "0.1")
if not 0 < BROKER_POLLING_INTERVAL <= 60:
    raise ImproperlyConfigured("BROKER_POLLING_INTERVAL must be more than 0 and at most 60")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.transport.filesystem.html
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    # kombu's transport, a message renamed into the queue once written (leaderboard/broker.py).
    CELERY_BROKER_TRANSPORT = "leaderboard.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # How long an idle worker waits before it looks for new files again (kombu's default is
        # 1 s, which made an upload wait half a second on average before its scoring began).
        # Looking costs one directory listing: 0.1 s keeps the idle worker well under 1% of a core.
        "polling_interval": BROKER_POLLING_INTERVAL,
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
# How many reverse proxies of ours stand in front of the web process. Each appends the address
# it saw to X-Forwarded-For, so the client's is the N-th from the right, and the nearest sets
# X-Forwarded-Proto. With 0 (no proxy) both headers come from the client and are not believed.
if "BEHIND_PROXY" in os.environ:
    raise ImproperlyConfigured(
        "BEHIND_PROXY is replaced by TRUSTED_PROXIES, the number of proxies in front of the site "
        "(1 for one TLS proxy): set that instead"
    )
TRUSTED_PROXIES = envint("TRUSTED_PROXIES", "0")
if TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES must be 0 or more, not {TRUSTED_PROXIES}")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "false")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "false")
# Failed log-ins (site and admin) allowed per username, and per client address, within
# LOGIN_FAILURE_WINDOW seconds; past either, log-ins are refused until the window ends.
# An address gets more than a username: several people may share one (an office, a NAT).
LOGIN_MAX_FAILURES = envint("LOGIN_MAX_FAILURES", "5")
LOGIN_MAX_FAILURES_PER_ADDRESS = envint("LOGIN_MAX_FAILURES_PER_ADDRESS", "20")
LOGIN_FAILURE_WINDOW = envint("LOGIN_FAILURE_WINDOW", str(15 * 60))
# Unknown or revoked API tokens allowed per client address within LOGIN_FAILURE_WINDOW seconds;
# past it, the API refuses every token from that address until the window ends.
API_TOKEN_MAX_FAILURES_PER_ADDRESS = envint("API_TOKEN_MAX_FAILURES_PER_ADDRESS", "20")
# Sign-ups allowed per client address within SIGNUP_WINDOW seconds: every account is one more
# identity to probe a hidden answer key with, so making them costs something.
SIGNUP_MAX_PER_ADDRESS = envint("SIGNUP_MAX_PER_ADDRESS", "5")
SIGNUP_WINDOW = envint("SIGNUP_WINDOW", str(60 * 60))
# Password-reset and confirmation e-mails asked for, per client address and per recipient, within
# EMAIL_REQUESTS_WINDOW seconds: nobody can fill someone's inbox through the site.
EMAIL_REQUESTS_PER_ADDRESS = envint("EMAIL_REQUESTS_PER_ADDRESS", "5")
EMAIL_REQUESTS_WINDOW = envint("EMAIL_REQUESTS_WINDOW", str(60 * 60))
# How long the link that confirms an e-mail address stays valid, in seconds.
EMAIL_CONFIRMATION_MAX_AGE = envint("EMAIL_CONFIRMATION_MAX_AGE", str(3 * 24 * 60 * 60))
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Sent with every response (leaderboard.headers). Scripts come only from our own static files,
# never inline: a name that slipped through escaping still could not run. Styles allow inline
# because plotly.js writes <style> elements and style attributes as it draws; its "download plot"
# button draws the chart through a blob: image.
# https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Content-Security-Policy
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)
# The site uses none of these browser features; no page of it, nor anything injected into one,
# may ask for them.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)

# --- E-mail: address confirmation, password resets, and submissions finished (when asked for) ---
# With EMAIL_HOST set, mail goes out through that SMTP server; without it (the demo), every e-mail
# is printed on the web process's console, links included.
# https://docs.djangoproject.com/en/5.2/topics/email/#smtp-backend
EMAIL_HOST = os.getenv("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = envint("EMAIL_PORT", "587")
EMAIL_HOST_USER = os.getenv("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.getenv("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "true")
# A slow mail server delays the page that sends, never hangs it.
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", "10")
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "leaderboard@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
