"""What an incident looks like to callers: metadata and findings, never the spilled text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from accord.inspect.text import Segment


class IncidentStatus(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    CLOSED = "closed"
    PURGED = "purged"


class Direction(StrEnum):
    REQUEST = "request"
    RESPONSE = "response"


class MarkingHit(Protocol):
    """One marking the scanner found; offsets are into the joined text of the segments it scanned."""

    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def marking(self) -> object: ...
    @property
    def scheme(self) -> object: ...
    @property
    def level(self) -> object: ...
    @property
    def rank(self) -> int: ...
    @property
    def kind(self) -> object: ...
    @property
    def evasion(self) -> object: ...


class Classification(Protocol):
    """The part of `accord.inspect.markings.ClassificationResult` an incident records."""

    @property
    def level(self) -> object: ...
    @property
    def rank(self) -> int: ...
    @property
    def scheme(self) -> object: ...
    @property
    def hits(self) -> Sequence[MarkingHit]: ...


@dataclass(frozen=True, slots=True)
class HitLocation:
    """Where a marking was, without the text: segment path, offsets within it, what matched."""

    path: str | None
    start: int
    end: int
    marking: str
    scheme: str
    level: str
    rank: int
    kind: str
    evasion: str | bool | None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "start": self.start,
            "end": self.end,
            "marking": self.marking,
            "scheme": self.scheme,
            "level": self.level,
            "rank": self.rank,
            "kind": self.kind,
            "evasion": self.evasion,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HitLocation:
        return cls(
            path=data["path"],
            start=int(data["start"]),
            end=int(data["end"]),
            marking=str(data["marking"]),
            scheme=str(data["scheme"]),
            level=str(data["level"]),
            rank=int(data["rank"]),
            kind=str(data["kind"]),
            evasion=data["evasion"],
        )


@dataclass(frozen=True, slots=True)
class IncidentNote:
    author_id: str
    created_at: datetime
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"author": self.author_id, "created_at": self.created_at.isoformat(), "text": self.text}


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    created_at: datetime
    request_id: str
    principal_id: str
    nation: str
    organisation: str
    agency_kind: str
    route: str
    model: str | None
    direction: Direction
    marking: str
    level: str
    rank: int
    scheme: str
    hits: tuple[HitLocation, ...]
    content_hash: str
    status: IncidentStatus
    resolution: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    purged_at: datetime | None = None
    purged_by: str | None = None
    quarantine_key_id: str | None = None
    notes: tuple[IncidentNote, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "request_id": self.request_id,
            "principal_id": self.principal_id,
            "nation": self.nation,
            "organisation": self.organisation,
            "agency_kind": self.agency_kind,
            "route": self.route,
            "model": self.model,
            "direction": self.direction.value,
            "marking": self.marking,
            "level": self.level,
            "rank": self.rank,
            "scheme": self.scheme,
            "hits": [hit.to_json() for hit in self.hits],
            "content_hash": self.content_hash,
            "status": self.status.value,
            "resolution": self.resolution,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "closed_by": self.closed_by,
            "purged_at": self.purged_at.isoformat() if self.purged_at else None,
            "purged_by": self.purged_by,
            "quarantined": self.quarantine_key_id is not None,
            "quarantine_key_id": self.quarantine_key_id,
            "notes": [note.to_json() for note in self.notes],
        }


@dataclass(frozen=True, slots=True)
class QuarantinedText:
    """The spilled text, only ever built after the decryption was recorded in the ledger."""

    incident_id: str
    segments: tuple[Segment, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id,
            "segments": [{"path": segment.path, "text": segment.text} for segment in self.segments],
        }
