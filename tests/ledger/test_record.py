import json
from datetime import UTC, datetime

import pytest

from accord.ledger.record import (
    AdminRecord,
    Entry,
    InvalidRecord,
    RequestRecord,
    canonical_json,
    decode_record,
    parse_canonical,
)

from .ledger_samples import admin_record, request_record


def test_request_record_encodes_canonically_with_version() -> None:
    data = request_record(1).encode()
    raw = json.loads(data)
    assert raw["v"] == 1 and raw["kind"] == "request"
    assert raw["time"] == "2026-11-26T12:00:00.001000Z"
    assert list(raw) == sorted(raw)
    assert b" " not in data.replace(b"/v1/chat", b"")
    # Floats never reach the leaf: they become fixed six-decimal strings.
    assert raw["findings"]["intents"]["weapons"] == "0.125000"
    assert parse_canonical(data) == raw


def test_encoding_is_deterministic_and_roundtrips() -> None:
    record = request_record(5, decision="deny", codes=("classification_exceeds_ceiling",))
    assert (
        record.encode()
        == request_record(5, decision="deny", codes=("classification_exceeds_ceiling",)).encode()
    )
    decoded = decode_record(record.encode())
    assert isinstance(decoded, RequestRecord)
    assert decoded.encode() == record.encode()
    admin = admin_record(3)
    assert decode_record(admin.encode()) == AdminRecord(
        time=admin.time, actor=admin.actor, act=admin.act, target=admin.target, details={"on": True}
    )


def test_sets_encode_as_sorted_lists() -> None:
    assert canonical_json({"intents": frozenset({"weapons", "surveillance"})}) == (
        b'{"intents":["surveillance","weapons"]}'
    )


def test_invalid_records_are_refused() -> None:
    with pytest.raises(InvalidRecord):
        request_record(1, decision="maybe")
    with pytest.raises(InvalidRecord):
        AdminRecord(time=datetime(2026, 1, 1), actor="a", act="key.create", target="t")  # naive time
    with pytest.raises(InvalidRecord):
        canonical_json({"x": float("nan")})
    with pytest.raises(InvalidRecord):
        canonical_json({"x": b"raw bytes"})
    with pytest.raises(InvalidRecord):
        decode_record(b'{"v":2,"kind":"admin"}')


def test_non_canonical_json_is_rejected() -> None:
    with pytest.raises(InvalidRecord):
        parse_canonical(b'{"b":1,"a":2}')
    with pytest.raises(InvalidRecord):
        parse_canonical(b'{"a": 2}')
    with pytest.raises(InvalidRecord):
        parse_canonical(b'{"a":2.5}')


def test_entry_wrap_is_the_canonical_entry() -> None:
    record = request_record(9)
    leaf = Entry.wrap(42, "e" * 32, record.encode())
    entry = Entry.decode(leaf)
    assert (entry.index, entry.entry_id) == (42, "e" * 32)
    assert entry.encode() == leaf
    assert entry.record == json.loads(record.encode())


def test_entry_decode_rejects_unknown_versions_and_shapes() -> None:
    time = datetime(2026, 1, 1, tzinfo=UTC)
    good = AdminRecord(time=time, actor="a", act="key.create", target="t").encode()
    with pytest.raises(InvalidRecord):
        Entry.decode(Entry.wrap(0, "x", good.replace(b'"v":1', b'"v":7')))
    with pytest.raises(InvalidRecord):
        Entry.decode(canonical_json({"index": 0, "record": json.loads(good)}))
    with pytest.raises(InvalidRecord):
        Entry.decode(Entry.wrap(0, "x", good.replace(b"2026-01-01T00:00:00.000000Z", b"yesterday")))
