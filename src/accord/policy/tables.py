"""Durable state of the policy services: parked reviews and kill switches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from accord.store.base import Base


class ReviewRow(Base):
    __tablename__ = "policy_reviews"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    principal_id: Mapped[str] = mapped_column(String(40), index=True)
    nation: Mapped[str] = mapped_column(String(16), index=True)
    organisation: Mapped[str] = mapped_column(String(200))
    agency_kind: Mapped[str] = mapped_column(String(32))
    route: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200))
    codes: Mapped[str] = mapped_column(Text)
    policy_ids: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    approver: Mapped[str | None] = mapped_column(String(40), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    result: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class KillSwitchRow(Base):
    __tablename__ = "policy_killswitches"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    engaged_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    engaged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    active: Mapped[bool] = mapped_column(Boolean, index=True)
    released_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class KillSwitchVersion(Base):
    """One row whose counter bumps on every change, so replicas poll one cheap value."""

    __tablename__ = "policy_killswitch_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
