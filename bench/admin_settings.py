"""Settings of bench/admin.py: Voltop's, plus the floor view's route. Static files are named
as they are, not through the manifest collectstatic writes: the bench renders pages, it
serves no static file."""

from voltop.settings import *  # noqa: F403

ROOT_URLCONF = "bench.admin_floor"
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
