"""Settings of the bench's gunicorn: Voltop's, plus the floor view's route."""

from voltop.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_floor"
