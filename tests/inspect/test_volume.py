from __future__ import annotations

import asyncio
import secrets

import pytest

from accord.inspect.intent import DetectorError
from accord.inspect.personal_data import PersonalDataDetector
from accord.inspect.volume import InMemoryVolumeTracker, RedisVolumeTracker, VolumeTracker


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def ids(*values: str) -> frozenset[str]:
    return frozenset(values)


async def test_distinct_identifiers_per_window() -> None:
    clock = Clock()
    tracker = InMemoryVolumeTracker({"1h": 3600, "24h": 86400}, clock=clock)
    assert (await tracker.observe("alice", ids("a", "b"))).distinct == {"1h": 2, "24h": 2}
    assert (await tracker.observe("alice", ids("b", "c"))).distinct == {"1h": 3, "24h": 3}
    clock.now += 7200  # two hours later the first hour has forgotten a, b and c
    assert (await tracker.observe("alice", ids("d"))).distinct == {"1h": 1, "24h": 4}
    clock.now += 86401
    assert (await tracker.observe("alice", frozenset())).distinct == {"1h": 0, "24h": 0}


async def test_a_new_sighting_keeps_an_identifier_alive() -> None:
    clock = Clock()
    tracker = InMemoryVolumeTracker({"1h": 3600}, clock=clock)
    await tracker.observe("alice", ids("a", "b"))
    clock.now += 3000
    await tracker.observe("alice", ids("a"))
    clock.now += 1000
    assert (await tracker.observe("alice", frozenset())).distinct == {"1h": 1}


async def test_principals_are_counted_separately() -> None:
    tracker = InMemoryVolumeTracker(clock=Clock())
    await tracker.observe("alice", ids("a", "b", "c"))
    assert (await tracker.observe("bob", ids("a"))).distinct == {"1h": 1, "24h": 1}


async def test_many_small_requests_add_up_to_bulk() -> None:
    """200 requests of 3 people each look harmless alone; the window sees 600 distinct people."""
    detector = PersonalDataDetector(b"volume-test-salt-0123456789")
    tracker = InMemoryVolumeTracker(clock=Clock())
    result = None
    for request in range(200):
        text = " ".join(f"user{request}x{n}@example.org" for n in range(3))
        result = await tracker.observe("alice", detector.scan(text).identifiers)
    assert result is not None and result.distinct["24h"] == 600


def test_windows_must_be_positive() -> None:
    with pytest.raises(DetectorError):
        InMemoryVolumeTracker({"1h": 0})


async def _exercise(tracker: VolumeTracker) -> None:
    assert (await tracker.observe("alice", ids("a", "b"))).distinct == {"short": 2, "long": 2}
    assert (await tracker.observe("alice", ids("b", "c"))).distinct == {"short": 3, "long": 3}
    assert (await tracker.observe("bob", ids("a"))).distinct == {"short": 1, "long": 1}


@pytest.mark.redis
async def test_redis_tracker_counts_like_the_in_memory_one(redis_url: str) -> None:
    tracker = RedisVolumeTracker(
        redis_url, {"short": 1.0, "long": 60.0}, prefix=f"test:{secrets.token_hex(4)}:"
    )
    try:
        await _exercise(tracker)
        await asyncio.sleep(1.2)
        assert (await tracker.observe("alice", ids("d"))).distinct == {"short": 1, "long": 4}
    finally:
        await tracker.aclose()


@pytest.mark.redis
async def test_redis_replicas_share_counts_and_keys_expire(redis_url: str) -> None:
    import redis.asyncio as aioredis

    prefix = f"test:{secrets.token_hex(4)}:"
    first = RedisVolumeTracker(redis_url, {"1h": 3600.0}, prefix=prefix)
    second = RedisVolumeTracker(redis_url, {"1h": 3600.0}, prefix=prefix)
    client = aioredis.Redis.from_url(redis_url)
    try:
        await first.observe("alice", frozenset(f"id{n}" for n in range(1000)))
        assert (await second.observe("alice", ids("id1", "new"))).distinct == {"1h": 1001}
        ttl = await client.ttl(prefix + "alice")
        assert 3600 <= ttl <= 3601
    finally:
        await client.aclose()
        await first.aclose()
        await second.aclose()


async def test_unreachable_redis_raises_instead_of_counting_zero() -> None:
    tracker = RedisVolumeTracker("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(DetectorError):
            await tracker.observe("alice", ids("a"))
    finally:
        await tracker.aclose()
