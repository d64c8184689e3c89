"""The incident tables. The sealed text has its own table so listing incidents never reads it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from accord.store.base import Base


class IncidentRow(Base):
    __tablename__ = "incident_records"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    request_id: Mapped[str] = mapped_column(String(128), index=True)
    principal_id: Mapped[str] = mapped_column(String(255))
    nation: Mapped[str] = mapped_column(String(16))
    organisation: Mapped[str] = mapped_column(String(255))
    agency_kind: Mapped[str] = mapped_column(String(32))
    route: Mapped[str] = mapped_column(String(255))
    model: Mapped[str | None] = mapped_column(String(255))
    direction: Mapped[str] = mapped_column(String(16))
    marking: Mapped[str] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(Integer)
    scheme: Mapped[str] = mapped_column(String(64))
    hits: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    resolution: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(255))
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    purged_by: Mapped[str | None] = mapped_column(String(255))


class IncidentNoteRow(Base):
    __tablename__ = "incident_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incident_records.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    author_id: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)


class QuarantineRow(Base):
    """One sealed blob per incident; deleted (after being overwritten) when the incident is purged."""

    __tablename__ = "incident_quarantine"

    incident_id: Mapped[str] = mapped_column(ForeignKey("incident_records.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class AlertRow(Base):
    """The out-of-band alert outbox: written in the incident's transaction, delivered by a worker."""

    __tablename__ = "incident_alerts"
    __table_args__ = (Index("ix_incident_alerts_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incident_records.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
