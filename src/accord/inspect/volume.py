"""How many distinct people a principal has touched recently, so many small requests that add up to bulk
collection are caught (PPD-28's "bulk" is collection without discriminants; the policy sets the thresholds).

Identifiers are the salted hashes from ``accord.inspect.personal_data``; no raw value reaches this module.
In-process counting is the default; with Redis every replica shares the same counts.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from accord.inspect.intent.errors import DetectorError

DEFAULT_WINDOWS: dict[str, float] = {"1h": 3600.0, "24h": 86400.0}


@dataclass(frozen=True, slots=True)
class VolumeResult:
    distinct: dict[str, int]


class VolumeTracker(Protocol):
    async def observe(self, principal_id: str, identifiers: frozenset[str]) -> VolumeResult: ...

    async def aclose(self) -> None: ...


def _checked(windows: Mapping[str, float] | None) -> dict[str, float]:
    windows = dict(DEFAULT_WINDOWS if windows is None else windows)
    if not windows or any(seconds <= 0 for seconds in windows.values()):
        raise DetectorError("volume windows must be a non-empty mapping of name to positive seconds")
    return windows


class InMemoryVolumeTracker:
    """Per principal and window, identifiers in order of last sight; expired ones fall off the front."""

    _SWEEP_EVERY = 1024  # observations between sweeps that forget principals who went quiet

    def __init__(
        self, windows: dict[str, float] | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._windows = _checked(windows)
        self._clock = clock
        self._seen: dict[str, dict[str, OrderedDict[str, float]]] = {}
        self._lock = threading.Lock()
        self._observations = 0

    async def observe(self, principal_id: str, identifiers: frozenset[str]) -> VolumeResult:
        now = self._clock()
        with self._lock:
            windows = self._seen.setdefault(principal_id, {name: OrderedDict() for name in self._windows})
            distinct = {}
            for name, seconds in self._windows.items():
                seen = windows[name]
                for identifier in identifiers:
                    seen[identifier] = now
                    seen.move_to_end(identifier)
                _expire(seen, now - seconds)
                distinct[name] = len(seen)
            self._observations += 1
            if self._observations % self._SWEEP_EVERY == 0:
                self._sweep(now)
        return VolumeResult(distinct=distinct)

    def _sweep(self, now: float) -> None:
        for principal_id in list(self._seen):
            windows = self._seen[principal_id]
            for name, seconds in self._windows.items():
                _expire(windows[name], now - seconds)
            if not any(windows.values()):
                del self._seen[principal_id]

    async def aclose(self) -> None:
        with self._lock:
            self._seen.clear()


def _expire(seen: OrderedDict[str, float], cutoff: float) -> None:
    while seen:
        oldest = next(iter(seen.values()))
        if oldest >= cutoff:
            break
        seen.popitem(last=False)


# One sorted set per principal: member = identifier, score = last sight (Redis server time, so replicas
# with skewed clocks agree). Adding, expiring, counting and setting the TTL happen atomically in one script.
_OBSERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local windows = tonumber(ARGV[1])
local longest = 0
for i = 2, windows + 1 do
  local w = tonumber(ARGV[i])
  if w > longest then longest = w end
end
local first = windows + 2
while first <= #ARGV do
  local last = math.min(first + 499, #ARGV)
  local batch = {}
  for i = first, last do
    batch[#batch + 1] = now
    batch[#batch + 1] = ARGV[i]
  end
  redis.call('ZADD', KEYS[1], unpack(batch))
  first = last + 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. tostring(now - longest))
local counts = {}
for i = 2, windows + 1 do
  counts[#counts + 1] = redis.call('ZCOUNT', KEYS[1], tostring(now - tonumber(ARGV[i])), '+inf')
end
redis.call('EXPIRE', KEYS[1], math.ceil(longest) + 1)
return counts
"""


class RedisVolumeTracker:
    def __init__(
        self, url: str, windows: dict[str, float] | None = None, prefix: str = "accord:volume:"
    ) -> None:
        self._windows = _checked(windows)
        self._prefix = prefix
        self._client: Any = aioredis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._script = self._client.register_script(_OBSERVE)

    async def observe(self, principal_id: str, identifiers: frozenset[str]) -> VolumeResult:
        names = list(self._windows)
        args: list[str | int] = [
            len(names),
            *(repr(self._windows[name]) for name in names),
            *sorted(identifiers),
        ]
        try:
            counts = await self._script(keys=[self._prefix + principal_id], args=args)
        except (RedisError, OSError) as error:
            raise DetectorError(f"volume tracker: Redis unavailable ({type(error).__name__})") from error
        return VolumeResult(distinct={name: int(count) for name, count in zip(names, counts, strict=True)})

    async def aclose(self) -> None:
        await self._client.aclose()
