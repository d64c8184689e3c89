"""The review queue: requests parked for a human, with their content encrypted at rest.

Who may approve: a ``security_officer`` or ``operator`` any request; a ``tenant_admin`` only requests
from their own nation; nobody their own request. Only the submitter may claim an approved request,
once.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from accord.audit import AdminAudit
from accord.config import Settings
from accord.policy.tables import ReviewRow
from accord.principal import Principal, Role

STATUSES = ("pending", "approved", "denied", "completed", "expired")


class ReviewError(Exception):
    """Unknown review, wrong state, or a caller without the right to act on it."""


class ReviewForbidden(ReviewError):
    pass


class ReviewNotFound(ReviewError):
    pass


def load_or_create_key(path: Path) -> bytes:
    """The AES-256 key for parked bodies; created 0600 on first use."""
    if path.exists():
        key = path.read_bytes()
        if len(key) != 32:
            raise ReviewError(f"{path}: expected a 32-byte key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = AESGCM.generate_key(bit_length=256)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


@dataclass(frozen=True, slots=True)
class Review:
    id: str
    created_at: datetime
    principal_id: str
    nation: str
    organisation: str
    agency_kind: str
    route: str
    model: str
    codes: tuple[str, ...]
    policy_ids: tuple[str, ...]
    status: str
    approver: str | None
    comment: str | None
    decided_at: datetime | None

    def to_json(self) -> dict[str, object]:
        """Metadata only: the parked content is never part of a listing."""
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "principal_id": self.principal_id,
            "nation": self.nation,
            "organisation": self.organisation,
            "agency_kind": self.agency_kind,
            "route": self.route,
            "model": self.model,
            "codes": list(self.codes),
            "policy_ids": list(self.policy_ids),
            "status": self.status,
            "approver": self.approver,
            "comment": self.comment,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


def may_approve(approver: Principal, review: Review) -> bool:
    if approver.id == review.principal_id:
        return False
    if approver.has_role(Role.SECURITY_OFFICER) or approver.has_role(Role.OPERATOR):
        return True
    return approver.has_role(Role.TENANT_ADMIN) and approver.nation == review.nation


class ReviewQueue:
    def __init__(self, engine: Engine, key: bytes | Settings, audit: AdminAudit) -> None:
        """`key` is the AES key, or settings whose ``keys_dir / "reviews.key"`` holds (or will hold) it."""
        if isinstance(key, Settings):
            key = load_or_create_key(key.keys_dir / "reviews.key")
        self._engine = engine
        self._aead = AESGCM(key)
        self._audit = audit

    def _seal(self, review_id: str, kind: bytes, payload: object) -> bytes:
        nonce = secrets.token_bytes(12)
        data = json.dumps(payload).encode()
        return nonce + self._aead.encrypt(nonce, data, review_id.encode() + b"|" + kind)

    def _open(self, review_id: str, kind: bytes, sealed: bytes) -> object:
        return json.loads(self._aead.decrypt(sealed[:12], sealed[12:], review_id.encode() + b"|" + kind))

    def park_sync(
        self,
        principal: Principal,
        route: str,
        model: str,
        codes: tuple[str, ...],
        policy_ids: tuple[str, ...],
        body: object,
    ) -> str:
        review_id = "rev_" + secrets.token_urlsafe(16)
        row = ReviewRow(
            id=review_id,
            created_at=datetime.now(UTC),
            principal_id=principal.id,
            nation=principal.nation,
            organisation=principal.organisation,
            agency_kind=str(principal.agency_kind),
            route=route,
            model=model,
            codes=json.dumps(list(codes)),
            policy_ids=json.dumps(list(policy_ids)),
            status="pending",
            body=self._seal(review_id, b"body", body),
        )
        with Session(self._engine) as session, session.begin():
            session.add(row)
        return review_id

    async def park(
        self,
        principal: Principal,
        route: str,
        model: str,
        codes: tuple[str, ...],
        policy_ids: tuple[str, ...],
        body: object,
    ) -> str:
        return await asyncio.to_thread(self.park_sync, principal, route, model, codes, policy_ids, body)

    def get_sync(self, review_id: str) -> Review:
        with Session(self._engine) as session:
            row = session.get(ReviewRow, review_id)
            if row is None:
                raise ReviewNotFound(f"no review {review_id}")
            return _review(row)

    async def get(self, review_id: str) -> Review:
        return await asyncio.to_thread(self.get_sync, review_id)

    def list_sync(
        self, status: str | None = None, nation: str | None = None, limit: int = 200
    ) -> list[Review]:
        query = select(ReviewRow).order_by(ReviewRow.created_at.desc()).limit(limit)
        if status is not None:
            query = query.where(ReviewRow.status == status)
        if nation is not None:
            query = query.where(ReviewRow.nation == nation)
        with Session(self._engine) as session:
            return [_review(r) for r in session.scalars(query)]

    async def list(
        self, status: str | None = None, nation: str | None = None, limit: int = 200
    ) -> list[Review]:
        return await asyncio.to_thread(self.list_sync, status, nation, limit)

    async def approve(self, review_id: str, approver: Principal, comment: str) -> Review:
        return await self._decide(review_id, approver, comment, "approved")

    async def deny(self, review_id: str, approver: Principal, comment: str) -> Review:
        return await self._decide(review_id, approver, comment, "denied")

    async def _decide(self, review_id: str, approver: Principal, comment: str, status: str) -> Review:
        review = await self.get(review_id)
        if not may_approve(approver, review):
            raise ReviewForbidden("you may not decide this review")
        if review.status != "pending":
            raise ReviewError(f"review is {review.status}, not pending")
        await self._audit.record_admin_act(
            approver, f"review.{status}", review_id, {"comment": comment, "codes": list(review.codes)}
        )
        return await asyncio.to_thread(self._set_decision, review_id, approver.id, comment, status)

    def _set_decision(self, review_id: str, approver_id: str, comment: str, status: str) -> Review:
        with Session(self._engine) as session, session.begin():
            row = session.get(ReviewRow, review_id, with_for_update=True)
            if row is None or row.status != "pending":
                raise ReviewError("review changed while deciding")
            row.status = status
            row.approver = approver_id
            row.comment = comment
            row.decided_at = datetime.now(UTC)
            return _review(row)

    def claim_sync(self, review_id: str, caller: Principal) -> object:
        with Session(self._engine) as session, session.begin():
            row = session.get(ReviewRow, review_id, with_for_update=True)
            if row is None or row.principal_id != caller.id:
                raise ReviewNotFound(f"no review {review_id}")
            if row.status != "approved":
                raise ReviewError(f"review is {row.status}, not approved")
            row.status = "running"
            return self._open(review_id, b"body", row.body)

    async def claim_for_execution(self, review_id: str, caller: Principal) -> object:
        """Returns the parked body to exactly one caller; the review is ``running`` until settled."""
        return await asyncio.to_thread(self.claim_sync, review_id, caller)

    def release_claim_sync(self, review_id: str) -> None:
        with Session(self._engine) as session, session.begin():
            row = session.get(ReviewRow, review_id, with_for_update=True)
            if row is not None and row.status == "running":
                row.status = "approved"

    async def release_claim(self, review_id: str) -> None:
        """The approved request could not be carried out (upstream down, kill switch): allow a retry."""
        await asyncio.to_thread(self.release_claim_sync, review_id)

    def store_result_sync(self, review_id: str, result: object) -> None:
        with Session(self._engine) as session, session.begin():
            row = session.get(ReviewRow, review_id, with_for_update=True)
            if row is None or row.status != "running":
                raise ReviewError(f"review {review_id} was not executed")
            row.result = self._seal(review_id, b"result", result)
            row.status = "completed"

    async def store_result(self, review_id: str, result: object) -> None:
        await asyncio.to_thread(self.store_result_sync, review_id, result)

    def result_sync(self, review_id: str, caller: Principal) -> object | None:
        with Session(self._engine) as session:
            row = session.get(ReviewRow, review_id)
            if row is None or row.principal_id != caller.id:
                raise ReviewNotFound(f"no review {review_id}")
            return None if row.result is None else self._open(review_id, b"result", row.result)

    async def result(self, review_id: str, caller: Principal) -> object | None:
        return await asyncio.to_thread(self.result_sync, review_id, caller)


def _review(row: ReviewRow) -> Review:
    return Review(
        id=row.id,
        created_at=row.created_at,
        principal_id=row.principal_id,
        nation=row.nation,
        organisation=row.organisation,
        agency_kind=row.agency_kind,
        route=row.route,
        model=row.model,
        codes=tuple(json.loads(row.codes)),
        policy_ids=tuple(json.loads(row.policy_ids)),
        status=row.status,
        approver=row.approver,
        comment=row.comment,
        decided_at=row.decided_at,
    )
