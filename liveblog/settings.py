"""One settings file, driven by the environment (docs/settings.md).

With no environment at all it runs the demo: SQLite, the in-memory channel
layer and DEBUG on. Production sets DEBUG=0, SECRET_KEY, DATABASE_URL and
REDIS_URL.
"""

import hashlib
import os
import re
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
FLAG_ON = ("1", "true", "yes", "on")
FLAG_OFF = ("0", "false", "no", "off", "")


def env_flag(name, default):
    """An on/off setting. Anything else stops start-up: a mistyped DEBUG=flase must not quietly mean off."""
    value = os.environ.get(name, default).strip().lower()
    if value not in FLAG_ON + FLAG_OFF:
        raise ImproperlyConfigured(
            f"The environment variable {name}={os.environ[name]!r} is neither on nor off: "
            f"use {', '.join(FLAG_ON)} to turn it on, or {', '.join(filter(None, FLAG_OFF))} to turn it off."
        )
    return value in FLAG_ON


DEBUG = env_flag("DEBUG", "0")
DEVELOPMENT_SECRET_KEY = "django-insecure-liveblog-development-key-never-use-in-production"  # noqa: S105
SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]

INSTALLED_APPS = [
    # Daphne first: it gives `runserver` an ASGI server, so the demo serves WebSockets.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic.runserver_nostatic",
    "liveblog.apps.StaticFilesConfig",
    "django.contrib.sitemaps",
    "channels",
    "csp",
    "ckeditor",
    "ckeditor_uploader",
    "liveblog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "liveblog.middleware.hide_vendor_demos",
    "servestatic.middleware.ServeStaticMiddleware",
    # Readers' pages from the cache, before the session and auth machinery (liveblog/caching.py).
    "liveblog.caching.kept_pages",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "liveblog.urls"
ASGI_APPLICATION = "liveblog.asgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# Each server process compares its last handed-out event with the database this often (liveblog.fanout):
# the safety net under the channel layer's at-most-once delivery, and the demo's path for the scheduler.
LIVE_RECONCILE_SECONDS = float(os.environ.get("LIVE_RECONCILE_SECONDS", "2"))
# A server process's channel leaves the channel layer's group this long after it last re-joined: a process
# that died (SIGKILL, out of memory) stops receiving publications within it. Live processes re-join three
# times as often (liveblog.fanout). channels-redis's default is a day, during which every publication would
# queue a message for the dead and log "channels over capacity".
LIVE_GROUP_EXPIRY = int(os.environ.get("LIVE_GROUP_EXPIRY", "30"))
# Where readers' browsers open the live socket, when not on the page's own origin: `manage.py serve
# --socket-workers` serves sockets from a port of their own (liveblog/serving.py) and sets this for its
# processes. Empty: the page's own origin (a balancer routes /ws/live/ to the socket processes).
LIVE_SOCKET_ORIGIN = os.environ.get("LIVE_SOCKET_ORIGIN", "").strip().rstrip("/")
if LIVE_SOCKET_ORIGIN and not re.fullmatch(
    r"wss?://[A-Za-z0-9.\-]+(:\d{1,5})?|wss?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?", LIVE_SOCKET_ORIGIN
):
    raise ImproperlyConfigured(
        f"LIVE_SOCKET_ORIGIN={LIVE_SOCKET_ORIGIN!r} is not a WebSocket origin: write the scheme, host and "
        "port only, as wss://live.example.org or ws://127.0.0.1:8001 (no path), or leave it empty."
    )
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py reads with a 5 s socket timeout by default, exactly as long as channels-redis blocks
                # in BZPOPMIN: idle receivers then fail now and then. Reads get room beyond the block.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 3}],
                "prefix": os.environ.get("CHANNEL_PREFIX", "liveblog"),
                "group_expiry": LIVE_GROUP_EXPIRY,
            },
        }
    }
else:
    # One process only: the demo. Production sets REDIS_URL.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# What readers get is rendered once per change and kept here (liveblog/caching.py): in Redis when there is
# one, so every process and host shares it; otherwise in this process's memory (the demo).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}  # KEY_PREFIX: below, once the release fingerprint can be read
# Readers' requests read the column's validator and the kept page on a few shared threads (and database
# connections), not on a thread and connection per request (liveblog.caching.kept_pages).
READ_PAGES_IN_SHARED_POOL = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# Readers see GMT (docs/reading.md); the browser adds the relative time.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
# Serve MEDIA_ROOT from Django itself; turn off when a front server or CDN does it.
SERVE_MEDIA = env_flag("SERVE_MEDIA", "1")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "servestatic.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}


def release_fingerprint():
    """What a kept page is made of besides the database: the templates, the static files' hashed names and
    where live.js connects. Part of every cache key and validator, so a deploy or a setting that changes one
    of them never serves pages kept by the previous one, even for a column that did not change."""
    digest = hashlib.sha256(LIVE_SOCKET_ORIGIN.encode())
    for path in [*sorted((BASE_DIR / "templates").rglob("*")), STATIC_ROOT / "staticfiles.json"]:
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


RELEASE = release_fingerprint()  # also in readers' ETags (liveblog/caching.py)
CACHES["default"]["KEY_PREFIX"] = f"{os.environ.get('CHANNEL_PREFIX', 'liveblog')}:{RELEASE}"

# Uploads: the image guard (liveblog/images.py) refuses anything bigger.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
# Request bodies above this are refused (413) before they are read (liveblog/bodylimit.py): room for one
# image at its limit plus the rest of the form.
MAX_REQUEST_BYTES = int(os.environ.get("MAX_REQUEST_BYTES", str(12 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Link cards (liveblog/linkcards.py, liveblog/safefetch.py): limits of the guarded fetcher.
# The fetcher uses ports 80 and 443 only, plus these (comma-separated), for example "8080,8443".
LINKCARD_FETCH_ALLOWED_PORTS = [
    int(p) for p in os.environ.get("LINKCARD_FETCH_ALLOWED_PORTS", "").split(",") if p.strip()
]
LINKCARD_FETCH_CONNECT_TIMEOUT = 3  # seconds to connect
LINKCARD_FETCH_DEADLINE = 6  # seconds for one whole fetch, redirects included
LINKCARD_FETCH_MAX_BYTES = 2 * 1024 * 1024  # of body, counted after decompression
LINKCARD_FETCH_WORKERS = 2  # background fetches at once, per process
LINKCARD_IMAGE_WIDTHS = [320, 640, 960]

CKEDITOR_UPLOAD_PATH = "uploads/"
CKEDITOR_IMAGE_BACKEND = "pillow"
CKEDITOR_ALLOW_NONIMAGE_FILES = False
CKEDITOR_RESTRICT_BY_USER = False
CKEDITOR_CONFIGS = {
    "default": {
        "toolbar": [
            ["Format", "Bold", "Italic", "Strike", "RemoveFormat"],
            ["NumberedList", "BulletedList", "Blockquote"],
            ["Link", "Unlink", "Image"],
            ["Undo", "Redo", "Source"],
        ],
        "format_tags": "p;h2;h3;h4",
        "height": 320,
        "width": "100%",
        # Captioned images: <figure><img><figcaption>.
        "extraPlugins": "image2",
        "removePlugins": "image",
    }
}
# django-ckeditor ships CKEditor 4, which it warns is unsupported upstream.
# The body is cleaned with nh3 on save whatever the editor sends, so the
# editor is not a trust boundary; the warning is acknowledged here.
SILENCED_SYSTEM_CHECKS = ["ckeditor.W001"]

LOGIN_URL = "admin:login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", "1")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"

# Content-Security-Policy, enforced (django-csp; liveblog/csp.py names the one exception, for the pages
# that load CKEditor). NONCE is inert unless a response asks for one: only CKEditor's upload reply does.
# Images may also come from MEDIA_URL's own host when a CDN serves the media.
MEDIA_ORIGIN = [MEDIA_URL.split("/", 3)[0] + "//" + MEDIA_URL.split("/", 3)[2]] if "://" in MEDIA_URL else []
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, *MEDIA_ORIGIN],
        "font-src": [SELF],
        "connect-src": [SELF, *([LIVE_SOCKET_ORIGIN] if LIVE_SOCKET_ORIGIN else [])],
        "frame-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]
