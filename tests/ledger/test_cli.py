import asyncio
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from accord.config import Settings
from accord.ledger.cli import ledger_app
from accord.ledger.log import Ledger

from .ledger_samples import admin_record, request_record

DOC = Path(__file__).parents[2] / "docs" / "ledger.md"


def populate(settings: Settings, count: int) -> None:
    async def run() -> None:
        ledger = await Ledger.open(settings, run_sequencer=False)
        try:
            await asyncio.gather(*(ledger.append(request_record(i)) for i in range(count)))
            await ledger.append(admin_record(count))
            # Left queued on purpose: `export` sequences and signs before writing.
        finally:
            await ledger.close()

    asyncio.run(run())


def env_for(settings: Settings) -> dict[str, str]:
    return {"ACCORD_HOME": str(settings.home), "ACCORD_DATABASE_URL": settings.database_url}


def test_export_verify_prove_checkpoint(settings: Settings, tmp_path: Path) -> None:
    populate(settings, 40)
    runner = CliRunner()
    env = env_for(settings)
    exported = runner.invoke(ledger_app, ["export", "--out", str(tmp_path / "bundle")], env=env)
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["entries"] == 41

    verified = runner.invoke(ledger_app, ["verify", str(tmp_path / "bundle")], env=env)
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["ok"] is True

    proved = runner.invoke(ledger_app, ["prove", "req-7"], env=env)
    assert proved.exit_code == 0, proved.output
    proof = json.loads(proved.stdout)
    # Concurrent appends have no defined order among themselves (with two writer threads on
    # PostgreSQL, batches commit in either order); the admin record came after all of them.
    assert proof["request_id"] == "req-7" and proof["tree_size"] == 41
    assert 0 <= proof["leaf_index"] < 40
    assert '"request_id":"req-7"' in proof["leaf"] and f'"index":{proof["leaf_index"]}' in proof["leaf"]
    assert all(re.fullmatch("[0-9a-f]{64}", h) for h in [proof["leaf_hash"], *proof["audit_path"]])

    latest = runner.invoke(ledger_app, ["checkpoint"], env=env)
    assert latest.exit_code == 0, latest.output
    assert json.loads(latest.stdout)["tree_size"] == 41

    missing = runner.invoke(ledger_app, ["prove", "req-unknown"], env=env)
    assert missing.exit_code == 1

    key = runner.invoke(ledger_app, ["public-key"], env=env)
    assert key.exit_code == 0, key.output
    assert json.loads(key.stdout)["vkey"] == proof["public_key"]
    assert (tmp_path / "bundle" / "public_key.vkey").read_text().strip() == proof["public_key"]


def test_verify_exits_1_and_names_the_bad_entry(settings: Settings, tmp_path: Path) -> None:
    populate(settings, 10)
    runner = CliRunner()
    env = env_for(settings)
    assert runner.invoke(ledger_app, ["export", "--out", str(tmp_path / "b")], env=env).exit_code == 0
    lines = (tmp_path / "b" / "entries.jsonl").read_text().splitlines()
    del lines[3]
    (tmp_path / "b" / "entries.jsonl").write_text("\n".join(lines) + "\n")
    pinned = tmp_path / "b" / "public_key.vkey"
    result = runner.invoke(ledger_app, ["verify", str(tmp_path / "b"), "--public-key", str(pinned)], env=env)
    assert result.exit_code == 1
    assert "FAILED: entry 3: line holds index 4" in result.output


def doc_snippet() -> str:
    text = DOC.read_text()
    match = re.search(r"<!-- verify-proof-snippet -->\s*```python\n(.*?)```", text, re.S)
    assert match, "docs/ledger.md lost its proof-verifying snippet"
    return match.group(1)


def test_documented_snippet_verifies_a_real_proof_and_rejects_a_forged_one(
    settings: Settings, tmp_path: Path
) -> None:
    populate(settings, 25)
    runner = CliRunner()
    env = env_for(settings)
    assert runner.invoke(ledger_app, ["export", "--out", str(tmp_path / "b")], env=env).exit_code == 0
    proof_text = runner.invoke(ledger_app, ["prove", "req-11"], env=env).stdout
    snippet = doc_snippet()
    assert len(snippet.splitlines()) <= 30
    # Run it the way an overseer would: a separate interpreter, the proof on stdin, no accord imports.
    assert "import accord" not in snippet and "from accord" not in snippet
    ok = subprocess.run([sys.executable, "-c", snippet], input=proof_text, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert f"entry {json.loads(proof_text)['leaf_index']} is in the signed tree of 26" in ok.stdout

    proof = json.loads(proof_text)
    forged = dict(proof, leaf=proof["leaf"].replace('"decision":"allow"', '"decision":"deny"'))
    forged["leaf_hash"] = hashlib.sha256(b"\x00" + forged["leaf"].encode()).hexdigest()
    bad = subprocess.run(
        [sys.executable, "-c", snippet], input=json.dumps(forged), capture_output=True, text=True
    )
    assert bad.returncode != 0


def test_export_refuses_when_the_database_is_not_migrated(tmp_path: Path) -> None:
    env = {"ACCORD_HOME": str(tmp_path), "ACCORD_DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}"}
    result = CliRunner().invoke(ledger_app, ["export", "--out", str(tmp_path / "b")], env=env)
    assert result.exit_code == 1
    assert "cannot open the ledger" in result.output


def test_verify_with_kept_checkpoint_and_pinned_key_files(settings: Settings, tmp_path: Path) -> None:
    populate(settings, 5)
    runner = CliRunner()
    env = env_for(settings)
    assert runner.invoke(ledger_app, ["export", "--out", str(tmp_path / "b")], env=env).exit_code == 0
    (tmp_path / "kept.json").write_text(runner.invoke(ledger_app, ["checkpoint"], env=env).stdout)
    (tmp_path / "key.json").write_text(runner.invoke(ledger_app, ["public-key"], env=env).stdout)
    pins = ["--public-key", str(tmp_path / "key.json"), "--trusted-checkpoint", str(tmp_path / "kept.json")]
    assert runner.invoke(ledger_app, ["verify", str(tmp_path / "b"), *pins], env=env).exit_code == 0
    populate(settings, 3)  # the log grows; the kept checkpoint must still be consistent with it
    assert runner.invoke(ledger_app, ["export", "--out", str(tmp_path / "c")], env=env).exit_code == 0
    result = runner.invoke(ledger_app, ["verify", str(tmp_path / "c"), *pins], env=env)
    assert result.exit_code == 0, result.output
    proof = json.loads(runner.invoke(ledger_app, ["consistency", "6"], env=env).stdout)
    assert proof["old_size"] == 6 and proof["tree_size"] == 10 and proof["consistency_path"]


def test_commands_use_the_deployments_origin(settings: Settings, tmp_path: Path) -> None:
    (settings.home / "accord.yaml").write_text("gateway:\n  origin: alliance.example/ledger\n")

    async def run() -> None:
        ledger = await Ledger.open(settings, origin="alliance.example/ledger", run_sequencer=False)
        try:
            await ledger.append(request_record(0))
            await ledger.integrate_now()
        finally:
            await ledger.close()

    asyncio.run(run())
    runner = CliRunner()
    env = env_for(settings)
    proved = runner.invoke(ledger_app, ["prove", "req-0"], env=env)
    assert proved.exit_code == 0, proved.output
    assert json.loads(proved.stdout)["checkpoint"].startswith("alliance.example/ledger\n1\n")
    key = json.loads(runner.invoke(ledger_app, ["public-key"], env=env).stdout)
    assert key["vkey"].startswith("alliance.example/ledger+")
