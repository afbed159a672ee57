"""Structured logs: one JSON object per line, with the request id and any extra fields."""

import json
import logging

from citadel.kit.observability import JsonFormatter, request_id_var
from citadel.settings import Secret


def _format(record: logging.LogRecord) -> dict:
    return json.loads(JsonFormatter().format(record))


def test_a_log_line_carries_the_request_id_and_extra_fields() -> None:
    token = request_id_var.set("req-42")
    try:
        record = logging.makeLogRecord(
            {"name": "citadel.test", "levelname": "INFO", "msg": "paid %s", "args": ("order-1",)}
        )
        record.__dict__["orderId"] = "order-1"
        line = _format(record)
    finally:
        request_id_var.reset(token)
    assert line["msg"] == "paid order-1"
    assert line["level"] == "info"
    assert line["logger"] == "citadel.test"
    assert line["requestId"] == "req-42"
    assert line["orderId"] == "order-1"
    assert line["ts"].endswith("+00:00")


def test_exceptions_are_one_field_and_secrets_stay_hidden() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.makeLogRecord(
            {"msg": "failed with %r", "args": (Secret("hunter2"),), "levelname": "ERROR"}
        )
        record.exc_info = __import__("sys").exc_info()
    line = _format(record)
    assert "hunter2" not in json.dumps(line)
    assert "ValueError: boom" in line["exc"]
    assert "requestId" not in line
