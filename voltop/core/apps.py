"""App config of the shared kernel: registers its lookups and admin list plans, and says once
at start how Celery tasks will run."""

import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("voltop")


class CoreConfig(AppConfig):
    name = "voltop.core"
    label = "core"
    verbose_name = "Voltop core"

    def ready(self) -> None:
        from voltop.core.admin_lists import cells_from_a_plan, headers_once_per_list
        from voltop.core.lookups import lookups_register

        lookups_register()
        headers_once_per_list()
        cells_from_a_plan()
        if settings.CELERY_TASK_ALWAYS_EAGER:
            logger.info(
                "celery.eager: REDIS_URL is not set, background tasks run eagerly in-process",
                extra={"event": "celery.eager"},
            )
