"""Sample records shared by the ledger tests and the benchmark."""

from datetime import UTC, datetime, timedelta

from accord.ledger.record import AdminRecord, RequestRecord

BASE_TIME = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def request_record(n: int, *, decision: str = "allow", codes: tuple[str, ...] = ()) -> RequestRecord:
    return RequestRecord(
        time=BASE_TIME + timedelta(milliseconds=n),
        request_id=f"req-{n}",
        principal=f"pseud-{n % 7}",
        nation=["USA", "FRA", "DEU"][n % 3],
        organisation="org",
        agency_kind="military",
        route="/v1/chat/completions",
        model="small",
        decision=decision,
        codes=codes,
        policy_ids=("agreement.v1",),
        bundle_version="2026.11.1",
        findings={"classification": {"level": "UNCLASSIFIED", "rank": 0}, "intents": {"weapons": 0.125}},
        content_hash="ab" * 32,
        outcome="answered" if decision == "allow" else "refused",
        prompt_tokens=12,
        completion_tokens=34,
    )


def admin_record(n: int) -> AdminRecord:
    return AdminRecord(
        time=BASE_TIME + timedelta(milliseconds=n),
        actor="pseud-admin",
        act="killswitch.set",
        target="model:small",
        details={"on": True},
    )
