import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from accord.audit import MemoryAudit
from accord.policy.killswitch import KillSwitchBoard, KillSwitchError
from accord.policy.tables import KillSwitchRow, KillSwitchVersion, ReviewRow
from accord.principal import AgencyKind, Principal, Role

USER = Principal("u1", "FRA", "army", AgencyKind.MILITARY)
OPERATOR = Principal("op", "NATO", "ops", AgencyKind.CIVIL, frozenset({Role.OPERATOR}))
TABLES = [KillSwitchRow.__table__, KillSwitchVersion.__table__, ReviewRow.__table__]


def make_engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url)
    KillSwitchRow.metadata.create_all(engine, tables=TABLES)  # type: ignore[arg-type]
    return engine


async def test_scopes_block_and_release(tmp_path: Path) -> None:
    audit = MemoryAudit()
    board = KillSwitchBoard(make_engine(f"sqlite:///{tmp_path / 'a.db'}"), audit)
    board.refresh()
    assert board.blocked(USER, "llama") is None
    switch = await board.engage("nation", "FRA", "incident", OPERATOR)
    hit = board.blocked(USER, "llama")
    assert hit is not None and hit.code == "killswitch_nation" and hit.http_status == 403
    assert board.blocked(Principal("u2", "DEU", "army", AgencyKind.MILITARY), "llama") is None
    model = await board.engage("model", "llama", "bad output", OPERATOR)
    assert model.http_status == 503
    await board.release(switch.id, OPERATOR)
    hit = board.blocked(USER, "llama")
    assert hit is not None and hit.code == "killswitch_model"
    assert [a[1] for a in audit.acts] == ["killswitch.engaged", "killswitch.engaged", "killswitch.released"]
    with pytest.raises(KillSwitchError):
        await board.engage("planet", "x", "r", OPERATOR)


async def test_second_board_sees_switch_after_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    await KillSwitchBoard(make_engine(url), MemoryAudit()).engage("global", "", "stop", OPERATOR)
    other = KillSwitchBoard(make_engine(url), MemoryAudit())
    other.refresh()
    hit = other.blocked(USER, "any")
    assert hit is not None and hit.code == "killswitch_global"


WATCHER = """
import asyncio, sys, time
import sqlalchemy as sa
from accord.audit import MemoryAudit
from accord.policy.killswitch import KillSwitchBoard
from accord.principal import AgencyKind, Principal

async def main() -> None:
    board = KillSwitchBoard(sa.create_engine(sys.argv[1]), MemoryAudit(), sys.argv[2])
    task = asyncio.create_task(board.run(poll_interval=5.0))
    await asyncio.sleep(0.5)
    print("ready", flush=True)
    user = Principal("u1", "FRA", "army", AgencyKind.MILITARY)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if board.blocked(user, "m") is not None:
            print("blocked", time.monotonic(), flush=True)
            break
        await asyncio.sleep(0.01)
    task.cancel()

asyncio.run(main())
"""


async def test_switch_reaches_another_process_within_a_second(postgres_url: str, redis_url: str) -> None:
    """The other process polls the database only every 5 s here, so arriving within 1 s shows Redis works."""
    engine = make_engine(postgres_url)
    proc = subprocess.Popen(
        [sys.executable, "-c", WATCHER, postgres_url, redis_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        board = KillSwitchBoard(engine, MemoryAudit(), redis_url)
        engaged_at = time.monotonic()
        await board.engage("organisation", "army", "drill", OPERATOR)
        line = await asyncio.to_thread(proc.stdout.readline)
        assert line.startswith("blocked")
        assert float(line.split()[1]) - engaged_at < 1.0
    finally:
        proc.wait(timeout=15)
        engine.dispose()


async def test_polling_picks_up_a_switch_from_another_board(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    watcher = KillSwitchBoard(make_engine(url), MemoryAudit())
    task = asyncio.create_task(watcher.run(poll_interval=0.05))
    try:
        await asyncio.sleep(0.1)
        assert watcher.blocked(USER, "llama") is None
        await KillSwitchBoard(make_engine(url), MemoryAudit()).engage("model", "llama", "bad", OPERATOR)
        for _ in range(100):
            if watcher.blocked(USER, "llama") is not None:
                break
            await asyncio.sleep(0.05)
        hit = watcher.blocked(USER, "llama")
        assert hit is not None and hit.code == "killswitch_model"
    finally:
        task.cancel()
