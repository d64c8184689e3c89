"""Kill a process mid-load with SIGKILL: every append it acknowledged must survive."""

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from accord.config import Settings
from accord.ledger.log import Ledger
from accord.ledger.verify import verify_bundle

CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import UTC, datetime
    from accord.config import load_settings
    from accord.ledger.log import Ledger
    from accord.ledger.record import RequestRecord

    def record(n):
        return RequestRecord(
            time=datetime.now(UTC), request_id=f"crash-{n}", principal="p", nation="USA",
            organisation="o", agency_kind="civil", route="/v1/chat/completions", model="m",
            decision="allow", codes=(), policy_ids=(), bundle_version="1", findings={},
            content_hash="00" * 32, outcome="answered",
        )

    async def appender(ledger, worker):
        n = 0
        while True:
            receipt = await ledger.append(record(f"{worker}-{n}"))
            sys.stdout.write(receipt.entry_id + "\\n")
            sys.stdout.flush()
            n += 1

    async def main():
        ledger = await Ledger.open(load_settings(), run_sequencer=True)
        sys.stdout.write("ready\\n")
        sys.stdout.flush()
        await asyncio.gather(*(appender(ledger, w) for w in range(32)))

    asyncio.run(main())
    """
)


async def test_acknowledged_appends_survive_sigkill(settings: Settings, tmp_path: Path) -> None:
    env = {**os.environ, "ACCORD_HOME": str(settings.home), "ACCORD_DATABASE_URL": settings.database_url}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    acknowledged: list[str] = []
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read() if child.stderr else ""
        deadline = time.monotonic() + 60
        while len(acknowledged) < 1500 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acknowledged.append(line.strip())
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # Whatever was already written to the pipe was acknowledged too.
    acknowledged.extend(line.strip() for line in child.stdout.read().splitlines() if line.strip())
    assert len(acknowledged) >= 1500, "the child did not get far enough to test anything"

    ledger = await Ledger.open(settings, run_sequencer=False)
    try:
        size = await ledger.integrate_now()
        await ledger.export(tmp_path / "bundle")
    finally:
        await ledger.close()
    report = verify_bundle(tmp_path / "bundle")
    assert report.ok, report.problems
    assert report.entries == size >= len(acknowledged)
    with (tmp_path / "bundle" / "entries.jsonl").open() as lines:
        present = {json.loads(base64.b64decode(json.loads(line)["leaf"]))["entry_id"] for line in lines}
    missing = set(acknowledged) - present
    assert not missing, f"{len(missing)} acknowledged entries lost"
