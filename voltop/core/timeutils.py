"""Time rules shared by the apps: every datetime Voltop stores is aware."""

from datetime import datetime, tzinfo

from voltop.core.errors import DomainError


class NaiveDatetime(DomainError):
    code = "voltop.naive_datetime"


def require_aware(value: datetime | None, *, field: str) -> None:
    """Refuse a datetime without a time zone: Voltop cannot guess which zone was meant."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise NaiveDatetime(f"{field} must carry a time zone offset.", field=field)


def local_time_text(moment: datetime, zone: tzinfo, *, seconds: bool = False) -> str:
    """`moment` as a person in `zone` reads it, e.g. "2026-01-01 09:00 CET"."""
    pattern = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    return moment.astimezone(zone).strftime(pattern)
