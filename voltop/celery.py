"""The Celery application: Redis broker in production, eager tasks when REDIS_URL is unset."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voltop.settings")

app = Celery("voltop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
