"""Gatehouse settings: one module, read from the environment (see docs/configuration.md)."""

import os
import re
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from accounts import keys  # Key parsing only (no models): lets a start without a signing key fail here.
from project.logging import FORMATTERS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV={DJANGO_ENV!r} is not valid: set it to 'development' or 'production'.")
PRODUCTION = DJANGO_ENV == "production"
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# How tokens are signed (docs/tokens.md#signing-keys): a key pair in production, a shared secret in development.
JWT_ALGORITHM = env.str("JWT_ALGORITHM", default="EdDSA" if PRODUCTION else "HS256")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG=1 with DJANGO_ENV=production would show tracebacks and settings to anyone: unset DJANGO_DEBUG."
    )


def _required(name: str, hint: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} is not set. DJANGO_ENV=production refuses to start without it: {hint}")
    return value


def _dev_secret(name: str) -> str:
    """A random secret generated once into var/ (git-ignored), so restarts keep sessions."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = _required(
        "SECRET_KEY",
        "set it to a long random string, e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))'.",
    )
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
    if not ALLOWED_HOSTS:
        _required("ALLOWED_HOSTS", "set it to the comma-separated host names the API is served on.")
    if JWT_ALGORITHM == keys.HMAC_ALGORITHM:
        JWT_SIGNING_KEY = _required(
            "JWT_SIGNING_KEY",
            "JWT_ALGORITHM=HS256 signs tokens with it. Set it to a long random string, different from SECRET_KEY "
            "(python -c 'import secrets; print(secrets.token_urlsafe(64))'), or unset JWT_ALGORITHM to sign "
            "with an EdDSA key pair instead.",
        )
    else:
        JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="")  # Unused: a key pair signs.
    if JWT_SIGNING_KEY and JWT_SIGNING_KEY == SECRET_KEY:
        raise ImproperlyConfigured("JWT_SIGNING_KEY must differ from SECRET_KEY: generate a new one.")
    if JWT_ALGORITHM == keys.HMAC_ALGORITHM and len(JWT_SIGNING_KEY) < 32:
        raise ImproperlyConfigured(
            "JWT_SIGNING_KEY is too short to be a secure HMAC key: use at least 32 random characters "
            "(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
        )
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _dev_secret("secret_key")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
    JWT_SIGNING_KEY = env.str("JWT_SIGNING_KEY", default="") or _dev_secret("jwt_signing_key")

# Old keys still accepted for signed cookies and password-reset links while you rotate SECRET_KEY.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "django_filters",
    "rest_framework",
    "rest_framework_simplejwt",
    "guardian",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "api",
]

MIDDLEWARE = [
    "project.middleware.RequestIDMiddleware",
    "project.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "project.middleware.BodySizeLimitMiddleware",
    "project.query_params.DeclaredQueryParamsMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "project.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "project.middleware.APISlashMiddleware",  # CommonMiddleware; no slash redirects under /api/.
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "project.throttling.RateLimitHeadersMiddleware",
    "axes.middleware.AxesMiddleware",
    "accounts.mfa_enforcement.MfaEnrolmentRequiredMiddleware",  # MFA_REQUIRED_FOR_ROLES; no-op when empty.
    # Last: its process_view runs the view itself (in one transaction with the stored answer).
    "project.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Our overrides of library templates: the browsable API without inline script (CSP).
        "DIRS": [BASE_DIR / "project" / "templates"],
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

# Database: persistent connections with health checks (a new connection per request costs
# ~14% of a simple authenticated request).
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.int("DB_POOL_MAX", default=4) > 0:
    # A connection pool per worker process (psycopg_pool), shared by its threads: connections stay
    # open across requests, and a request that finds them all busy waits up to DB_POOL_TIMEOUT
    # seconds for one, then gets a 503 (project/problems.py), instead of failing at once when
    # PostgreSQL has no slot left. Pooled connections are the persistent ones: CONN_MAX_AGE must be 0.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN", default=1),
        "max_size": env.int("DB_POOL_MAX", default=4),
        "timeout": env.float("DB_POOL_TIMEOUT", default=5.0),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # Tests use a file too: an in-memory database shares one cache and fails concurrent writers
    # with "table is locked" instead of waiting, unlike the file the service runs on.
    # One file per test run, so that parallel runs never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: shared by every worker. Redis when REDIS_URL is set; otherwise the database cache,
# which still works across processes on one machine.
REDIS_URL = env.str("REDIS_URL", default="")
# Parallel test workers (pytest-xdist) share one Redis: each gets keys of its own.
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="gatehouse") + env.str("PYTEST_XDIST_WORKER", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            # Short: a frozen Redis costs each call its timeout until the breaker opens
            # (project/breaker.py); a healthy one answers in well under a millisecond.
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.1),
                "SOCKET_TIMEOUT": env.float("REDIS_TIMEOUT", default=0.1),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "gatehouse_cache",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
        }
    }

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # First: refuses locked-out attempts.
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "display_name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Brute-force lockout (django-axes, accounts/lockout.py): after AXES_FAILURE_LIMIT failed
# sign-ins for one email, or from one client IP, at any of the three sign-in doors (API, admin,
# browsable API), attempts are refused for the cool-off time, which restarts with every attempt
# made during it. No permanent lockout.
AXES_FAILURE_LIMIT = env.int("LOCKOUT_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOCKOUT_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "accounts.lockout.username_from_request"
AXES_CLIENT_IP_CALLABLE = "project.clients.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# axes' database handler with one query per check and no write on a clean success.
AXES_HANDLER = "accounts.lockout.LockoutHandler"
# Off: axes would clear every account's failures from the signing-in IP. A success clears only its
# own account's failures (accounts.signals.clear_own_failures).
AXES_RESET_ON_SUCCESS = False
AXES_DISABLE_ACCESS_LOG = True  # Successful sign-ins are in the audit trail (SecurityEvent).
AXES_VERBOSE = False

# The browsable API's sign-in (/api-auth/login/) without `next` lands on the API root.
LOGIN_REDIRECT_URL = "/api/v1/"

REGISTRATION_OPEN = env.bool("REGISTRATION_OPEN", default=not PRODUCTION)
# The role a self-registered user gets: viewer, editor, or empty for none. Never admin.
REGISTRATION_ROLE = env.str("REGISTRATION_ROLE", default="editor")
if REGISTRATION_ROLE not in {"", "viewer", "editor"}:
    raise ImproperlyConfigured(
        f"REGISTRATION_ROLE={REGISTRATION_ROLE!r}: use viewer, editor or an empty value (never admin)."
    )

# Email (docs/recovery.md): password reset, email verification and email change send mail.
# EMAIL_URL names the backend django-environ style: smtp:// (plain), smtp+tls:// (STARTTLS, port
# 587), smtp+ssl:// (implicit TLS, port 465), console:// (prints each mail: the development
# default), locmem:// and dummy:// (tests, fuzzing). Production refuses to start without a real
# backend while a feature that sends mail is on.
PASSWORD_RESET_ENABLED = env.bool("PASSWORD_RESET_ENABLED", default=True)
EMAIL_CHANGE_ENABLED = env.bool("EMAIL_CHANGE_ENABLED", default=True)
# Unverified self-registered accounts cannot sign in (problem `email_unverified`). Accounts made
# by an operator, and those that existed before verification did, count as verified.
REGISTRATION_REQUIRES_VERIFICATION = env.bool("REGISTRATION_REQUIRES_VERIFICATION", default=PRODUCTION)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_MINUTES", default=30) * 60  # Django's name, in seconds.
EMAIL_CONFIRMATION_TIMEOUT = env.int("EMAIL_CONFIRMATION_TIMEOUT_HOURS", default=24) * 3600
PRODUCT_NAME = env.str("PRODUCT_NAME", default="Gatehouse")
EMAIL_ALIASES = {"console": "consolemail", "locmem": "memorymail", "dummy": "dummymail"}
MAIL_FEATURES = {
    "PASSWORD_RESET_ENABLED": PASSWORD_RESET_ENABLED,
    "EMAIL_CHANGE_ENABLED": EMAIL_CHANGE_ENABLED,
    "REGISTRATION_OPEN": REGISTRATION_OPEN,  # Registration sends the verification link.
}
SENDS_MAIL = any(MAIL_FEATURES.values())
_email_url = env.str("EMAIL_URL", default="" if PRODUCTION else "console://")
if PRODUCTION and SENDS_MAIL and not _email_url.startswith(("smtp://", "smtp+tls://", "smtp+ssl://", "smtps://")):
    _on = ", ".join(f"{name}=1" for name, value in MAIL_FEATURES.items() if value)
    _what = f"EMAIL_URL={_email_url!r} cannot deliver mail" if _email_url else "EMAIL_URL is not set"
    raise ImproperlyConfigured(
        f"{_what}, and {_on} sends account mail. Set EMAIL_URL to your mail server, "
        "e.g. smtp+tls://user:password@smtp.example.com:587 (docs/configuration.md#email), or turn those "
        "features off (PASSWORD_RESET_ENABLED=0, EMAIL_CHANGE_ENABLED=0, REGISTRATION_OPEN=0)."
    )
_scheme, _sep, _rest = (_email_url or "dummy://").partition("://")
try:
    globals().update(environ.Env.email_url_config(f"{EMAIL_ALIASES.get(_scheme, _scheme)}{_sep}{_rest}"))
except ImproperlyConfigured:
    raise ImproperlyConfigured(
        f"EMAIL_URL scheme {_scheme!r} is not known: use smtp://, smtp+tls://, smtp+ssl://, console://, locmem:// "
        "or dummy://."
    ) from None
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
if PRODUCTION and SENDS_MAIL:
    DEFAULT_FROM_EMAIL = _required(
        "DEFAULT_FROM_EMAIL", "the sender of account mail, e.g. Gatehouse <no-reply@example.com>."
    )
    FRONTEND_URL = _required(
        "FRONTEND_URL", "the https:// address of the app that opens the links in account mail (docs/recovery.md)."
    )
    if not FRONTEND_URL.startswith("https://"):
        raise ImproperlyConfigured(f"FRONTEND_URL={FRONTEND_URL!r}: links in account mail must use https://.")
else:
    DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{PRODUCT_NAME} <no-reply@localhost>")
    FRONTEND_URL = env.str("FRONTEND_URL", default="http://localhost:3000")
FRONTEND_URL = FRONTEND_URL.rstrip("/")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "project" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# How many reverse proxies you run in front of the app. 0: the client IP is the socket peer and
# X-Forwarded-For is ignored; N: the Nth address from the right in X-Forwarded-For.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Input limits. BodySizeLimitMiddleware answers 413 above API_MAX_BODY_BYTES.
# 2 MiB: a document body at its 100,000-character limit can take 1.2 MB as JSON \u escapes.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=20)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.SessionJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["project.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "project.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "project.schema.ProblemAutoSchema",
    "EXCEPTION_HANDLER": "project.problems.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "project.throttling.AnonRateThrottle",
        "project.throttling.UserRateThrottle",
        "project.throttling.WriteRateThrottle",
    ],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Signing keys. HS256 signs with JWT_SIGNING_KEY. EdDSA, ES256 and RS256 sign with the private key of
# a key ring kept out of the database: the JSON in JWT_PRIVATE_KEYS, else the file JWT_KEYS_FILE
# (mode 0600), which `manage.py rotate_signing_key` creates and rotates. No usable key: no start;
# only that command may run without one, since it makes the first.
JWT_KEYS_FILE = Path(env.str("JWT_KEYS_FILE", default=str(VAR_DIR / "jwt_keys.json")))
JWT_PRIVATE_KEYS = env.str("JWT_PRIVATE_KEYS", default="")
if sys.argv[1:2] != ["rotate_signing_key"]:
    try:
        keys.load_key_ring(
            algorithm=JWT_ALGORITHM, keys_file=JWT_KEYS_FILE, private_keys=JWT_PRIVATE_KEYS, hmac_secret=JWT_SIGNING_KEY
        )
    except keys.KeyRingError as exc:
        raise ImproperlyConfigured(f"No usable token signing key. {exc}") from None

# Rate limits per scope, "<count>/<second|minute|hour|day>" (project/throttling.py). Counted in Redis
# when REDIS_URL is set, else in this SQLite file of their own (project/counterfile.py), shared by the
# workers of one machine: never in the main database, so a GET writes nothing there.
RATE_LIMIT_FILE = Path(env.str("RATE_LIMIT_FILE", default=str(VAR_DIR / "ratelimit.sqlite3")))
RATE_LIMITS = {
    "anon": env.str("RATE_LIMIT_ANON", default="60/minute"),
    "user": env.str("RATE_LIMIT_USER", default="1200/minute"),
    "writes": env.str("RATE_LIMIT_WRITES", default="120/minute"),
    "sign_in": env.str("RATE_LIMIT_SIGN_IN", default="20/minute"),
    "refresh": env.str("RATE_LIMIT_REFRESH", default="60/minute"),
    "register": env.str("RATE_LIMIT_REGISTER", default="10/hour"),
    "lookup": env.str("RATE_LIMIT_LOOKUP", default="30/minute"),
    # Password reset, verification and email change: per client IP, and per email address asked about.
    "recovery": env.str("RATE_LIMIT_RECOVERY", default="30/hour"),
    "recovery_email": env.str("RATE_LIMIT_RECOVERY_EMAIL", default="5/hour"),
}

for _scope, _rate in RATE_LIMITS.items():
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", _rate.strip()):
        raise ImproperlyConfigured(
            f"RATE_LIMIT_{_scope.upper()}={_rate!r} is not a rate: use <count>/<second|minute|hour|day>, "
            "for example 60/minute."
        )

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_LIFETIME", default=300)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_LIFETIME", default=86400)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": False,  # Our session store (accounts.models) does revocation.
    "UPDATE_LAST_LOGIN": False,  # The sign-in serializer sends user_logged_in, which does it.
    # accounts.tokens signs and verifies with the key ring above. These two serve only simplejwt's
    # stock token classes; with a key pair they get a throwaway secret, so such a class refuses
    # every token rather than accept one signed with an empty or guessable key.
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY if JWT_ALGORITHM == keys.HMAC_ALGORITHM else secrets.token_urlsafe(64),
    "VERIFYING_KEY": "",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
    "AUTH_TOKEN_CLASSES": ("accounts.tokens.SessionAccessToken",),
    "TOKEN_OBTAIN_SERIALIZER": "accounts.serializers.TokenObtainSerializer",
    "TOKEN_REFRESH_SERIALIZER": "accounts.serializers.TokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": "accounts.serializers.TokenVerifySerializer",
    "LEEWAY": 0,
}

# A retry of the refresh token just rotated, within this many seconds, gets the same new pair
# instead of being treated as a replay (accounts/grace.py). 0 turns the window off.
REFRESH_GRACE_SECONDS = env.int("REFRESH_GRACE_SECONDS", default=5)
# Multi-factor sign-in (docs/mfa.md). The issuer names the account in authenticator apps; an
# mfa_token (the second sign-in step) lives MFA_TOKEN_LIFETIME seconds and survives at most
# MFA_TOKEN_MAX_ATTEMPTS wrong codes. Sensitive operations want a sign-in younger than
# STEP_UP_MAX_AGE seconds or a fresh code (accounts/stepup.py). Holders of a role in
# MFA_REQUIRED_FOR_ROLES (comma-separated: admin, editor, viewer) reach only enrolment until they enrol.
MFA_ISSUER = env.str("MFA_ISSUER", default="Gatehouse")
MFA_TOKEN_LIFETIME = env.int("MFA_TOKEN_LIFETIME", default=300)
MFA_TOKEN_MAX_ATTEMPTS = env.int("MFA_TOKEN_MAX_ATTEMPTS", default=5)
STEP_UP_MAX_AGE = env.int("STEP_UP_MAX_AGE", default=600)
MFA_REQUIRED_FOR_ROLES = [role.strip() for role in env.list("MFA_REQUIRED_FOR_ROLES", default=[]) if role.strip()]
if not set(MFA_REQUIRED_FOR_ROLES) <= {"viewer", "editor", "admin"}:
    raise ImproperlyConfigured(
        f"MFA_REQUIRED_FOR_ROLES={','.join(MFA_REQUIRED_FOR_ROLES)!r}: use role names (admin, editor, viewer), "
        "comma-separated, or leave it empty."
    )
for _name in ("MFA_TOKEN_LIFETIME", "MFA_TOKEN_MAX_ATTEMPTS", "STEP_UP_MAX_AGE"):
    if globals()[_name] <= 0:
        raise ImproperlyConfigured(f"{_name}={globals()[_name]} must be a positive number of seconds or attempts.")
# Ended sessions stay listed in the admin this long for investigation, then prune_tokens drops them.
SESSION_RETENTION_DAYS = env.int("SESSION_RETENTION_DAYS", default=30)

SPECTACULAR_SETTINGS = {
    "TITLE": "Gatehouse API",
    "DESCRIPTION": (
        "Secure-by-default REST API. Sign in at `POST /api/v1/auth/token/`, then send "
        "`Authorization: Bearer <access>`. Errors are RFC 9457 problem details.\n\n"
        f"Request bodies are JSON, at most {API_MAX_BODY_BYTES} bytes (larger ones are a 413 before "
        "they are read). Query values are at most 1000 characters, never contain NUL, and a parameter "
        "an operation does not declare is a 400. Every route ends with `/`: without it the answer is a "
        "404 problem naming the right URL, never a redirect.\n\n"
        "Operation ids are camelCase `<verb><Resource>` (`listProjects`, `getProject`, `createProject`, "
        "`updateProject`, `partialUpdateProject`, `deleteProject`), or the action's name where it is "
        "not one of those (`signIn`, `refreshTokens`, `shareProjectWithUser`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    # Named after what they list, so generated clients get one type per set of choices.
    "ENUM_NAME_OVERRIDES": {
        "SecurityEventType": "accounts.models.SecurityEvent.Type",
        "ProjectPermission": "api.selectors.PROJECT_PERMISSIONS",
        "RoleName": "accounts.roles.ROLES",
        "SigningAlgorithm": "accounts.keys.KEY_PAIR_ALGORITHMS",
        "JwkKeyType": ["OKP", "EC", "RSA"],
        "JwkUse": ["sig"],
    },
}

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "x-request-id"]
CORS_EXPOSE_HEADERS = [
    "x-request-id",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
]

# Security headers. HSTS, secure cookies and the HTTPS redirect in production.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # The browsable API reads the token from the cookie.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("USE_X_FORWARDED_PROTO", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "project.logging.RequestIDFilter"}},
    "formatters": FORMATTERS,
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # axes narrates each sign-in at INFO ("Successful login", "Cleaned up 0 expired attempts",
        # "Reset 0 attempts"): the audit trail records sign-ins, so only its warnings (failures,
        # lockouts) are kept.
        "axes": {"level": "WARNING"},
    },
}

GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None  # No guardian anonymous user: anonymous callers get nothing.
