"""The JSON log formatter: structured fields, and exceptions without their messages."""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson

from accord.logs import STACK_FRAMES, JSONFormatter, _short_path

SECRET = "Quarrelwick-5521 convoy route"


def _format(record: logging.LogRecord) -> dict[str, Any]:
    line = JSONFormatter().format(record)
    assert "\n" not in line
    parsed: dict[str, Any] = orjson.loads(line)
    return parsed


def _record(msg: str = "something failed", **kwargs: Any) -> logging.LogRecord:
    return logging.getLogger("accord.test").makeRecord(
        "accord.test", logging.ERROR, __file__, 1, msg, (), kwargs.pop("exc_info", None), **kwargs
    )


def test_fields_passed_as_extra_are_merged_into_the_line() -> None:
    record = _record("request", extra={"fields": {"request_id": "req_1", "status": 200, "client": None}})
    entry = _format(record)
    assert entry["message"] == "request" and entry["logger"] == "accord.test"
    assert entry["request_id"] == "req_1" and entry["status"] == 200 and entry["client"] is None
    assert "error" not in entry and "stack" not in entry


class Lookup:
    def innermost_lookup(self, text: str) -> None:
        raise KeyError(text)  # the raise that `stack` must end on


def middle_layer(text: str) -> None:
    secret_local = text  # a local variable holding content: must never be logged
    try:
        Lookup().innermost_lookup(secret_local)
    except KeyError as error:
        raise RuntimeError(f"could not route {secret_local}") from error


def outer_handler(text: str) -> None:
    try:
        middle_layer(text)
    except RuntimeError:
        raise ValueError(f"request failed: {text}")  # noqa: B904 - an implicit __context__ chain


def test_an_exception_is_logged_as_types_and_frames_without_its_message() -> None:
    try:
        outer_handler(SECRET)
    except ValueError:
        exc_info = sys.exc_info()
    line = JSONFormatter().format(_record(exc_info=exc_info))
    assert SECRET not in line and "Quarrelwick" not in line
    entry = orjson.loads(line)
    assert entry["error"] == "ValueError"
    assert entry["error_chain"] == ["ValueError", "RuntimeError", "KeyError"]
    this = test_an_exception_is_logged_as_types_and_frames_without_its_message.__code__
    assert entry["stack"] == [
        f"tests/test_logs.py:{this.co_firstlineno + 2} in {this.co_name}",  # the call in the try
        f"tests/test_logs.py:{outer_handler.__code__.co_firstlineno + 4} in outer_handler",
    ]


def test_the_stack_ends_at_the_innermost_frame_and_keeps_the_last_twenty() -> None:
    def recurse(depth: int) -> None:
        if depth == 0:
            middle_layer(SECRET)
        recurse(depth - 1)

    try:
        recurse(30)
    except RuntimeError:
        exc_info = sys.exc_info()
    entry = _format(_record(exc_info=exc_info))
    stack = entry["stack"]
    assert len(stack) == STACK_FRAMES == 20
    first_line = middle_layer.__code__.co_firstlineno
    assert stack[-1] == f"tests/test_logs.py:{first_line + 5} in middle_layer"
    assert all(frame.startswith("tests/test_logs.py:") for frame in stack)
    assert stack[0].endswith(" in recurse")  # the outer frames were the ones dropped
    assert entry["error_chain"] == ["RuntimeError", "KeyError"]
    assert SECRET not in orjson.dumps(entry).decode()


def test_an_exception_without_a_chain_has_no_error_chain() -> None:
    try:
        try:
            Lookup().innermost_lookup(SECRET)
        except KeyError:
            raise LookupError(SECRET) from None
    except LookupError:
        exc_info = sys.exc_info()
    entry = _format(_record(exc_info=exc_info))
    assert entry["error"] == "LookupError" and "error_chain" not in entry
    assert entry["stack"][-1].endswith(" in test_an_exception_without_a_chain_has_no_error_chain")


def test_logger_exception_carries_the_stack() -> None:
    logger = logging.getLogger("accord.test.exception")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    try:
        try:
            middle_layer(SECRET)
        except RuntimeError:
            logger.exception("unhandled error in request %s", "req_1")
    finally:
        logger.removeHandler(handler)
    (record,) = records
    line = JSONFormatter().format(record)
    assert SECRET not in line
    entry = orjson.loads(line)
    assert entry["message"] == "unhandled error in request req_1"
    assert [frame.rsplit(" in ", 1)[1] for frame in entry["stack"]] == [
        "test_logger_exception_carries_the_stack",
        "middle_layer",
    ]


def test_paths_start_at_the_package() -> None:
    site = "/srv/venv/lib/python3.11/site-packages"
    assert _short_path(f"{site}/starlette/routing.py", "starlette.routing") == "starlette/routing.py"
    assert _short_path("/work/main/src/accord/pipeline.py", "accord.pipeline") == "accord/pipeline.py"
    assert _short_path("/work/src/accord/api/__init__.py", "accord.api") == "accord/api/__init__.py"
    assert _short_path("/usr/lib/python3.11/asyncio/tasks.py", "asyncio.tasks") == "asyncio/tasks.py"
    assert _short_path("/opt/app/run.py", "__main__") == "run.py"
    assert _short_path("/opt/app/run.py", None) == "run.py"
