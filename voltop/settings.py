"""Voltop settings, every one read from the environment (see .env.example and README.md)."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.urls import reverse_lazy

from voltop.core.log_config import log_config
from voltop.core.login_failures import login_failure_rate_parse

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "voltop-local-development-only-" + "x" * 40

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "unfold.apps.BasicAppConfig",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "voltop.core.admin_site.VoltopAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_countries",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "pgtrigger",
    "pghistory",
    "voltop.core",
    "apps.fleets",
    "apps.drivers",
    "apps.vehicles",
    "apps.charging",
    "apps.payments",
    "apps.exports",
    "apps.ocpp",
    "apps.demo",
    "apps.dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "apps.fleets.middleware.TwoFactorRequiredMiddleware",
    "voltop.core.history.HistoryContextMiddleware",
    "apps.fleets.middleware.FleetTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "voltop.urls"
WSGI_APPLICATION = "voltop.wsgi.application"
ASGI_APPLICATION = "voltop.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'voltop.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Dates and times in the admin: day month year, the time in the fleet's zone with its UTC offset.
FORMAT_MODULE_PATH = ["voltop.formats"]

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
EXPORT_STORAGE_BACKEND = env.str("EXPORT_STORAGE_BACKEND", default="")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
    # Finance's export files built in the background: under MEDIA_ROOT/exports, or in any
    # Django storage backend (django-storages' S3 or Azure ones, say) named by
    # EXPORT_STORAGE_BACKEND with its options as JSON in EXPORT_STORAGE_OPTIONS.
    "exports": {
        "BACKEND": EXPORT_STORAGE_BACKEND,
        "OPTIONS": env.json("EXPORT_STORAGE_OPTIONS", default={}),
    }
    if EXPORT_STORAGE_BACKEND
    else {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(Path(str(MEDIA_ROOT)) / "exports")},
    },
}

# Finance exports: up to this many rows a download streams at once (CSV, OCPI) or is built
# while the browser waits (XLSX); above, a Celery task builds the file and keeps it this many
# days for download.
EXPORT_STREAM_MAX_ROWS = env.int("EXPORT_STREAM_MAX_ROWS", default=200_000)
EXPORT_XLSX_INLINE_MAX_ROWS = env.int("EXPORT_XLSX_INLINE_MAX_ROWS", default=20_000)
EXPORT_FILE_DAYS = env.int("EXPORT_FILE_DAYS", default=7)
EXPORT_PROGRESS_ROWS = env.int("EXPORT_PROGRESS_ROWS", default=10_000)

# Security: strict unless DEBUG. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=true.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Proxies in front of Voltop that append the client's address to X-Forwarded-For. The login
# throttles and lockout read the client's address through them only (voltop.core.client_address).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.drivers.api.authentication.ActiveAccountJWTAuthentication",
        "apps.fleets.api.authentication.FleetApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "voltop.core.api.json_input.LimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "voltop.core.api.renderers.OrjsonRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "voltop.core.api.pagination.NumberedPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "voltop.core.api.filters.QueryFilterBackend",
        "voltop.core.api.filters.CompleteOrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "voltop.core.api.schema.VoltopAutoSchema",
    "EXCEPTION_HANDLER": "voltop.core.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["voltop.core.api.throttles.ClientScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"login": env("API_LOGIN_RATE", default="10/min")},
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=10)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=14)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Voltop API",
    "DESCRIPTION": (
        "The driver app and fleet integrations. Errors share one shape: "
        '{"type": …, "errors": [{"code", "detail", "attr"}]}. Money is a string with its '
        "currency beside it, energy integer Wh (and kWh as a string), times ISO 8601 with offset."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "InvoiceStatusEnum": "apps.payments.choices.InvoiceStatus",
        "ReimbursementStatusEnum": "apps.payments.choices.ReimbursementStatus",
        "SessionStatusEnum": "apps.charging.choices.SessionStatus",
        "DriverStatusEnum": "apps.drivers.choices.DriverStatus",
        "VehicleStatusEnum": "apps.vehicles.choices.VehicleStatus",
        "StationStatusEnum": "apps.charging.choices.StationStatus",
        "BillingRunStatusEnum": "apps.payments.choices.BillingRunStatus",
        "PaymentStatusEnum": "apps.payments.choices.PaymentStatus",
        "ConnectorStandardEnum": "apps.vehicles.choices.ConnectorStandard",
        "BillingPeriodEnum": "apps.fleets.choices.BillingPeriodKind",
        "ExportKindEnum": "apps.exports.choices.ExportKind",
        "TokenKindEnum": "apps.drivers.choices.TokenKind",
    },
}

# Shared state of the login throttles and lockouts: in Redis when REDIS_URL is set, so every
# worker process counts the same failures; in the process's own memory otherwise.
REDIS_URL = env("REDIS_URL", default="")
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "voltop",
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Failed logins: a login (username) is locked out from one client address for
# AXES_COOLOFF_MINUTES after AXES_FAILURE_LIMIT failed logins from that address. Others, and
# the same login from elsewhere, are not. The counts live where every process sees them: in
# Redis (the cache above) when REDIS_URL is set, else in the database.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = (
    "axes.handlers.cache.AxesCacheHandler"
    if REDIS_URL
    else "axes.handlers.database.AxesDatabaseHandler"
)
AXES_ENABLE_ADMIN = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "voltop.core.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "voltop.core.client_address.client_address"
AXES_VERBOSE = False
# Failed logins per username over every client address, against guessing spread across many
# addresses (voltop.core.login_failures): beyond this, logins with that username from new
# addresses are refused with 429 until the window ends; addresses it logged in from within
# LOGIN_KNOWN_ADDRESS_DAYS are let through. The account itself is never locked.
LOGIN_KNOWN_ADDRESS_DAYS = env.int("LOGIN_KNOWN_ADDRESS_DAYS", default=30)
LOGIN_FAILURES_PER_USERNAME_RATE = env("LOGIN_FAILURES_PER_USERNAME_RATE", default="50/hour")
try:
    login_failure_rate_parse(LOGIN_FAILURES_PER_USERNAME_RATE)
except ValueError as error:
    raise ImproperlyConfigured(f"LOGIN_FAILURES_PER_USERNAME_RATE: {error}") from error
IDEMPOTENCY_KEEP_HOURS = env.int("IDEMPOTENCY_KEEP_HOURS", default=48)

# JSON from outside (API bodies, uploaded and imported files) is refused above this size in
# bytes or nested deeper than this many arrays and objects (voltop/core/json_input.py).
JSON_MAX_BYTES = env.int("JSON_MAX_BYTES", default=10 * 1024 * 1024)
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=64)

# The OCPP 1.6J gateway (manage.py ocpp_gateway). Chargers are told to send a heartbeat every
# OCPP_HEARTBEAT_SECONDS; one silent for OCPP_OFFLINE_AFTER_SECONDS is disconnected and shown
# offline. A call to a charger fails after OCPP_CALL_TIMEOUT_SECONDS without an answer.
OCPP_HEARTBEAT_SECONDS = env.int("OCPP_HEARTBEAT_SECONDS", default=300)
OCPP_OFFLINE_AFTER_SECONDS = env.int(
    "OCPP_OFFLINE_AFTER_SECONDS", default=2 * OCPP_HEARTBEAT_SECONDS + 60
)
OCPP_CALL_TIMEOUT_SECONDS = env.float("OCPP_CALL_TIMEOUT_SECONDS", default=30)
# The gateway pings each charger's WebSocket this often and drops one that has not answered
# within as long again (0: no pings). A charger's own pings and its heartbeats keep the
# connection busy too; a ping every 20 s, the websockets default, made 250 frames a second
# for 5,000 chargers.
OCPP_PING_SECONDS = env.float("OCPP_PING_SECONDS", default=60)
# TLS for chargers' connections. In production (DEBUG off) the gateway serves wss:// with
# this certificate and key, or OCPP_BEHIND_TLS_PROXY=true says a proxy terminates TLS in front
# of it; otherwise it refuses to start.
OCPP_TLS_CERTFILE = env("OCPP_TLS_CERTFILE", default="")
OCPP_TLS_KEYFILE = env("OCPP_TLS_KEYFILE", default="")
OCPP_BEHIND_TLS_PROXY = env.bool("OCPP_BEHIND_TLS_PROXY", default=False)
# Blocked tokens and suspended drivers reach connected chargers within this many seconds
# (a differential SendLocalList, or ClearCache for chargers without a local list); 0: never.
OCPP_TAG_SYNC_SECONDS = env.float("OCPP_TAG_SYNC_SECONDS", default=2)
# Chargers whose identity no fleet knows are refused at the handshake; with this on they are
# held pending instead (BootNotification answered Pending every OCPP_PENDING_BOOT_SECONDS)
# until a superuser assigns them to a fleet in the admin.
OCPP_HOLD_UNKNOWN_STATIONS = env.bool("OCPP_HOLD_UNKNOWN_STATIONS", default=False)
OCPP_PENDING_BOOT_SECONDS = env.int("OCPP_PENDING_BOOT_SECONDS", default=60)
# Overload is refused politely (HTTP 429 with Retry-After) beyond this many connected chargers,
# this many chargers' passwords being checked at once, or this many service calls waiting for
# a database thread (a batch of messages is one call): chargers already in are answered first.
# A charger waiting for its password check costs nothing meanwhile, and one refused costs a
# handshake each time it comes back: at 64 at once, 5,000 chargers connecting were refused
# 58,881 times (bench/ocpp.py).
OCPP_MAX_CONNECTIONS = env.int("OCPP_MAX_CONNECTIONS", default=20_000)
OCPP_MAX_HANDSHAKES_AT_ONCE = env.int("OCPP_MAX_HANDSHAKES_AT_ONCE", default=512)
OCPP_MAX_DATABASE_BACKLOG = env.int("OCPP_MAX_DATABASE_BACKLOG", default=100)
# The gateway runs its services on threads of its own process (0), or in this many worker
# processes on PostgreSQL, beside its event loop. On 2 cores (bench/ocpp.py, 5,000 chargers)
# processes halved the steady reply p99 but stored fewer CALLs a second, for twice the memory.
OCPP_DATABASE_PROCESSES = env.int("OCPP_DATABASE_PROCESSES", default=0)
# Whether the ocpp library checks each message against its schema on a thread of its own
# (true, the library's default) or on the gateway's event loop (false). A check takes about
# 0.1 ms and holds the GIL either way; handing it to a thread and back twice a message cost
# the gateway more than the checks themselves (bench/ocpp.py --async-validation measures it).
OCPP_ASYNC_VALIDATION = env.bool("OCPP_ASYNC_VALIDATION", default=False)
# Every OCPP frame is kept this many days for the station's admin page.
OCPP_MESSAGE_KEEP_DAYS = env.int("OCPP_MESSAGE_KEEP_DAYS", default=7)

# Celery. Without REDIS_URL tasks run eagerly in-process (logged once at start).
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "price-unpriced-charging-sessions": {
        "task": "apps.charging.tasks.price_unpriced_charging_sessions",
        "schedule": crontab(minute=50),
    },
    "start-due-billing-runs": {
        "task": "apps.payments.tasks.start_due_billing_runs",
        "schedule": crontab(minute=5),
    },
    "send-unsent-invoice-emails": {
        "task": "apps.payments.tasks.send_unsent_invoice_emails",
        "schedule": crontab(minute=20),
    },
    "expire-export-files": {
        "task": "apps.exports.tasks.expire_export_files",
        "schedule": crontab(minute=40),
    },
    "prune-charger-messages": {
        "task": "apps.charging.tasks.prune_charger_messages",
        "schedule": crontab(minute=45, hour=3),
    },
    "purge-idempotency-records": {
        "task": "voltop.core.tasks.purge_idempotency_records",
        "schedule": crontab(minute=35, hour=3),
    },
}

# Billing: a run bills its drivers in units of this many, with this many units at once.
BILLING_UNIT_DRIVERS = env.int("BILLING_UNIT_DRIVERS", default=200)
BILLING_PARALLEL_UNITS = env.int("BILLING_PARALLEL_UNITS", default=4)

# Imports of public sessions: a file with more rows than this is imported by a Celery task.
IMPORT_INLINE_MAX_ROWS = env.int("IMPORT_INLINE_MAX_ROWS", default=500)

# Invitations to a fleet's team: their link works this many days. Links in e-mails sent outside
# a request (commands, tasks) start with PUBLIC_URL, the address people reach Voltop at.
INVITATION_DAYS = env.int("INVITATION_DAYS", default=7)
PUBLIC_URL = env("PUBLIC_URL", default="http://localhost:8000").rstrip("/")

# E-mail (invoices to drivers): printed to the console unless EMAIL_URL names a server.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = EMAIL_CONFIG["EMAIL_BACKEND"]
EMAIL_HOST = EMAIL_CONFIG.get("EMAIL_HOST", "localhost")
EMAIL_PORT = EMAIL_CONFIG.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = EMAIL_CONFIG.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = EMAIL_CONFIG.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = EMAIL_CONFIG.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = EMAIL_CONFIG.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="billing@voltop.localhost")

# Tests: fail instead of skip when PostgreSQL or Redis is missing.
VOLTOP_REQUIRE_SERVICES = env.bool("VOLTOP_REQUIRE_SERVICES", default=False)

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_FORMAT = env("LOG_FORMAT", default="text" if DEBUG else "json")
try:
    LOGGING = log_config(level=LOG_LEVEL, log_format=LOG_FORMAT)
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from error

# The admin's theme (django-unfold): the sidebar groups pages by the task they serve, and the
# first page is the dashboard of the manager's fleet (apps.dashboard).
UNFOLD = {
    "SITE_TITLE": "Voltop",
    "SITE_HEADER": "Voltop",
    "SITE_SUBHEADER": "Fleet administration",
    "SITE_SYMBOL": "bolt",
    "SITE_URL": "/",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "apps.dashboard.views.dashboard_context",
    "LOGIN": {"form": "voltop.core.admin_forms.AdminLoginForm"},
    "ACCOUNT": {
        "navigation": [
            {"title": "Two-factor login", "link": reverse_lazy("two-factor-setup")},
        ]
    },
    "STYLES": [lambda request: static("voltop/admin.css")],
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "apps.dashboard.navigation.sidebar_navigation",
    },
}

# History of changes (django-pghistory): database triggers record who changed what on the
# tracked models; on SQLite no trigger runs and nothing is recorded (README, "Audit trail").
PGHISTORY_MIDDLEWARE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
PGHISTORY_APPEND_ONLY = True

# Two-factor logins (django-otp, TOTP): the issuer name authenticator apps show.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Voltop")
