"""gonghui settings: one module, read from environment variables.

Production-only behaviour is switched by variables (DEBUG, SECURE_*), never by a second code path.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = Path(os.environ.get("GONGHUI_HOME", os.getcwd())).resolve()
VAR_DIR = Path(os.environ.get("GONGHUI_VAR_DIR", PROJECT_DIR / "var"))


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise ImproperlyConfigured(f"environment variable {name} is required")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG", False)
# A development key is only acceptable when DEBUG is on; production must set SECRET_KEY.
SECRET_KEY = env_str(
    "SECRET_KEY",
    "dev-insecure-gonghui-secret-key-change-me-0123456789abcdef" if DEBUG else None,
)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Field encryption: comma-separated Fernet keys, the first encrypts, all decrypt (rotation).
GONGHUI_FIELD_KEY = env_list(
    "GONGHUI_FIELD_KEY",
    "ZGV2LW9ubHktZmllbGQta2V5LWdvbmdodWktMDAwMDA=" if DEBUG else "",
)
# Keyed hash (blind index) for looking up encrypted values; stable across encryption-key rotation.
GONGHUI_INDEX_KEY = env_str(
    "GONGHUI_INDEX_KEY", "dev-only-blind-index-key-gonghui" if DEBUG else None
)
if not GONGHUI_FIELD_KEY:
    raise ImproperlyConfigured("GONGHUI_FIELD_KEY is required (see .env.example)")
if not SECRET_KEY.strip():
    raise ImproperlyConfigured("SECRET_KEY must not be empty (see .env.example)")
if not GONGHUI_INDEX_KEY.strip():
    raise ImproperlyConfigured("GONGHUI_INDEX_KEY must not be empty (see .env.example)")

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # its Swagger page then uses the bundled assets instead of a CDN
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "gonghui.core",
    "gonghui.orgs",
    "gonghui.accounts",
    "gonghui.audit",
    "gonghui.members",
    "gonghui.console",
    "gonghui.ledger",
    "gonghui.benefits",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "gonghui.core.middleware.PageGZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "gonghui.core.middleware.DefaultLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "gonghui.accounts.middleware.StaffTwoFactorMiddleware",
    "gonghui.accounts.middleware.MemberSessionMiddleware",
    "gonghui.audit.context.AuditOriginMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "gonghui.core.middleware.ApplicationErrorMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "gonghui.urls"
WSGI_APPLICATION = "gonghui.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# Database: embedded SQLite (WAL) under ./var by default, PostgreSQL via DATABASE_URL.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
CONN_MAX_AGE = env_int("CONN_MAX_AGE", 600)
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=CONN_MAX_AGE, conn_health_checks=True
        )
    }
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # Django's psycopg cursors bind on the client and are never prepared. A few hot statements
        # (the voucher scan) ask to be prepared explicitly; a threshold no query reaches lets
        # exactly those be prepared. Behind a pooler in transaction mode without prepared
        # statement support, set DATABASE_PREPARED_STATEMENTS=0 (None turns preparing off).
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
            2**31 - 1 if env_bool("DATABASE_PREPARED_STATEMENTS", True) else None
        )
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "gonghui.sqlite3"),
            "CONN_MAX_AGE": CONN_MAX_AGE,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA busy_timeout=20000; PRAGMA cache_size=-64000;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# Seconds to connect to Redis or wait for its answer (the cache and the grab fast path).
REDIS_TIMEOUT_SECONDS = env_int("REDIS_TIMEOUT_SECONDS", 2)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "gonghui",
            # A Redis that stops answering must not hold a grab: give up as the fast path's own
            # client does (benefits.fastpath), and the hot paths answer without it.
            "OPTIONS": {
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "gonghui_cache",
        }
    }

TASKS = {
    "default": {
        "BACKEND": os.environ.get("GONGHUI_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "gonghui.accounts.validators.CharacterClassValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/console/"
LOGOUT_REDIRECT_URL = "accounts:login"

# Lockout: 5 failed sign-ins per user name and address lock for 30 minutes.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.5
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

# Sessions: staff sessions end after 30 idle minutes and when the browser closes.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Member one-time sign-in codes.
OTP_CODE_TTL_SECONDS = env_int("OTP_CODE_TTL_SECONDS", 5 * 60)
OTP_CODE_MAX_PER_PHONE_PER_HOUR = env_int("OTP_CODE_MAX_PER_PHONE_PER_HOUR", 5)
OTP_CODE_MIN_INTERVAL_SECONDS = env_int("OTP_CODE_MIN_INTERVAL_SECONDS", 60)
# Codes asked for from one client address an hour, whatever the numbers. One factory's Wi-Fi or a
# mobile carrier's shared address serves many workers signing in when a campaign opens.
OTP_CODE_MAX_PER_ADDRESS_PER_HOUR = env_int("OTP_CODE_MAX_PER_ADDRESS_PER_HOUR", 300)
# Join forms (QR code on a poster) sent from one address an hour: a join drive in a canteen sends
# many; each is still reviewed by a clerk.
GONGHUI_JOIN_SUBMISSIONS_PER_HOUR = env_int("GONGHUI_JOIN_SUBMISSIONS_PER_HOUR", 200)
OTP_CODE_MAX_ATTEMPTS = 5
SMS_BACKEND = os.environ.get("GONGHUI_SMS_BACKEND", "gonghui.accounts.sms.ConsoleSmsBackend")
# Demo only: a fixed code for one printed phone number so a visitor can sign in as a member.
GONGHUI_DEMO_MEMBER_PHONE = os.environ.get("GONGHUI_DEMO_MEMBER_PHONE", "")
GONGHUI_DEMO_MEMBER_CODE = os.environ.get("GONGHUI_DEMO_MEMBER_CODE", "")
OTP_TOTP_ISSUER = "gonghui"
# API tokens: the most a staff user may hold at once (revoked ones do not count). One per program
# that calls the API is the use; the cap bounds what a stolen session could mint.
GONGHUI_API_TOKENS_PER_USER = max(1, env_int("GONGHUI_API_TOKENS_PER_USER", 10))

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
# The project's catalogue first, then unfold's: django-unfold ships no translations, so its own
# strings (theme switch, filters, search, "Run", result counts...) live in a catalogue of their
# own that `makemessages` never rewrites (it writes only to the first path; a copy in the main
# catalogue would be dropped by --no-obsolete). Earlier paths win on a msgid both hold, and both
# win over the apps' catalogues (Django admin's included), so the project's wording decides.
# docs/architecture.md ("Translations") says how to refresh it when unfold is upgraded.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_unfold"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("GONGHUI_STATIC_ROOT") or VAR_DIR / "static")
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
GONGHUI_IMPORT_MAX_BYTES = env_int("GONGHUI_IMPORT_MAX_BYTES", 200 * 1024 * 1024)
# Public address (scheme and host, e.g. https://gh.example.cn) printed in join QR codes; empty: the
# address the staff member's browser used.
GONGHUI_PUBLIC_BASE_URL = os.environ.get("GONGHUI_PUBLIC_BASE_URL", "")

# Security headers; the HTTPS ones are on unless explicitly switched off for plain-HTTP demos.
SECURE_HTTPS = env_bool("SECURE_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = SECURE_HTTPS
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_HSTS_SECONDS = 31536000 if SECURE_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HTTPS
SECURE_HSTS_PRELOAD = SECURE_HTTPS
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_PROXY", False) else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {"gonghui": {"level": os.environ.get("LOG_LEVEL", "INFO")}},
}

# Member benefits (vouchers).
GONGHUI_REDEMPTION_REVERSAL_MINUTES = env_int("GONGHUI_REDEMPTION_REVERSAL_MINUTES", 30)
# PostgreSQL: how many voucher scans that arrive at the same moment in one server process may
# share one statement (1: every scan is its own statement).
GONGHUI_SCAN_BATCH = max(1, env_int("GONGHUI_SCAN_BATCH", 32))
# Scans of codes that pass the check digit but are no voucher of the clerk's merchant: past this
# many in the window a clerk's scans pause for the window (someone is guessing codes).
GONGHUI_SCAN_UNKNOWN_PER_CLERK = env_int("GONGHUI_SCAN_UNKNOWN_PER_CLERK", 30)
GONGHUI_SCAN_UNKNOWN_WINDOW_SECONDS = env_int("GONGHUI_SCAN_UNKNOWN_WINDOW_SECONDS", 3600)
# Grab rate limits: requests per window per member and per client address.
GONGHUI_GRAB_RATE_WINDOW_SECONDS = env_int("GONGHUI_GRAB_RATE_WINDOW_SECONDS", 10)
GONGHUI_GRAB_RATE_PER_MEMBER = env_int("GONGHUI_GRAB_RATE_PER_MEMBER", 10)
GONGHUI_GRAB_RATE_PER_ADDRESS = env_int("GONGHUI_GRAB_RATE_PER_ADDRESS", 3000)
# Redis fast path in front of the grab (only with REDIS_URL; the database stays authoritative).
GONGHUI_GRAB_FASTPATH = env_bool("GONGHUI_GRAB_FASTPATH", bool(REDIS_URL))
# Objections to a settlement's public notice from one address an hour.
GONGHUI_OBJECTIONS_PER_ADDRESS = env_int("GONGHUI_OBJECTIONS_PER_ADDRESS", 5)
# Member imports: files at least this big are parsed in a separate worker process.
GONGHUI_IMPORT_WORKER_MIN_BYTES = env_int("GONGHUI_IMPORT_WORKER_MIN_BYTES", 2 * 1024 * 1024)
# Sessions: database by default; "django.contrib.sessions.backends.cache" with Redis, or
# signed cookies, keep a flash sale from writing a session row per request.
SESSION_ENGINE = os.environ.get("GONGHUI_SESSION_ENGINE", "django.contrib.sessions.backends.db")

NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_LIMIT = 500
NINJA_PAGINATION_CLASS = "gonghui.core.api_paging.Pagination"

from gonghui.admin_theme import UNFOLD  # noqa: E402,F401
