"""The logging configuration: JSON lines for production, plain lines for a terminal."""

import json
import logging
import logging.config

import pytest
from django.conf import settings

from voltop.core.log_config import log_config


@pytest.fixture(autouse=True)
def _logging_restored_after_each_test():
    yield
    logging.config.dictConfig(settings.LOGGING)


def test_log_events_are_one_json_object_per_line(capsys):
    logging.config.dictConfig(log_config(level="INFO", log_format="json"))

    logging.getLogger("voltop.test").info(
        "session.stopped", extra={"event": "session.stopped", "session_id": 42}
    )

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    record = json.loads(lines[-1])
    assert record["message"] == "session.stopped"
    assert record["level"] == "INFO"
    assert record["logger"] == "voltop.test"
    assert record["session_id"] == 42
    assert "time" in record


def test_log_events_in_text_are_one_plain_line_each(capsys):
    logging.config.dictConfig(log_config(level="INFO", log_format="text"))

    logging.getLogger("voltop.test").info("session.stopped")

    [line] = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert line.endswith(" INFO voltop.test session.stopped")


def test_events_below_the_level_are_not_written(capsys):
    logging.config.dictConfig(log_config(level="WARNING", log_format="text"))

    logging.getLogger("voltop.test").info("session.stopped")

    assert capsys.readouterr().err == ""


def test_an_unknown_log_format_is_refused_naming_the_setting_and_the_choices():
    with pytest.raises(ValueError, match=r"^LOG_FORMAT must be one of json, text, got 'xml'\.$"):
        log_config(level="INFO", log_format="xml")
