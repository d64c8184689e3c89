"""Process settings: where Accord keeps its state and which services it talks to.

Everything lives under ``ACCORD_HOME`` (default ``./.accord``): ``accord.yaml`` (the deployment file),
the SQLite database, and ``keys/`` (ledger signing key, pseudonymisation salt, quarantine keys).
Environment variables override the deployment file so one image runs many replicas.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    database_url: str
    redis_url: str | None

    @property
    def deployment_file(self) -> Path:
        return self.home / "accord.yaml"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def policy_dir(self) -> Path:
        """Operator's policy bundle; when absent the packaged default bundle is used."""
        return self.home / "policy"


def load_settings(environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    home = Path(env.get("ACCORD_HOME", ".accord")).resolve()
    database_url = env.get("ACCORD_DATABASE_URL") or f"sqlite:///{home / 'accord.db'}"
    redis_url = env.get("ACCORD_REDIS_URL") or None
    return Settings(home=home, database_url=database_url, redis_url=redis_url)
