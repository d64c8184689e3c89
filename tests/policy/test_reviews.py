from pathlib import Path

import pytest
import sqlalchemy as sa

from accord.audit import MemoryAudit
from accord.policy.reviews import ReviewError, ReviewForbidden, ReviewQueue, load_or_create_key
from accord.policy.tables import ReviewRow
from accord.principal import AgencyKind, Principal, Role

SUBMITTER = Principal("u1", "FRA", "army", AgencyKind.MILITARY)
FRA_ADMIN = Principal("a1", "FRA", "army", AgencyKind.MILITARY, frozenset({Role.TENANT_ADMIN}))
DEU_ADMIN = Principal("a2", "DEU", "bw", AgencyKind.MILITARY, frozenset({Role.TENANT_ADMIN}))
OFFICER = Principal("s1", "NATO", "sec", AgencyKind.CIVIL, frozenset({Role.SECURITY_OFFICER}))
SELF_ADMIN = Principal("u1", "FRA", "army", AgencyKind.MILITARY, frozenset({Role.TENANT_ADMIN}))
BODY = {"messages": [{"role": "user", "content": "track the vessel owner"}]}


def make_queue(tmp_path: Path, audit: MemoryAudit | None = None) -> ReviewQueue:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'r.db'}")
    ReviewRow.metadata.create_all(engine, tables=[ReviewRow.__table__])  # type: ignore[list-item]
    return ReviewQueue(engine, load_or_create_key(tmp_path / "keys" / "reviews.key"), audit or MemoryAudit())


async def park(queue: ReviewQueue) -> str:
    return await queue.park(
        SUBMITTER,
        "chat",
        "llama",
        ("policy_targeted_surveillance_review",),
        ("review_targeted_surveillance",),
        BODY,
    )


async def test_park_persists_encrypted_and_survives_restart(tmp_path: Path) -> None:
    review_id = await park(make_queue(tmp_path))
    assert review_id.startswith("rev_")
    assert (tmp_path / "keys" / "reviews.key").stat().st_mode & 0o777 == 0o600
    assert b"vessel" not in (tmp_path / "r.db").read_bytes()
    again = make_queue(tmp_path)
    review = await again.get(review_id)
    assert review.status == "pending" and review.codes == ("policy_targeted_surveillance_review",)
    assert [r.id for r in await again.list(status="pending", nation="FRA")] == [review_id]
    assert await again.list(nation="DEU") == []


async def test_approval_rules_and_single_claim(tmp_path: Path) -> None:
    audit = MemoryAudit()
    queue = make_queue(tmp_path, audit)
    review_id = await park(queue)
    with pytest.raises(ReviewForbidden):
        await queue.approve(review_id, SELF_ADMIN, "mine")
    with pytest.raises(ReviewForbidden):
        await queue.approve(review_id, DEU_ADMIN, "other nation")
    with pytest.raises(ReviewError):
        await queue.claim_for_execution(review_id, SUBMITTER)
    approved = await queue.approve(review_id, FRA_ADMIN, "lawful, foreign target")
    assert approved.status == "approved" and approved.approver == "a1"
    assert audit.acts == [
        (
            "a1",
            "review.approved",
            review_id,
            {"comment": "lawful, foreign target", "codes": ["policy_targeted_surveillance_review"]},
        )
    ]
    with pytest.raises(ReviewError):
        await queue.claim_for_execution(review_id, OFFICER)
    assert await queue.claim_for_execution(review_id, SUBMITTER) == BODY
    assert (await queue.get(review_id)).status == "running"
    with pytest.raises(ReviewError):
        await queue.claim_for_execution(review_id, SUBMITTER)
    await queue.store_result(review_id, {"text": "done"})
    assert (await queue.get(review_id)).status == "completed"
    assert queue.result_sync(review_id, SUBMITTER) == {"text": "done"}
    with pytest.raises(ReviewError):
        await queue.store_result(review_id, {"text": "twice"})


async def test_a_failed_execution_keeps_the_approval_for_a_retry(tmp_path: Path) -> None:
    queue = make_queue(tmp_path)
    review_id = await park(queue)
    await queue.approve(review_id, FRA_ADMIN, "ok")
    assert await queue.claim_for_execution(review_id, SUBMITTER) == BODY
    await queue.release_claim(review_id)  # e.g. the upstream was down
    assert (await queue.get(review_id)).status == "approved"
    assert await queue.claim_for_execution(review_id, SUBMITTER) == BODY
    await queue.store_result(review_id, {"text": "done"})
    await queue.release_claim(review_id)  # a late release cannot undo a completed review
    assert (await queue.get(review_id)).status == "completed"


async def test_officer_may_deny_any_nation(tmp_path: Path) -> None:
    queue = make_queue(tmp_path)
    review_id = await park(queue)
    denied = await queue.deny(review_id, OFFICER, "no")
    assert denied.status == "denied"
    with pytest.raises(ReviewError):
        await queue.approve(review_id, OFFICER, "changed mind")
