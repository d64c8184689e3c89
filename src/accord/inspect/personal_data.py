"""Personal data in a text: identifiers of people, and signals that a person may be a U.S. person.

All patterns are compiled into one Hyperscan database and found in a single pass; candidates are then
validated (SSN area rules, NANP phone rules, IBAN mod-97, national-ID checksums) and overlaps resolved.
Findings carry a salted hash of the normalised value, never the value, so they can be stored and counted
across requests (see ``accord.inspect.volume``).

Limits: names are a heuristic (a listed given name or a title followed by capitalised words); U.S.-person
signals are risk indicators for the policy, not a legal determination of anyone's status.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import hyperscan
import numpy as np
import yaml

from accord.inspect.intent.errors import DetectorError

# Entity kinds (the ``kind`` of an ``Entity`` in ``PersonalDataResult.entities``).
EMAIL, PHONE, SSN, IBAN, PASSPORT, NATIONAL_ID, ADDRESS, NAME = (
    "email",
    "phone",
    "ssn",
    "iban",
    "passport",
    "national_id",
    "address",
    "name",
)
# U.S.-person signal kinds (in ``PersonalDataResult.us_person_signals``).
CITIZENSHIP, US_STATE, US_CITY, US_SSN, US_PHONE, US_ADDRESS = (
    "citizenship",
    "us_state",
    "us_city",
    "us_ssn",
    "us_phone",
    "us_address",
)

# When two findings overlap, the more specific kind wins (an IBAN is not also a phone number).
_PRIORITY = {EMAIL: 0, IBAN: 1, SSN: 2, NATIONAL_ID: 3, PASSPORT: 4, PHONE: 5, ADDRESS: 6, NAME: 7}

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
# Italian codice fiscale: value of a character in an odd position (digits, then letters A-Z).
_CF_ODD = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        (1, 0, 5, 7, 9, 13, 15, 17, 19, 21) * 2 + (2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23),
        strict=True,
    )
)
_DIGITS = re.compile(r"\d")
_SPACE = re.compile(r"\s+")
_ID_IN_CONTEXT = re.compile(r"[A-Z0-9]{6,12}$")
_NAME_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")
_INLINE_SPACE = re.compile(r"[ \t]+")
# Capital letters of the alliance's Latin-script languages; smaller than \p{Lu}, which makes the
# start-of-match automaton (and the compile time) explode.
_CAPITAL = "[A-ZÀ-ÖØ-ÞĀĂĄĆČĎĐĒĖĘĚĞĢĪĮİĶĹĻĽŁŃŅŇŐŒŔŘŚŞŠŢŤŪŮŰŲŹŻŽ]"


@dataclass(frozen=True, slots=True)
class Entity:
    kind: str
    start: int
    end: int
    identifier: str


@dataclass(frozen=True, slots=True)
class PersonalDataResult:
    entities: tuple[Entity, ...]
    us_person_signals: tuple[Entity, ...]
    identifiers: frozenset[str]

    def counts(self) -> dict[str, int]:
        """Entities per kind, plus U.S.-person signals per kind under ``us_person:<kind>``."""
        counts: dict[str, int] = {}
        for entity in self.entities:
            counts[entity.kind] = counts.get(entity.kind, 0) + 1
        for signal in self.us_person_signals:
            key = f"us_person:{signal.kind}"
            counts[key] = counts.get(key, 0) + 1
        return counts

    def to_json(self) -> dict[str, object]:
        def rows(items: tuple[Entity, ...]) -> list[dict[str, object]]:
            return [
                {"kind": e.kind, "start": e.start, "end": e.end, "identifier": e.identifier} for e in items
            ]

        return {
            "entities": rows(self.entities),
            "us_person_signals": rows(self.us_person_signals),
            "distinct_identifiers": len(self.identifiers),
            "counts": self.counts(),
        }


# ---------------------------------------------------------------- validators (value -> normalised or None)


def _ssn(value: str) -> str | None:
    digits = "".join(_DIGITS.findall(value))
    if len(digits) != 9:
        return None
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return None
    if digits in ("078051120", "219099999"):  # numbers published in advertising, never valid
        return None
    return digits


def _phone(value: str) -> str | None:
    digits = "".join(_DIGITS.findall(value))
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10:
        return None
    area, exchange = digits[:3], digits[3:6]
    if area[0] in "01" or area[1:] == "11" or exchange[0] in "01" or exchange[1:] == "11":
        return None
    return digits


def _iban(value: str) -> str | None:
    compact = _SPACE.sub("", value).upper()
    if _word_lists()["iban_lengths"].get(compact[:2]) != len(compact):
        return None
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return compact if int(number) % 97 == 1 else None


def _es_dni(value: str) -> str | None:
    compact = value.replace("-", "").upper()
    head = compact[:-1]
    if head[0] in "XYZ":
        head = str("XYZ".index(head[0])) + head[1:]
    return compact if _DNI_LETTERS[int(head) % 23] == compact[-1] else None


def _it_fiscal_code(value: str) -> str | None:
    code = value.upper()
    total = sum(
        _CF_ODD[ch] if i % 2 == 0 else int(ch, 36) - (10 if ch.isalpha() else 0)
        for i, ch in enumerate(code[:15])
    )
    return code if chr(ord("A") + total % 26) == code[15] else None


def _pl_pesel(value: str) -> str | None:
    digits = [int(d) for d in value]
    month = int(value[2:4]) % 20
    if not 1 <= month <= 12 or not 1 <= int(value[4:6]) <= 31:
        return None
    check = (10 - sum(w * d for w, d in zip((1, 3, 7, 9, 1, 3, 7, 9, 1, 3), digits, strict=False)) % 10) % 10
    return value if check == digits[10] else None


def _fr_nir(value: str) -> str | None:
    compact = _SPACE.sub("", value).upper()
    body = compact[:13].replace("2A", "19").replace("2B", "18")
    if not body.isdigit():
        return None
    return compact if 97 - int(body) % 97 == int(compact[13:]) else None


def _nl_bsn(value: str) -> str | None:
    match = re.search(r"\d{9}$", value)
    if not match:
        return None
    digits = [int(d) for d in match.group()]
    total = sum(d * (9 - i) for i, d in enumerate(digits[:8])) - digits[8]
    return match.group() if total % 11 == 0 else None


def _id_after_context(value: str) -> str | None:
    match = _ID_IN_CONTEXT.search(value.upper())
    return match.group() if match else None


def _ssn_after_context(value: str) -> str | None:
    match = re.search(r"\d{9}$", value)
    return _ssn(match.group()) if match else None


def _text(value: str) -> str:
    return _SPACE.sub(" ", value.strip().lower())


# ---------------------------------------------------------------- patterns


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str  # an entity kind, or a U.S.-person signal kind
    pattern: str
    validate: Callable[[str], str | None]
    caseless: bool = False
    signal: str | None = None  # the U.S.-person signal a valid entity also raises
    strip_title: bool = False
    span_of_value: bool = False  # report only the identifier after a context word
    som: bool = True  # Hyperscan tracks the start of match (too costly for the given-name list)


def _alternation(words: list[str]) -> str:
    return "(?:" + "|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True)) + ")"


@cache
def _word_lists() -> dict[str, Any]:
    try:
        data: dict[str, Any] = yaml.safe_load(
            resources.files("accord.data.intent").joinpath("personal_data.yaml").read_text("utf-8")
        )
    except (OSError, yaml.YAMLError) as error:
        raise DetectorError(f"cannot read personal-data word lists: {error}") from error
    return data


@cache
def _rules() -> tuple[_Rule, ...]:
    data = _word_lists()
    states: dict[str, str] = data["us_states"]
    codes = _alternation(list(states))
    # U.S. street and city names are ASCII; ASCII classes keep the start-of-match automaton small.
    word = r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?"
    street = (
        r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|"
        r"Parkway|Pkwy|Circle|Cir|Highway|Hwy|Square|Sq|Trail|Pike)"
    )
    us_tail = (
        rf"(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b\.?)?,?\s+(?:{word}\s?){{1,3}},\s*{codes}\s+\d{{5}}(?:-\d{{4}})?"
    )
    passport_words = (
        r"(?:passport|passeport|reisepass|pasaporte|passaporto|paszport|paspoort|passaporte|pasaport)"
    )
    return (
        _Rule(EMAIL, r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}\b", _text),
        _Rule(SSN, r"\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b", _ssn, signal=US_SSN),
        _Rule(
            SSN,
            r"\b(?:ssn|ss#|social security(?: number| no\.?)?)[\s:#.]{0,4}\d{9}\b",
            _ssn_after_context,
            caseless=True,
            signal=US_SSN,
            span_of_value=True,
        ),
        _Rule(
            PHONE,
            r"(?:\+1[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b|\+1\d{10}\b",
            _phone,
            signal=US_PHONE,
        ),
        _Rule(IBAN, r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b", _iban),
        _Rule(
            PASSPORT,
            rf"\b{passport_words}(?:\s+(?:no\.?|number|nr\.?|n°|#|numéro|nummer|número|numero|numer|numarası))?"
            r"[\s:#.]{0,4}[A-Z]?\d{8,9}\b",
            _id_after_context,
            caseless=True,
            span_of_value=True,
        ),
        _Rule(NATIONAL_ID, r"\b\d{8}-?[A-Z]\b|\b[XYZ]-?\d{7}-?[A-Z]\b", _es_dni),
        _Rule(NATIONAL_ID, r"\b[A-Z]{6}\d{2}[A-EHLMPRST]\d{2}[A-Z]\d{3}[A-Z]\b", _it_fiscal_code),
        _Rule(NATIONAL_ID, r"\b\d{2}(?:[02468][1-9]|[13579][0-2])\d{7}\b", _pl_pesel),
        _Rule(
            NATIONAL_ID,
            r"\b[12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b",
            _fr_nir,
        ),
        _Rule(
            NATIONAL_ID,
            r"\b(?:bsn|burgerservicenummer)[\s:#.]{0,4}\d{9}\b",
            _nl_bsn,
            caseless=True,
            span_of_value=True,
        ),
        _Rule(
            NATIONAL_ID,
            r"\b(?:personalausweis(?:nummer)?|ausweisnummer)[\s:#.]{0,4}[CFGHJKLMNPRTVWXYZ0-9]{9}\b",
            _id_after_context,
            caseless=True,
            span_of_value=True,
        ),
        _Rule(
            ADDRESS, rf"\b\d{{1,6}}\s+(?:{word}\s+){{1,4}}{street}\b\.?{us_tail}", _text, signal=US_ADDRESS
        ),
        _Rule(ADDRESS, rf"\b\d{{1,6}}\s+(?:{word}\s+){{1,4}}{street}\b", _text),
        # Names: Hyperscan finds the anchor (title or given name, then a capital letter); Python extends the
        # surname, because Unicode letter classes with start-of-match tracking exceed Hyperscan's limits.
        _Rule(NAME, rf"{_alternation(data['titles'])}\.?\s+{_CAPITAL}", _text, strip_title=True, som=False),
        _Rule(NAME, rf"{_alternation(data['given_names'])}\s+{_CAPITAL}", _text, som=False),
        _Rule(
            CITIZENSHIP,
            r"\b(?:u\.?s\.?|american|united states) (?:citizen|citizenship|national|passport)|"
            r"\bgreen[- ]card|\b(?:lawful )?permanent resident|\bnaturali[sz]ed (?:u\.?s\.? )?citizen",
            _text,
            caseless=True,
        ),
        _Rule(US_STATE, rf"\b{_alternation(list(states.values()))}\b", _text),
        _Rule(US_CITY, rf"\b{_alternation(data['us_cities'])}\b", _text),
    )


@cache
def _database() -> Any:
    """Compiled once per process (it takes seconds); a Hyperscan database is read-only and shareable."""
    rules = _rules()
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    base = hyperscan.HS_FLAG_SOM_LEFTMOST | hyperscan.HS_FLAG_UTF8
    try:
        database.compile(
            expressions=[rule.pattern.encode("utf-8") for rule in rules],
            ids=list(range(len(rules))),
            flags=[
                (base if rule.som else hyperscan.HS_FLAG_UTF8)
                | (hyperscan.HS_FLAG_CASELESS if rule.caseless else 0)
                for rule in rules
            ],
        )
    except hyperscan.error as error:
        raise DetectorError(f"cannot compile personal-data patterns: {error}") from error
    return database


_ENTITY_KINDS = frozenset(_PRIORITY)


@dataclass(frozen=True, slots=True)
class _Candidate:
    rule: int
    start: int
    end: int
    value: str


class PersonalDataDetector:
    def __init__(self, salt: bytes) -> None:
        if len(salt) < 16:
            raise DetectorError("the pseudonymisation salt must be at least 16 bytes")
        self._salt = salt
        self._rules = _rules()
        self._database = _database()
        self._local = threading.local()
        self._without_start = frozenset(index for index, rule in enumerate(self._rules) if not rule.som)
        self._titles = re.compile(rf"^{_alternation(_title_words())}\.?\s+")
        self._title_set = frozenset(_title_words())

    def _scratch(self) -> Any:
        """Hyperscan scratch space is per thread."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self._database)
        return scratch

    def scan(self, text: str) -> PersonalDataResult:
        try:
            return self._scan(text)
        except DetectorError:
            raise
        except Exception as error:
            raise DetectorError(f"personal-data scan failed: {type(error).__name__}") from error

    def _scan(self, text: str) -> PersonalDataResult:
        data = text.encode("utf-8")
        ends: dict[tuple[int, int], list[int]] = {}

        without_start = self._without_start

        def on_match(rule: int, start: int, end: int, flags: int, context: object) -> None:
            # a rule without start-of-match reports start 0, so each of its matches is keyed by its end
            ends.setdefault((rule, -end if rule in without_start else start), []).append(end)

        self._database.scan(data, match_event_handler=on_match, scratch=self._scratch())
        to_char = _offset_mapper(text, data)
        candidates = []
        for (rule, start), stops in ends.items():
            char_stops = [to_char(stop) for stop in stops]
            if self._rules[rule].kind == NAME:
                found = self._name(rule, to_char(max(start, 0)), char_stops, text)
            else:
                found = self._validate(rule, to_char(start), char_stops, text)
            if found is not None:
                candidates.append(found)
        return self._resolve(candidates)

    def _resolve(self, candidates: list[_Candidate]) -> PersonalDataResult:
        entities: list[Entity] = []
        signals: list[Entity] = []
        taken: list[tuple[int, int]] = []
        ranked = sorted(
            candidates, key=lambda c: (_PRIORITY.get(self._rules[c.rule].kind, 99), c.start - c.end)
        )
        for candidate in ranked:
            rule = self._rules[candidate.rule]
            start, end = candidate.start, candidate.end
            identifier = self._hash(rule.kind, candidate.value)
            if rule.kind not in _ENTITY_KINDS:
                signals.append(Entity(rule.kind, start, end, identifier))
                continue
            if any(start < other_end and other_start < end for other_start, other_end in taken):
                continue
            taken.append((start, end))
            entities.append(Entity(rule.kind, start, end, identifier))
            if rule.signal is not None:
                signals.append(Entity(rule.signal, start, end, identifier))
        entities.sort(key=lambda e: e.start)
        signals.sort(key=lambda e: (e.start, e.kind))
        return PersonalDataResult(
            entities=tuple(entities),
            us_person_signals=tuple(signals),
            identifiers=frozenset(entity.identifier for entity in entities),
        )

    def _validate(self, rule_index: int, start: int, stops: list[int], text: str) -> _Candidate | None:
        """The longest valid match starting at ``start`` (Hyperscan reports every end offset)."""
        rule = self._rules[rule_index]
        for end in sorted(set(stops), reverse=True):
            value = rule.validate(text[start:end])
            if value is None:
                continue
            if rule.span_of_value:
                start = end - len(value)
            return _Candidate(rule_index, start, end, value)
        return None

    def _name(self, rule_index: int, start: int, stops: list[int], text: str) -> _Candidate | None:
        """Extend a name anchor (title or given name, then a capital) over up to three capitalised words."""
        rule = self._rules[rule_index]
        surname = max(stops) - 1
        # The anchor (given name or title) is the word before the whitespace before the surname.
        start = surname
        while start > 0 and text[start - 1].isspace():
            start -= 1
        while start > 0 and (text[start - 1].isalpha() or text[start - 1] in "-'."):
            start -= 1
        if rule.strip_title and text[start:surname].strip().rstrip(".") not in self._title_set:
            return None
        if start > 0 and text[start - 1].isalnum():
            return None  # Hyperscan's \b is ASCII-only, so names check their left boundary here
        end, words = surname, 0
        while words < (3 if rule.strip_title else 2) and (word := _NAME_WORD.match(text, end)):
            if not word.group()[0].isupper() or not any(ch.islower() for ch in word.group()):
                break
            end, words = word.end(), words + 1
            gap = _INLINE_SPACE.match(text, end)
            if gap is None:
                break
            end_of_gap = gap.end()
            if not (next_word := _NAME_WORD.match(text, end_of_gap)) or not next_word.group()[0].isupper():
                break
            end = end_of_gap
        if words == 0:
            return None
        name = text[start:end]
        if rule.strip_title:
            name = self._titles.sub("", name, count=1)
        return _Candidate(rule_index, start, end, _text(name))

    def _hash(self, kind: str, value: str) -> str:
        digest = hmac.new(self._salt, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
        return digest[:32]

    def redact(self, text: str, result: PersonalDataResult | None = None) -> str:
        """``text`` with every entity replaced by its kind, e.g. ``[EMAIL]``."""
        result = result or self.scan(text)
        pieces, position = [], 0
        for entity in result.entities:
            pieces.append(text[position : entity.start])
            pieces.append(f"[{entity.kind.upper()}]")
            position = entity.end
        pieces.append(text[position:])
        return "".join(pieces)


@cache
def _title_words() -> list[str]:
    data = yaml.safe_load(
        resources.files("accord.data.intent").joinpath("personal_data.yaml").read_text("utf-8")
    )
    return list(data["titles"])


def _offset_mapper(text: str, data: bytes) -> Callable[[int], int]:
    """Byte offset (Hyperscan) to character offset (Python), computed once per text."""
    if len(data) == len(text):
        return lambda offset: offset
    raw = np.frombuffer(data, dtype=np.uint8)
    chars_before = np.concatenate(([0], np.cumsum((raw & 0xC0) != 0x80)))
    return lambda offset: int(chars_before[offset])
