import asyncio
import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.config import Settings
from accord.ledger.cli import report_app
from accord.ledger.log import Ledger
from accord.ledger.record import AdminRecord
from accord.ledger.report import ReportAccessDenied, ReportScope, TransparencyReport
from accord.principal import AgencyKind, Principal, Role

from .ledger_samples import BASE_TIME, request_record

SPILL = ("classification_exceeds_ceiling",)


def populate(settings: Settings) -> None:
    async def run() -> None:
        ledger = await Ledger.open(settings, run_sequencer=False)
        try:
            for n in range(12):  # nations cycle USA, FRA, DEU
                decision = ("allow", "deny", "review", "redact")[n % 4]
                codes = SPILL if n == 1 else ("no_bulk_collection",) if decision == "deny" else ()
                await ledger.append(request_record(n, decision=decision, codes=codes))
            late = request_record(99, decision="deny", codes=SPILL)
            await ledger.append(replace(late, time=BASE_TIME + timedelta(days=2)))
            for target in ("model:small", "nation:DEU"):
                await ledger.append(
                    AdminRecord(time=BASE_TIME, actor="a", act="killswitch.set", target=target)
                )
            await ledger.append(AdminRecord(time=BASE_TIME, actor="a", act="key.create", target="k"))
            await ledger.integrate_now()
        finally:
            await ledger.close()

    asyncio.run(run())


def build(settings: Settings, scope: ReportScope) -> TransparencyReport:
    report = TransparencyReport(start=BASE_TIME, end=BASE_TIME + timedelta(days=1), scope=scope)

    async def run() -> None:
        ledger = await Ledger.open(settings, run_sequencer=False)
        try:
            report.checkpoint = await ledger.scan(report.visit)
        finally:
            await ledger.close()

    asyncio.run(run())
    return report


def test_overseer_sees_every_nation(settings: Settings) -> None:
    populate(settings)
    figures = build(settings, ReportScope(None)).to_json()
    assert figures["totals"] == {
        "requests": 12,
        "allowed": 3,
        "refused": 3,
        "reviews": 3,
        "redacted": 3,
        "errors": 0,
    }
    assert set(figures["by_nation"]) == {"USA", "FRA", "DEU"}
    assert figures["by_nation"]["FRA"]["requests"] == 4
    assert figures["by_code"] == {"classification_exceeds_ceiling": 1, "no_bulk_collection": 2}
    # The spill two days later is outside the window.
    assert [s["nation"] for s in figures["spillage_incidents"]] == ["FRA"]
    assert [k["target"] for k in figures["killswitch_events"]] == ["model:small", "nation:DEU"]
    assert figures["ledger"]["tree_size"] == 16
    assert figures["ledger"]["checkpoint"]["tree_size"] == 16


def test_tenant_admin_sees_only_their_nation(settings: Settings) -> None:
    populate(settings)
    admin = Principal(
        id="x",
        nation="DEU",
        organisation="o",
        agency_kind=AgencyKind.CIVIL,
        roles=frozenset({Role.TENANT_ADMIN}),
    )
    figures = build(settings, ReportScope.for_principal(admin)).to_json()
    assert set(figures["by_nation"]) == {"DEU"}
    assert figures["totals"]["requests"] == 4
    assert figures["spillage_incidents"] == []
    assert [k["target"] for k in figures["killswitch_events"]] == ["nation:DEU"]
    user = replace(admin, roles=frozenset({Role.USER}))
    with pytest.raises(ReportAccessDenied):
        ReportScope.for_principal(user)


def test_csv_and_html_carry_the_same_figures(settings: Settings) -> None:
    populate(settings)
    report = build(settings, ReportScope(None))
    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert {"section": "nation", "key": "USA", "metric": "requests", "value": "4"} in rows
    assert {"section": "spillage", "key": "all", "metric": "incidents", "value": "1"} in rows
    html = report.to_html()
    assert html.count("<svg") == 3
    assert "classification_exceeds_ceiling" in html and "nation:DEU" in html
    assert report.checkpoint is not None and report.checkpoint.checkpoint.root_hash.hex() in html


def test_report_command(settings: Settings, tmp_path: Path) -> None:
    populate(settings)
    env = {"ACCORD_HOME": str(settings.home), "ACCORD_DATABASE_URL": settings.database_url}
    args = ["--from", "2026-11-26", "--to", "2026-11-27", "--format", "json"]
    result = CliRunner().invoke(report_app, [*args, "--nation", "FRA"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["requests"] == 4
    out = tmp_path / "report.html"
    result = CliRunner().invoke(report_app, [*args[:4], "--format", "html", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!doctype html>")


def test_scope_window_is_half_open() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    report = TransparencyReport(start=start, end=start + timedelta(hours=1), scope=ReportScope(None))
    from accord.ledger.record import Entry

    for n, offset in enumerate((timedelta(0), timedelta(hours=1))):
        record = replace(request_record(n), time=start + offset)
        report.visit(Entry.decode(Entry.wrap(n, f"e{n}", record.encode())))
    assert report.totals.requests == 1
    assert report.ledger_size == 2
