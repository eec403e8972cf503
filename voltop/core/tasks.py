"""Celery tasks of the shared kernel."""

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from voltop.core.models import IdempotencyRecord


@shared_task(acks_late=True)
def purge_idempotency_records() -> int:
    """Forget idempotency keys older than IDEMPOTENCY_KEEP_HOURS; returns how many."""
    cutoff = timezone.now() - dt.timedelta(hours=settings.IDEMPOTENCY_KEEP_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
