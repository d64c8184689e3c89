"""The SQLite database Accord creates holds key hashes and sealed material: owner-only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from accord.config import Settings
from accord.services import bootstrap_home
from accord.store.database import create_engine_for


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_init_creates_the_database_and_its_wal_files_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, which gave accord.db mode 0644
    try:
        home = tmp_path / "home"
        settings = Settings(home=home, database_url=f"sqlite:///{home / 'accord.db'}", redis_url=None)
        assert await bootstrap_home(settings, demo=True) is not None
        engine = create_engine_for(settings.database_url)
        try:
            with engine.connect() as connection:  # WAL mode: -wal and -shm exist while it is open
                connection.exec_driver_sql("CREATE TABLE probe (x)")
                databases = sorted(home.glob("accord.db*"))
                assert home / "accord.db" in databases
                assert {path: _mode(path) for path in databases} == dict.fromkeys(databases, 0o600)
        finally:
            engine.dispose()
    finally:
        os.umask(old)


def test_an_existing_database_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    create_engine_for(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o640
