"""Voltop: the Django project package. Importing it registers the Celery app."""

from voltop.celery import app as celery_app

__all__ = ["celery_app"]
