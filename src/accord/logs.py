"""Operational logs: one JSON object a line, never any prompt, completion, key or token.

Structured fields go in ``extra={"fields": {...}}`` and are merged into the line. An exception is
logged as its type (``error``), the types of its cause/context chain (``error_chain``) and where it
was raised (``stack``: ``package/module.py:LINE in function``, innermost last) — never its message
or any local variable, since either can quote request content.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections import deque
from types import TracebackType
from typing import Any

import orjson

STACK_FRAMES = 20
_CHAIN_LIMIT = 10


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            kind, error, tb = record.exc_info
            # Types and frames only: exception messages can quote request content.
            entry["error"] = kind.__name__
            if error is not None:
                chain = error_chain(error)
                if len(chain) > 1:
                    entry["error_chain"] = chain
            if tb is not None:
                entry["stack"] = stack_frames(tb)
        return orjson.dumps(entry).decode()


def error_chain(error: BaseException) -> list[str]:
    """The type names of `error` and the exceptions it was raised from or during, outermost first."""
    names: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(names) < _CHAIN_LIMIT:
        seen.add(id(current))
        names.append(type(current).__name__)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return names


def stack_frames(tb: TracebackType, limit: int = STACK_FRAMES) -> list[str]:
    """`package/module.py:LINE in function` for the last `limit` frames, innermost last.

    Reads only code objects and line numbers: no source lines, no locals.
    """
    frames: deque[str] = deque(maxlen=limit)
    for frame, line in traceback.walk_tb(tb):
        code = frame.f_code
        module = frame.f_globals.get("__name__")
        frames.append(f"{_short_path(code.co_filename, module)}:{line} in {code.co_name}")
    return list(frames)


def _short_path(filename: str, module: object) -> str:
    """The file's path from its top-level package: ``accord/pipeline.py``, ``starlette/routing.py``."""
    parts = filename.replace("\\", "/").split("/")
    depth = module.count(".") + 1 if isinstance(module, str) and module else 1
    if parts[-1] == "__init__.py":
        depth += 1
    return "/".join(parts[-depth:])


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
