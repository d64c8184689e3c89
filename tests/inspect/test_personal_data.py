from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.inspect.intent import DetectorError
from accord.inspect.personal_data import PersonalDataDetector, PersonalDataResult

LABELLED = Path(__file__).resolve().parents[1] / "data" / "intent" / "personal_data.jsonl"
SALT = b"test-salt-0123456789abcdef"


@pytest.fixture(scope="module")
def detector() -> PersonalDataDetector:
    return PersonalDataDetector(SALT)


def kinds(result: PersonalDataResult, text: str) -> list[tuple[str, str]]:
    return [(entity.kind, text[entity.start : entity.end]) for entity in result.entities]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("123-45-6789", True),
        ("000-12-3456", False),
        ("666-12-3456", False),
        ("912-34-5678", False),
        ("123-00-4567", False),
        ("123-45-0000", False),
        ("078-05-1120", False),
    ],
)
def test_ssn_validity_rules(detector: PersonalDataDetector, value: str, valid: bool) -> None:
    text = f"Employee record: {value}."
    assert (("ssn", value) in kinds(detector.scan(text), text)) is valid


def test_bare_nine_digits_are_an_ssn_only_with_context(detector: PersonalDataDetector) -> None:
    assert kinds(detector.scan("SSN: 123456789"), "SSN: 123456789") == [("ssn", "123456789")]
    assert not detector.scan("Order 123456789 shipped").entities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call (212) 555-0198 today", "(212) 555-0198"),
        ("Call +1 415 555 2671 today", "+1 415 555 2671"),
        ("Call 703.555.0142 today", "703.555.0142"),
    ],
)
def test_us_phone_numbers(detector: PersonalDataDetector, text: str, expected: str) -> None:
    assert kinds(detector.scan(text), text) == [("phone", expected)]


def test_phone_rules_reject_impossible_numbers(detector: PersonalDataDetector) -> None:
    assert not detector.scan("Call (111) 555-0198 or 212-011-1234").entities


def test_iban_needs_a_valid_checksum(detector: PersonalDataDetector) -> None:
    good = "Pay to DE89 3704 0044 0532 0130 00 please"
    bad = "Pay to DE88 3704 0044 0532 0130 00 please"
    assert kinds(detector.scan(good), good) == [("iban", "DE89 3704 0044 0532 0130 00")]
    assert not detector.scan(bad).entities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DNI 12345678Z", "12345678Z"),
        ("NIE X1234567L", "X1234567L"),
        ("codice fiscale RSSMRA85T10A562S", "RSSMRA85T10A562S"),
        ("PESEL 44051401359", "44051401359"),
        ("BSN: 111222333", "111222333"),
        ("NIR 1 85 05 78 006 084 91", "1 85 05 78 006 084 91"),
    ],
)
def test_national_ids(detector: PersonalDataDetector, text: str, expected: str) -> None:
    assert kinds(detector.scan(text), text) == [("national_id", expected)]


def test_national_id_checksums_reject_typos(detector: PersonalDataDetector) -> None:
    assert not detector.scan("DNI 12345678A, PESEL 44051401358, BSN: 111222334").entities


def test_passport_needs_context(detector: PersonalDataDetector) -> None:
    text = "US passport number 912803456 expires next year"
    assert kinds(detector.scan(text), text) == [("passport", "912803456")]


def test_addresses_and_names(detector: PersonalDataDetector) -> None:
    text = "Sgt. Maria Lopez moved to 1600 Pennsylvania Avenue NW, Washington, DC 20500; John Smith stays."
    found = kinds(detector.scan(text), text)
    assert ("name", "Sgt. Maria Lopez") in found
    assert ("address", "1600 Pennsylvania Avenue NW, Washington, DC 20500") in found
    assert ("name", "John Smith") in found


def test_names_in_other_scripts_keep_character_offsets(detector: PersonalDataDetector) -> None:
    text = "Zgłoszenie: Łukasz Wiśniewski i Ayşe Demir, e-mail a.demir@msb.gov.tr"
    found = kinds(detector.scan(text), text)
    assert ("name", "Łukasz Wiśniewski") in found
    assert ("name", "Ayşe Demir") in found
    assert ("email", "a.demir@msb.gov.tr") in found


def test_us_person_signals_are_reported_separately(detector: PersonalDataDetector) -> None:
    text = "She is a U.S. citizen, green card holder before that, living in Chicago, Texas; SSN 123-45-6789."
    result = detector.scan(text)
    signal_kinds = {signal.kind for signal in result.us_person_signals}
    assert {"citizenship", "us_city", "us_state", "us_ssn"} <= signal_kinds
    assert {entity.kind for entity in result.entities} == {"ssn"}


def test_identifiers_are_salted_hashes_not_values(detector: PersonalDataDetector) -> None:
    text = "Mail j.harper@example.com or J.Harper@Example.com"
    result = detector.scan(text)
    assert len(result.entities) == 2
    assert len(result.identifiers) == 1  # the same address, normalised
    identifier = next(iter(result.identifiers))
    assert "harper" not in identifier and "harper" not in json.dumps(result.to_json())
    other = PersonalDataDetector(b"another-salt-0123456789").scan(text)
    assert other.identifiers.isdisjoint(result.identifiers)


def test_redact_masks_every_entity(detector: PersonalDataDetector) -> None:
    text = "Write to Dr. Anna Schulz at anna.schulz@bundeswehr.org or (212) 555-0198."
    assert detector.redact(text) == "Write to [NAME] at [EMAIL] or [PHONE]."


def test_counts(detector: PersonalDataDetector) -> None:
    result = detector.scan("SSN 123-45-6789 and 234-56-7890, mail ops@navy.mil, a U.S. citizen")
    assert result.counts() == {"ssn": 2, "email": 1, "us_person:us_ssn": 2, "us_person:citizenship": 1}


def test_a_short_salt_is_refused() -> None:
    with pytest.raises(DetectorError):
        PersonalDataDetector(b"short")


def _labelled() -> list[dict[str, object]]:
    return [json.loads(line) for line in LABELLED.read_text("utf-8").splitlines() if line.strip()]


def test_recall_and_precision_on_the_labelled_set(detector: PersonalDataDetector) -> None:
    expected_total = found_total = false_total = 0
    for case in _labelled():
        text = str(case["text"])
        entities = detector.scan(text).entities
        expected = case["entities"]
        assert isinstance(expected, list)
        expected_total += len(expected)
        for item in expected:
            if any(
                e.kind == item["kind"] and e.start < item["end"] and item["start"] < e.end for e in entities
            ):
                found_total += 1
        if not expected:
            false_total += len(entities)
    assert found_total / expected_total >= 0.95
    assert false_total == 0  # the negative cases: GUIDs, order numbers, invalid SSNs and IBANs, timestamps
