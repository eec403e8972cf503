import json
import logging
import logging.config

from django.conf import settings


def test_log_events_are_one_json_object_per_line(capsys):
    logging.config.dictConfig(settings.LOGGING)

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
