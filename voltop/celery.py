"""The Celery application: Redis broker in production, eager tasks when REDIS_URL is unset."""

import os

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "voltop.settings")


class HistoryTask(Task):
    """Voltop's task class: the changes a task makes are recorded in history as made by
    "task <name>" (beside the request or command that ran it eagerly, if one did)."""

    def __call__(self, *args, **kwargs):
        from voltop.core.history import history_context

        with history_context(task=self.name):
            return super().__call__(*args, **kwargs)


app = Celery("voltop", task_cls=HistoryTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
