"""Integer microseconds since the epoch: how the ledger stores times, exact on every database."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_us() -> int:
    return time.time_ns() // 1000


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def to_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)
