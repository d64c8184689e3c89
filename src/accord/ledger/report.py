"""Transparency report: what the gateway decided between two times, from the signed ledger only.

Counts requests, refusals, reviews and redactions per nation, agency kind and code (red line); lists
spillage incidents (code ``classification_exceeds_ceiling``) and kill-switch acts; states the ledger
size and the checkpoint the figures rest on. Built from entries the latest checkpoint covers, so any
figure can be re-derived by the overseer from a verified bundle. Scope: an overseer (or operator)
sees every nation; a tenant admin sees their own nation only.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from accord.ledger.checkpoint import SignedCheckpoint
from accord.ledger.record import Entry, format_time
from accord.principal import Principal, Role

SPILLAGE_CODE = "classification_exceeds_ceiling"
_GLOBAL_TARGETS = frozenset({"*", "all", "global", "everything"})


class ReportAccessDenied(PermissionError):
    pass


@dataclass(frozen=True, slots=True)
class ReportScope:
    nation: str | None  # None: every nation (overseer)

    @classmethod
    def for_principal(cls, principal: Principal) -> ReportScope:
        if principal.has_role(Role.OVERSEER) or principal.has_role(Role.OPERATOR):
            return cls(None)
        if principal.has_role(Role.TENANT_ADMIN):
            return cls(principal.nation)
        raise ReportAccessDenied("transparency reports need the overseer or tenant_admin role")

    @property
    def label(self) -> str:
        return "all nations" if self.nation is None else f"nation {self.nation}"


@dataclass(slots=True)
class Tally:
    requests: int = 0
    allowed: int = 0
    refused: int = 0
    reviews: int = 0
    redacted: int = 0
    errors: int = 0

    def add(self, record: dict[str, Any]) -> None:
        self.requests += 1
        decision = record.get("decision")
        self.allowed += decision == "allow"
        self.refused += decision == "deny"
        self.reviews += decision == "review"
        self.redacted += decision == "redact"
        self.errors += record.get("outcome") == "error"

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "allowed": self.allowed,
            "refused": self.refused,
            "reviews": self.reviews,
            "redacted": self.redacted,
            "errors": self.errors,
        }


@dataclass(slots=True)
class TransparencyReport:
    start: datetime
    end: datetime
    scope: ReportScope
    totals: Tally = field(default_factory=Tally)
    by_nation: dict[str, Tally] = field(default_factory=dict)
    by_agency_kind: dict[str, Tally] = field(default_factory=dict)
    by_code: Counter[str] = field(default_factory=Counter)
    spillage: list[dict[str, Any]] = field(default_factory=list)
    killswitch: list[dict[str, Any]] = field(default_factory=list)
    ledger_size: int = 0
    checkpoint: SignedCheckpoint | None = None
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _start_text: str = field(init=False, default="")
    _end_text: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self._start_text = format_time(self.start)
        self._end_text = format_time(self.end)

    def visit(self, entry: Entry) -> None:
        """Take one ledger entry (see ``Ledger.scan``)."""
        self.ledger_size = max(self.ledger_size, entry.index + 1)
        record = entry.record
        if not self._start_text <= record["time"] < self._end_text:
            return
        if record.get("kind") == "request":
            self._request(record)
        elif record.get("kind") == "admin" and str(record.get("act", "")).startswith("killswitch."):
            self._killswitch(record)

    def _request(self, record: dict[str, Any]) -> None:
        nation = str(record.get("nation", ""))
        if self.scope.nation is not None and nation != self.scope.nation:
            return
        self.totals.add(record)
        self.by_nation.setdefault(nation, Tally()).add(record)
        self.by_agency_kind.setdefault(str(record.get("agency_kind", "")), Tally()).add(record)
        codes = [str(code) for code in record.get("codes", [])]
        self.by_code.update(codes)
        if SPILLAGE_CODE in codes:
            classification = record.get("findings", {}).get("classification", {})
            self.spillage.append(
                {
                    "time": record["time"],
                    "nation": nation,
                    "agency_kind": record.get("agency_kind"),
                    "level": classification.get("level") if isinstance(classification, dict) else None,
                    "decision": record.get("decision"),
                    "outcome": record.get("outcome"),
                }
            )

    def _killswitch(self, record: dict[str, Any]) -> None:
        target = str(record.get("target", ""))
        details = record.get("details", {}) if isinstance(record.get("details"), dict) else {}
        if self.scope.nation is not None:
            nation = self.scope.nation
            concerns = (
                target.lower() in _GLOBAL_TARGETS
                or target.partition(":")[0].lower() in _GLOBAL_TARGETS  # engaged: "global:"
                or details.get("scope") == "global"  # released: target is the switch id
                or target == nation
                or target.endswith(f":{nation}")
                or details.get("nation") == nation
                or details.get("actor_nation") == nation
            )
            if not concerns:
                return
        self.killswitch.append({"time": record["time"], "act": record["act"], "target": target})

    def to_json(self) -> dict[str, Any]:
        checkpoint = self.checkpoint.to_json() if self.checkpoint else None
        return {
            "from": self._start_text,
            "to": self._end_text,
            "scope": self.scope.label,
            "generated_at": format_time(self.generated_at),
            "totals": self.totals.as_dict(),
            "by_nation": {k: v.as_dict() for k, v in sorted(self.by_nation.items())},
            "by_agency_kind": {k: v.as_dict() for k, v in sorted(self.by_agency_kind.items())},
            "by_code": dict(sorted(self.by_code.items())),
            "spillage_incidents": self.spillage,
            "killswitch_events": self.killswitch,
            "ledger": {"tree_size": self.ledger_size, "checkpoint": checkpoint},
        }

    def to_csv(self) -> str:
        """Long format: one ``section,key,metric,value`` row per figure."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["section", "key", "metric", "value"])
        for metric, value in self.totals.as_dict().items():
            writer.writerow(["totals", "all", metric, value])
        for section, table in (("nation", self.by_nation), ("agency_kind", self.by_agency_kind)):
            for key, tally in sorted(table.items()):
                for metric, value in tally.as_dict().items():
                    writer.writerow([section, key, metric, value])
        for code, count in sorted(self.by_code.items()):
            writer.writerow(["code", code, "requests", count])
        writer.writerow(["spillage", "all", "incidents", len(self.spillage)])
        writer.writerow(["killswitch", "all", "events", len(self.killswitch)])
        writer.writerow(["ledger", "all", "tree_size", self.ledger_size])
        return out.getvalue()

    def to_html(self) -> str:
        environment = Environment(
            loader=PackageLoader("accord.ledger", "templates"), autoescape=select_autoescape(default=True)
        )
        template = environment.get_template("transparency_report.html.j2")
        return template.render(
            report=self.to_json(),
            nation_chart=_bars({k: v.requests for k, v in self.by_nation.items()}),
            outcome_chart=_bars({k: v for k, v in self.totals.as_dict().items() if k != "requests"}),
            code_chart=_bars(dict(self.by_code)),
        )


def _bars(values: dict[str, int], width: int = 420) -> list[dict[str, Any]]:
    """Pre-computed horizontal bars for the template's inline SVG."""
    top = max(values.values(), default=0) or 1
    return [
        {"label": label, "value": value, "width": round(width * value / top)}
        for label, value in sorted(values.items(), key=lambda item: (-item[1], item[0]))
    ]
