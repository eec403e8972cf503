"""OCPP's timestamps (ISO 8601, UTC) read as zone-aware moments, and written back."""

from datetime import UTC, datetime

from voltop.core.errors import DomainError


class TimestampInvalid(DomainError):
    code = "ocpp.timestamp_invalid"


def ocpp_moment(value: str, *, field: str) -> datetime:
    """The moment an OCPP timestamp names. OCPP sends UTC; a timestamp without an offset is
    read as UTC, as chargers with a clock but no zone send it."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError) as error:
        raise TimestampInvalid(f"{value!r} is not an ISO 8601 timestamp.", field=field) from error
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def ocpp_timestamp(moment: datetime) -> str:
    """`moment` as OCPP writes it: UTC with a Z, to the millisecond."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
