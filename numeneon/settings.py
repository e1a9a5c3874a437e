"""NUMENEON settings: one module, driven by environment variables.

With nothing set it serves a laptop (SQLite, in-memory channel layer); `DATABASE_URL` and
`REDIS_URL` switch to PostgreSQL and Redis. See the README for every variable.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from numeneon.env import envbool, envfloat, envint, envlist, envstr
from numeneon.gctune import parse_threshold as parse_gc_threshold
from numeneon.limits import MAX_REQUEST_BODY_BYTES
from numeneon.openapi_description import API_DESCRIPTION
from numeneon.redisconf import channel_layer_host, channel_layers

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = envbool("DEBUG", False)

SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (set DEBUG=1 for local development)."
        )
    # Only ever used with DEBUG on; tokens signed with it are worthless elsewhere.
    SECRET_KEY = "django-insecure-numeneon-local-development-only"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if envstr("RENDER_EXTERNAL_HOSTNAME"):
    ALLOWED_HOSTS.append(envstr("RENDER_EXTERNAL_HOSTNAME"))

# --- HTTPS (production: TLS ends at Render's proxy, which sets X-Forwarded-Proto) ----------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    # The platform's health probe speaks plain HTTP inside the private network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a decision about a whole domain that this service may not own
        # (e.g. *.onrender.com); opt in with SECURE_HSTS_PRELOAD=1.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework_simplejwt.token_blacklist",
    "channels",
    "accounts",
    "friends",
    "messages_app",
    "notifications",
    "web",
]

# numeneon.server refuses a larger body, declared or chunked, before it is buffered.
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

MIDDLEWARE = [
    "numeneon.middleware.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "numeneon.middleware.RejectNulCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "numeneon.urls"
ASGI_APPLICATION = "numeneon.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# CONN_MAX_AGE stays 0 (persistent connections leak under Daphne's thread pool); PostgreSQL
# connections come from a pool instead.
DATABASE_URL = envstr("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and envbool(
        "DATABASE_POOL", True
    ):
        # Django's native psycopg pool: no connection set up per request, and none leaked.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": envint("DATABASE_POOL_MIN_SIZE", 2),
            "max_size": envint("DATABASE_POOL_MAX_SIZE", 20),
            "timeout": envfloat("DATABASE_POOL_TIMEOUT", 10.0),
        }
    if envstr("DATABASE_TEST_NAME"):
        # Lets two test runs share one PostgreSQL server without dropping each other's DB.
        DATABASES["default"]["TEST"] = {"NAME": envstr("DATABASE_TEST_NAME")}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": envstr("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Daphne serves requests from a thread pool: take the write lock up front and wait for
    # it, instead of failing with "database is locked" on a lock upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not memory, so that a Daphne started by the end-to-end tests sees it too.
    DATABASES["default"]["TEST"] = {
        "NAME": envstr("SQLITE_TEST_PATH", str(BASE_DIR / "test-db.sqlite3"))
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Tests set a fast hasher here; production keeps Django's defaults (PBKDF2 first).
_HASHERS = envlist("PASSWORD_HASHERS", [])
if _HASHERS:
    PASSWORD_HASHERS = _HASHERS

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# WhiteNoise warns on every request while collectstatic has not made the folder yet.
with contextlib.suppress(OSError):
    STATIC_ROOT.mkdir(exist_ok=True)
# The JavaScript client is served as /static/numeneon-realtime.js.
STATICFILES_DIRS = [BASE_DIR / "clients"]
# Serve straight from the app and client folders: no collectstatic needed to run.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["numeneon.parsers.StrictJSONParser"],
    "EXCEPTION_HANDLER": "numeneon.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["numeneon.throttling.ScopedThrottle"],
    # Per client IP means REMOTE_ADDR, set by numeneon.clientaddr; never a header DRF reads.
    "NUM_PROXIES": 0,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# Per client IP for signup and login, per user otherwise ("N/second|minute|hour|day").
THROTTLE_ENABLED = envbool("THROTTLE_ENABLED", True)
THROTTLE_RATES = {
    "signup": envstr("THROTTLE_SIGNUP", "20/hour"),
    "login": envstr("THROTTLE_LOGIN", "20/minute"),
    "ws_ticket": envstr("THROTTLE_WS_TICKET", "120/minute"),
    "message_send": envstr("THROTTLE_MESSAGE_SEND", "1200/minute"),
}

# Off: a refresh answers the refresh token it was given, which works until it expires or its
# login session ends (the NUMENEON web app keeps the one it got at login). On: each refresh
# token works once and the answer carries its successor, for clients that store the new one.
STRICT_REFRESH_ROTATION = envbool("STRICT_REFRESH_ROTATION", False)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=envint("ACCESS_TOKEN_LIFETIME_SECONDS", 15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=envint("REFRESH_TOKEN_LIFETIME_SECONDS", 7 * 24 * 3600)
    ),
    "ROTATE_REFRESH_TOKENS": STRICT_REFRESH_ROTATION,
    "BLACKLIST_AFTER_ROTATION": STRICT_REFRESH_ROTATION,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": envstr("JWT_SIGNING_KEY") or SECRET_KEY,
    "AUTH_TOKEN_CLASSES": ["accounts.tokens.AccessToken"],
    "ALGORITHM": "HS256",
}

# --- OpenAPI (drf-spectacular): /api/schema/ and Swagger UI at /api/docs/ ----------------
SPECTACULAR_SETTINGS = {
    "TITLE": "NUMENEON real-time backend",
    "DESCRIPTION": API_DESCRIPTION,
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's assets come from drf-spectacular-sidecar through WhiteNoise: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Path ids (numeneon.fields.IdConverter) are integers of at most 18 digits.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 1, "maximum": 999_999_999_999_999_999}
    },
}

# --- The client's address (numeneon.clientaddr): the entry of X-Forwarded-For that the
# farthest of TRUSTED_PROXY_COUNT proxies appended, when the peer is in a trusted network.
# Render's proxy is one hop, from a private address. No trusted network: the peer, always.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 1)
_PRIVATE_NETWORKS = "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7"
TRUSTED_PROXY_NETWORKS = envlist(
    "TRUSTED_PROXY_NETWORKS", [*_PRIVATE_NETWORKS.split(","), "127.0.0.0/8", "::1/128"]
)

# --- Web Push (notifications.webpush): VAPID keys from `manage.py generate_vapid_keys`. Without
# both keys push is off, and GET /api/notifications/vapid-public-key/ says so (503).
VAPID_PUBLIC_KEY = envstr("VAPID_PUBLIC_KEY")
VAPID_PRIVATE_KEY = envstr("VAPID_PRIVATE_KEY")
VAPID_SUBJECT = envstr("VAPID_SUBJECT", "mailto:admin@numeneon.invalid")
WEB_PUSH_ENABLED = bool(VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY)
# Push endpoints must be https on a public host; these hosts (a test's local stand-in of a
# push service, "127.0.0.1:8443") are let through.
PUSH_ALLOWED_HOSTS = envlist("PUSH_ALLOWED_HOSTS", [])
# The push worker (manage.py push_worker): how long a push waits for a device (its TTL), the
# first retry's delay (doubled each time, at most an hour, never below a Retry-After), how often
# an idle worker looks for work, and a CA bundle to trust instead of certifi's (tests' stand-in).
PUSH_TTL_SECONDS = envint("PUSH_TTL_SECONDS", 86400)
PUSH_RETRY_BASE_SECONDS = envfloat("PUSH_RETRY_BASE_SECONDS", 10.0)
PUSH_POLL_SECONDS = envfloat("PUSH_POLL_SECONDS", 1.0)
# How long one POST to a push service may take; a claim twice as old (plus 5 s) belongs to a
# worker that died mid-send and is dropped, not sent again.
PUSH_SEND_TIMEOUT_SECONDS = envfloat("PUSH_SEND_TIMEOUT_SECONDS", 10.0)
PUSH_TLS_CA_FILE = envstr("PUSH_TLS_CA_FILE")

# --- Content-Security-Policy (django-csp), on every answer: the demo page runs only its own
# files and talks only to this origin (its socket included); avatars are https images of any
# host. Nothing may frame a page of ours. The API docs page adds its inline style.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "https:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- CORS and WebSocket origins -------------------------------------------------------------
_DEV_ORIGINS = ["http://localhost:5173", "http://localhost:4173"]
CORS_ALLOWED_ORIGINS = envlist("CORS_ALLOWED_ORIGINS", _DEV_ORIGINS if DEBUG else [])

# --- Channel layer --------------------------------------------------------------------------
REDIS_URL = envstr("REDIS_URL")
CHANNEL_LAYER_PREFIX = envstr("CHANNEL_LAYER_PREFIX", "numeneon")
# `pubsub` (RedisPubSubChannelLayer, the default) or `core` (RedisChannelLayer). Pubsub sends
# to a group with one PUBLISH that Redis pushes to the subscribed processes, where core writes
# a copy to every member channel for its process to pop: pubsub is the default because it
# fans out further without a latency tail (docs/PERFORMANCE.md compares the two).
CHANNEL_LAYER = envstr("CHANNEL_LAYER", "pubsub")
# core layer: channels-redis forgets group membership this long after group_add; it must not
# be shorter than the longest a socket may stay open (Daphne's --websocket_timeout, 86,400 s
# by default). The consumer re-joins every third of it.
CHANNEL_LAYER_GROUP_EXPIRY = envint("CHANNEL_LAYER_GROUP_EXPIRY", 86400)
CHANNEL_LAYER_CORE_OPTIONS = {
    # One inbox per server process: capacity covers every socket of the process.
    "capacity": envint("CHANNEL_LAYER_CAPACITY", 10000),
    "expiry": envint("CHANNEL_LAYER_EXPIRY", 60),
    "group_expiry": CHANNEL_LAYER_GROUP_EXPIRY,
}
# pubsub layer: how often a process checks that Redis answers (notifications.layerwatch).
CHANNEL_LAYER_PING_SECONDS = envfloat("CHANNEL_LAYER_PING_SECONDS", 1.0)
REDIS_SENTINELS = envlist("REDIS_SENTINELS", [])
if REDIS_URL or REDIS_SENTINELS:
    CHANNEL_LAYERS = channel_layers(
        kind=CHANNEL_LAYER,
        host=channel_layer_host(
            url=REDIS_URL,
            sentinels=REDIS_SENTINELS,
            sentinel_master=envstr("REDIS_SENTINEL_MASTER"),
            socket_timeout=envfloat("REDIS_SOCKET_TIMEOUT", 30.0),
            max_connections=envint("REDIS_MAX_CONNECTIONS", 1000),
        ),
        prefix=CHANNEL_LAYER_PREFIX,
        core_options=CHANNEL_LAYER_CORE_OPTIONS,
    )
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Cache (throttle counters): shared by every process when Redis is configured ---------
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"{CHANNEL_LAYER_PREFIX}:cache",
            "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Garbage collector (numeneon.gctune says why these defaults) ---------------------------
GC_FREEZE_AFTER_STARTUP = envbool("GC_FREEZE_AFTER_STARTUP", True)
GC_THRESHOLD = parse_gc_threshold(envstr("GC_THRESHOLD", "5000,10,100"))

# --- WebSocket limits -----------------------------------------------------------------------
# One socket more than this closes the user's oldest with 4009.
WEBSOCKET_MAX_SOCKETS_PER_USER = envint("WEBSOCKET_MAX_SOCKETS_PER_USER", 20)

# --- Logging --------------------------------------------------------------------------------
LOG_FORMAT = envstr("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "numeneon.logfmt.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "numeneon.logfmt.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    # Django's own console handler would print every request warning a second time, and its
    # "Not Found: /path" lines repeat what numeneon.access says.
    "loggers": {
        "django": {"handlers": [], "propagate": True},
        "django.request": {"level": "ERROR"},
    },
}
