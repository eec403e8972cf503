"""Celery tasks of the charging app: thin, they take ids and call one service."""

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from apps.charging.chargers import charger_messages_prune
from apps.charging.models import ChargingSession
from apps.charging.services import (
    charging_session_price,
    charging_sessions_price,
    charging_sessions_price_unpriced,
    session_import_run,
)

# Every task here is idempotent: acknowledged once done, and run again, with backoff, when the
# database was unreachable or broke a deadlock.
RETRIED_ON_DATABASE_ERRORS = {
    "acks_late": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(**RETRIED_ON_DATABASE_ERRORS, ignore_result=True)
def price_charging_session(session_id: int) -> None:
    """Price one session (idempotent: pricing it again gives the same result). Nothing waits
    for its result, so none is kept: a kept result would also have every stop subscribe to
    it on Redis."""
    session = ChargingSession.objects.filter(pk=session_id).first()
    if session is not None:
        charging_session_price(session=session)


@shared_task(**RETRIED_ON_DATABASE_ERRORS, ignore_result=True)
def price_charging_sessions(session_ids: list[int]) -> None:
    """Price the sessions a batch of charger stops stopped (idempotent, as pricing one is)."""
    charging_sessions_price(session_ids=session_ids)


@shared_task(**RETRIED_ON_DATABASE_ERRORS)
def price_unpriced_charging_sessions() -> int:
    """The beat's hourly sweep: price again every completed session still without a price."""
    return charging_sessions_price_unpriced(now=timezone.now())


@shared_task(**RETRIED_ON_DATABASE_ERRORS)
def import_public_sessions(session_import_id: int) -> str:
    """Import one queued provider's file (idempotent: a finished import is left as it is)."""
    return session_import_run(session_import_id=session_import_id).status


@shared_task(**RETRIED_ON_DATABASE_ERRORS)
def prune_charger_messages() -> int:
    """The beat's nightly prune of the chargers' old OCPP messages."""
    return charger_messages_prune(now=timezone.now())
