"""Settings for the test suite: the production settings with test keys and fast hashing.

DATABASE_URL chooses the database as in production (unset: SQLite in a file, so that tests
that race real threads share one database).
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-for-gonghui-tests-only-0123456789")
os.environ.setdefault("GONGHUI_FIELD_KEY", "dGVzdC1vbmx5LWZpZWxkLWtleS1nb25naHVpLTAwMDA=")
os.environ.setdefault("GONGHUI_INDEX_KEY", "test-only-blind-index-key")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("SECURE_HTTPS", "0")
os.environ.setdefault("GONGHUI_SMS_BACKEND", "gonghui.accounts.sms.MemorySmsBackend")
os.environ.setdefault(
    "GONGHUI_VAR_DIR", os.path.join(tempfile.gettempdir(), f"gonghui-test-{os.getpid()}")
)

from gonghui.settings import *  # noqa: E402,F403
from gonghui.settings import DATABASES, STORAGES, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
AXES_ENABLED = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    xdist = os.environ.get("PYTEST_XDIST_WORKER", "main")
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{xdist}.sqlite3")}

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 (whitenoise warns about a missing root)
