"""The canonical, versioned byte encoding of one ledger record (one Merkle leaf).

Canonical form: JSON, keys sorted, no whitespace, UTF-8, no floats (a float becomes a fixed
six-decimal string, so every language re-encodes the same bytes). Version ``"v": 1``. The sequencer
wraps a record in an *entry* that also commits to its own index and entry id, so a reordered, deleted or
inserted leaf names itself. Standard library only: the offline verifier imports this module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

RECORD_VERSION = 1
DECISIONS = frozenset({"allow", "deny", "review", "redact"})
OUTCOMES = frozenset(
    {"answered", "refused", "cut_mid_stream", "parked_for_review", "client_disconnected", "error"}
)

JSONValue = Any


class InvalidRecord(ValueError):
    pass


def format_time(moment: datetime) -> str:
    """RFC 3339, UTC, always with microseconds."""
    if moment.tzinfo is None:
        raise InvalidRecord("record times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    if len(text) != 27 or not text.endswith("Z"):
        raise InvalidRecord(f"not an RFC 3339 UTC time with microseconds: {text!r}")
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidRecord(f"not an RFC 3339 UTC time with microseconds: {text!r}") from exc


_EXACT_SCALARS = frozenset({str, int, bool, type(None)})


def _plain(value: object) -> JSONValue:
    """Reduce to JSON types with no floats; reject anything ambiguous."""
    # Fast paths for the exact built-in types a record is made of (every request writes a record);
    # anything else, subclasses included, takes the general path below with the same outcome.
    kind = type(value)
    if kind in _EXACT_SCALARS:
        return value
    if kind is dict:
        mapping = cast(dict[object, object], value)
        if not all(isinstance(k, str) for k in mapping):
            raise InvalidRecord("record mapping keys must be strings")
        return {k: _plain(v) for k, v in mapping.items()}
    if kind is list or kind is tuple:
        return [_plain(v) for v in cast(Sequence[object], value)]
    return _plain_general(value)


def _plain_general(value: object) -> JSONValue:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRecord("non-finite number in record")
        return f"{value:.6f}"
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise InvalidRecord("record mapping keys must be strings")
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=lambda v: canonical_json(v))
    raise InvalidRecord(f"cannot encode {type(value).__name__} in a record")


# What json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# builds on every call, built once.
_DUMPS = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def canonical_json(value: object) -> bytes:
    return _DUMPS(_plain(value)).encode("utf-8")


def _reject_float(text: str) -> object:
    raise InvalidRecord(f"floats are not canonical: {text}")


_CANONICAL_DECODER = json.JSONDecoder(parse_float=_reject_float, parse_constant=_reject_float)
_CANONICAL_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_canonical(data: bytes) -> JSONValue:
    """Parse JSON and insist it is in canonical form (the verifier's hot path: C json both ways)."""
    try:
        value = _CANONICAL_DECODER.decode(data.decode("utf-8"))
    except ValueError as exc:
        raise InvalidRecord(f"not JSON: {exc}") from exc
    if _CANONICAL_ENCODER.encode(value).encode("utf-8") != data:
        raise InvalidRecord("not in canonical form")
    return value


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One gateway decision. ``principal`` is already a pseudonym and ``content_hash`` already salted:
    see :mod:`accord.ledger.pseudonym`. ``findings`` is a summary, never content."""

    time: datetime
    request_id: str
    principal: str
    nation: str
    organisation: str
    agency_kind: str
    route: str
    model: str
    decision: str
    codes: tuple[str, ...]
    policy_ids: tuple[str, ...]
    bundle_version: str
    findings: Mapping[str, object]
    content_hash: str
    outcome: str
    response_hash: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise InvalidRecord(f"decision must be one of {sorted(DECISIONS)}, not {self.decision!r}")
        if self.outcome not in OUTCOMES:
            raise InvalidRecord(f"outcome must be one of {sorted(OUTCOMES)}, not {self.outcome!r}")
        if not self.request_id:
            raise InvalidRecord("request_id is required")
        format_time(self.time)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "v": RECORD_VERSION,
            "kind": "request",
            "time": format_time(self.time),
            "request_id": self.request_id,
            "principal": self.principal,
            "nation": self.nation,
            "organisation": self.organisation,
            "agency_kind": str(self.agency_kind),
            "route": self.route,
            "model": self.model,
            "decision": self.decision,
            "codes": list(self.codes),
            "policy_ids": list(self.policy_ids),
            "bundle_version": self.bundle_version,
            "findings": _plain(self.findings),
            "content_hash": self.content_hash,
            "response_hash": self.response_hash,
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "outcome": self.outcome,
        }

    def encode(self) -> bytes:
        return canonical_json(self.to_json())


@dataclass(frozen=True, slots=True)
class AdminRecord:
    """One administrative act (key issued, kill switch set, incident decrypted...)."""

    time: datetime
    actor: str
    act: str
    target: str
    details: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.act:
            raise InvalidRecord("act is required")
        format_time(self.time)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "v": RECORD_VERSION,
            "kind": "admin",
            "time": format_time(self.time),
            "actor": self.actor,
            "act": self.act,
            "target": self.target,
            "details": _plain(self.details),
        }

    def encode(self) -> bytes:
        return canonical_json(self.to_json())


def decode_record(data: bytes | Mapping[str, JSONValue]) -> RequestRecord | AdminRecord:
    """Inverse of ``encode`` (floats stay the strings they were encoded as)."""
    raw = json.loads(data) if isinstance(data, bytes) else data
    if not isinstance(raw, Mapping) or raw.get("v") != RECORD_VERSION:
        raise InvalidRecord("unknown record version")
    try:
        if raw["kind"] == "admin":
            return AdminRecord(
                time=parse_time(raw["time"]),
                actor=raw["actor"],
                act=raw["act"],
                target=raw["target"],
                details=raw["details"],
            )
        if raw["kind"] == "request":
            tokens = raw["tokens"]
            return RequestRecord(
                time=parse_time(raw["time"]),
                request_id=raw["request_id"],
                principal=raw["principal"],
                nation=raw["nation"],
                organisation=raw["organisation"],
                agency_kind=raw["agency_kind"],
                route=raw["route"],
                model=raw["model"],
                decision=raw["decision"],
                codes=tuple(raw["codes"]),
                policy_ids=tuple(raw["policy_ids"]),
                bundle_version=raw["bundle_version"],
                findings=raw["findings"],
                content_hash=raw["content_hash"],
                response_hash=raw["response_hash"],
                prompt_tokens=tokens["prompt"],
                completion_tokens=tokens["completion"],
                outcome=raw["outcome"],
            )
    except (KeyError, TypeError) as exc:
        raise InvalidRecord(f"record is missing or mistypes a field: {exc}") from exc
    raise InvalidRecord(f"unknown record kind {raw.get('kind')!r}")


@dataclass(frozen=True, slots=True)
class Entry:
    """A sequenced leaf: the record plus the index and entry id it was given."""

    index: int
    entry_id: str
    record: dict[str, JSONValue]

    def encode(self) -> bytes:
        return canonical_json({"entry_id": self.entry_id, "index": self.index, "record": self.record})

    @classmethod
    def wrap(cls, index: int, entry_id: str, record_bytes: bytes) -> bytes:
        """Build the leaf from already-canonical record bytes without re-parsing them."""
        head = canonical_json({"entry_id": entry_id, "index": index})[:-1]
        return head + b',"record":' + record_bytes + b"}"

    @classmethod
    def decode(cls, leaf: bytes) -> Entry:
        """Parse and check a leaf is canonical and well-formed; raises ``InvalidRecord``."""
        raw = parse_canonical(leaf)
        if not isinstance(raw, dict) or set(raw) != {"entry_id", "index", "record"}:
            raise InvalidRecord("leaf does not have exactly entry_id, index and record")
        index, entry_id, record = raw["index"], raw["entry_id"], raw["record"]
        if not isinstance(index, int) or not isinstance(entry_id, str) or not isinstance(record, dict):
            raise InvalidRecord("leaf fields have the wrong types")
        if not isinstance(record.get("time"), str):
            raise InvalidRecord("record has no time")
        parse_time(record["time"])
        if record.get("v") != RECORD_VERSION:
            raise InvalidRecord(f"unknown record version {record.get('v')!r}")
        return cls(index=index, entry_id=entry_id, record=record)
