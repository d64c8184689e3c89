from __future__ import annotations

import base64

import pytest

from accord.inspect.markings import ClassificationResult, MarkingScanner, ceiling_rank

BODY = "The convoy of twelve fuel trucks departs the northern depot at 0400 and refuels before noon."


@pytest.mark.parametrize(
    "text",
    [
        "Please keep out of the restricted area near the depot.",
        "The secret to good logistics is knowing where every pallet is.",
        "Tenemos una mesa reservada para las nueve.",
        "W tej firmie wszystko jest tajne przez poufne.",
        "We are hiring. Applicants must hold an active TOP SECRET clearance.",
        "Training note: (S) means Secret and (TS) means Top Secret.",
        "Portion marks:\n(TS) Top Secret\n(S) Secret\n(C) Confidential",
        "Top Secret!\n\nA 1984 comedy film starring Val Kilmer.",
        "This letter is confidential and intended only for the addressee.",
        "(C) 2024 Acme Logistics Ltd. All rights reserved.",
        "(A) Load the trucks.\n(B) Check the tyres.\n(C) Confirm the route.",
        "NATO levels:\n- NATO RESTRICTED\n- NATO SECRET\n- COSMIC TOP SECRET",
        'The example banner "TOP SECRET//SI//NOFORN" is used in the training slides.',
        f"{BODY}\nSECRET\n{BODY}",
    ],
)
def test_ordinary_prose_is_not_a_marking(scanner: MarkingScanner, text: str) -> None:
    assert scanner.scan(text).rank == 0


def test_a_line_that_is_just_secret_at_the_top_is_a_banner(scanner: MarkingScanner) -> None:
    result = scanner.scan(f"SECRET\n\n{BODY}")
    assert (result.level, result.rank, result.scheme) == ("NS", 3, "US")
    assert result.hits[0].kind == "banner"
    assert (result.hits[0].start, result.hits[0].end) == (0, 6)


def test_portion_marks_count_with_corroboration_only(scanner: MarkingScanner) -> None:
    alone = scanner.scan(f"Notes\n\n(S) {BODY}")
    assert alone.rank == 0
    corroborated = scanner.scan(f"SECRET\n\n(S) {BODY}\n\n(U) Weather is fair.")
    portions = [hit for hit in corroborated.hits if hit.kind == "portion"]
    assert [hit.level for hit in portions] == ["NS", "NU"]
    assert scanner.scan(f"(S//NF) {BODY}").level == "NS"


def test_capco_banner_with_controls(scanner: MarkingScanner) -> None:
    result = scanner.scan(f"TOP SECRET//SI//NOFORN\n\n(TS//SI//NF) {BODY}\n\nTOP SECRET//SI//NOFORN")
    assert result.level == "CTS"
    assert {hit.kind for hit in result.hits} == {"banner", "portion"}


def test_authority_block_is_classified(scanner: MarkingScanner) -> None:
    text = f"Classified By: J. Smith\nDerived From: Multiple Sources\nDeclassify On: 20501231\n\n{BODY}"
    result = scanner.scan(text)
    assert result.hits[0].kind == "authority_block"
    assert result.rank == 2


def test_cui_and_official_sensitive_are_found_but_not_classified(scanner: MarkingScanner) -> None:
    for banner in ("CUI", "OFFICIAL-SENSITIVE", "PROTECTED B", "NATO UNCLASSIFIED"):
        result = scanner.scan(f"{banner}\n\n{BODY}")
        assert result.hits and result.rank == 0 and not result.hits[0].classified, banner


def test_reservado_is_resolved_by_language(scanner: MarkingScanner) -> None:
    spanish = scanner.scan(
        "RESERVADO\n\nEl convoy sale del depósito a las 0400 y los camiones están cargados."
    )
    portuguese = scanner.scan("RESERVADO\n\nO comboio sai do depósito às 0400 e os camiões estão carregados.")
    assert (spanish.scheme, spanish.level) == ("ESP", "NS")
    assert (portuguese.scheme, portuguese.level) == ("PRT", "NR")
    unknown = scanner.scan("RESERVADO\n\n0400 12 x 3")
    assert unknown.level == "NS"  # no context: the higher of the two


def test_greek_and_bulgarian_markings_survive_homoglyph_folding(scanner: MarkingScanner) -> None:
    greek = scanner.scan("ΑΠΟΡΡΗΤΟ\n\nΗ φάλαγγα αναχωρεί στις 0400.")
    bulgarian = scanner.scan("СЕКРЕТНО\n\nКолоната тръгва в 4 часа от склада.")
    assert (greek.scheme, greek.level, greek.hits[0].evasion) == ("GRC", "NS", None)
    assert (bulgarian.scheme, bulgarian.level, bulgarian.hits[0].evasion) == ("BGR", "NS", None)


@pytest.mark.parametrize(
    ("marking", "evasion"),
    [
        ("NATO SЕCRЕT", "homoglyph"),  # Cyrillic Е
        ("N A T O  S E C R E T", "spaced"),
        ("NAT0 S3CR3T", "leetspeak"),
        ("NATO SE\u200bC\u00adRET", "zero_width"),
        ("ＮＡＴＯ ＳＥＣＲＥＴ", "unicode_compat"),
        ("NATO\nSECRET", "split_lines"),
    ],
)
def test_evasions_are_caught_with_offsets_in_the_original(
    scanner: MarkingScanner, marking: str, evasion: str
) -> None:
    text = f"Header line\n{marking}\n\n{BODY}"
    result = scanner.scan(text)
    assert result.level == "NS"
    hit = result.hits[0]
    assert text[hit.start : hit.end] == marking
    assert hit.evasion is not None and evasion in hit.evasion


def test_encoded_blocks_are_decoded_and_rescanned(scanner: MarkingScanner) -> None:
    blob = base64.b64encode(f"NATO SECRET\n\n{BODY}".encode()).decode()
    text = f"Summarise this: {blob} thanks"
    result = scanner.scan(text)
    assert result.level == "NS"
    assert (result.hits[0].start, result.hits[0].end) == (text.index(blob), text.index(blob) + len(blob))
    assert result.hits[0].evasion == "base64"
    hexed = f"NATO SECRET\n\n{BODY}".encode().hex()
    assert scanner.scan(f"data {hexed}").level == "NS"


def test_declassified_documents_are_not_classified(scanner: MarkingScanner) -> None:
    text = f"DECLASSIFIED/DECLASSIFIÉ - PUBLIC DISCLOSED/MISE EN LECTURE PUBLIQUE\nNATO SECRET\n\n{BODY}"
    result = scanner.scan(text)
    assert result.rank == 0
    assert [hit.kind for hit in result.hits] == ["declassified"]


def test_result_json_and_ceiling() -> None:
    result = ClassificationResult(())
    assert result.to_json() == {"level": "NU", "rank": 0, "scheme": None, "spans": []}
    assert not result.exceeds(0)
    assert ceiling_rank("NR") == ceiling_rank("nato restricted") == 1
    assert ceiling_rank("COSMIC TOP SECRET") == 4
    with pytest.raises(ValueError, match="unknown classification ceiling"):
        ceiling_rank("SECRET-ISH")


def test_exceeds_and_json_of_a_hit(scanner: MarkingScanner) -> None:
    result = scanner.scan(f"NATO RESTRICTED\n\n{BODY}")
    assert result.exceeds(0) and not result.exceeds(1)
    span = result.to_json()["spans"][0]  # type: ignore[index]
    assert span == {"start": 0, "end": 15, "marking": "NATO RESTRICTED", "scheme": "NATO", "level": "NR",
                    "kind": "banner", "evasion": None}  # fmt: skip


def test_offsets_are_characters_after_non_ascii_text(scanner: MarkingScanner) -> None:
    text = f"Ελληνικά και русский 𝐒𝐄𝐂𝐑𝐄𝐓 text\nΑΚΡΩΣ ΑΠΟΡΡΗΤΟ\n\nΗ φάλαγγα αναχωρεί.\n\nNATO SECRET\n{BODY}"
    result = scanner.scan(text)
    found = {text[hit.start : hit.end] for hit in result.hits}
    assert found == {"ΑΚΡΩΣ ΑΠΟΡΡΗΤΟ", "NATO SECRET"}


def test_scan_is_safe_from_several_threads(scanner: MarkingScanner) -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"NATO SECRET\n\n{BODY}", f"The secret to good logistics. {BODY}"] * 50
    with ThreadPoolExecutor(max_workers=4) as pool:
        ranks = list(pool.map(lambda text: scanner.scan(text).rank, texts))
    assert ranks == [3, 0] * 50
