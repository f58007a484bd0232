"""Test settings: the production settings file, pointed at the local services.

Only this file may loosen a guard for tests (for example letting the link-card
fetcher reach the local test servers); a system check refuses such switches
when DEBUG is off.
"""

import os
from pathlib import Path

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/liveblog")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
# A channel-layer prefix of this run's own: test runs sharing a Redis never hear each other.
os.environ.setdefault("CHANNEL_PREFIX", f"liveblog-test-{os.getpid()}")

from liveblog.settings import *  # noqa: F403

SECRET_KEY = "test-only-key-" + "x" * 50
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(os.environ.get("TEST_MEDIA_ROOT", BASE_DIR / ".test-media"))  # noqa: F405
# The test servers speak plain HTTP on loopback.
SECURE_SSL_REDIRECT = False
# Unit tests render pages without running collectstatic; the server tests run it.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# The live test servers serve static files straight from the apps' folders (as in the demo),
# so browser tests get the stylesheet without a collectstatic run first.
SERVESTATIC_USE_FINDERS = True
SERVESTATIC_AUTOREFRESH = True
# The link-card fetcher may reach the local test servers (never set anywhere else: liveblog.E002).
LINKCARD_FETCH_ALLOW_LOOPBACK = True
# No DNS query may leave the machine during tests: host names resolve from this map only (tests add to it).
LINKCARD_FETCH_STATIC_HOSTS = {}
# A unit test's data lives in its own uncommitted transaction, seen only by its own connection: the views'
# reads stay on the test's thread. The production stack in the server tests reads on the shared pool.
READ_PAGES_IN_SHARED_POOL = False

# Before any app connects its own receivers, so that this one runs first (see tests/support/database.py).
from django.db.models.signals import post_migrate  # noqa: E402

from tests.support.database import content_types_keep_their_ids  # noqa: E402

post_migrate.connect(content_types_keep_their_ids, dispatch_uid="tests.content_types_keep_their_ids")
