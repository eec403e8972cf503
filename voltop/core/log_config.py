"""The logging configuration: one JSON object per line for production, or one plain line per
event for a person reading a terminal."""

LOG_FORMATS = ("json", "text")

_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


def log_config(*, level: str, log_format: str) -> dict:
    """A `LOGGING` dictionary writing every event at `level` or above to stderr in `log_format`."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": _FIELDS,
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                "timestamp": False,
            },
            "text": {"format": _FIELDS},
        },
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": log_format},
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            "celery": {"level": level},
            "weasyprint": {"level": "WARNING"},
            "axes": {"level": "WARNING"},
            "fontTools": {"level": "WARNING"},
            # The OCPP gateway logs each frame itself, with its station; the ocpp and websockets
            # libraries would log each again, and every connection opened and closed.
            "apps.ocpp.library": {"level": "WARNING"},
            "ocpp": {"level": "WARNING"},
            "websockets": {"level": "WARNING"},
        },
    }
