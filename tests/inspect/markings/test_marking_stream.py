from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from accord.inspect.markings import MarkingDetected, MarkingScanner, StreamGuard

BODY = "The convoy of twelve fuel trucks departs the northern depot at 0400 and refuels before noon. "


def _stream(guard: StreamGuard, text: str, step: int) -> str:
    released = ""
    for index in range(0, len(text), step):
        released += guard.push(text[index : index + step])
    return released + guard.finish()


def test_clean_output_is_released_unchanged(scanner: MarkingScanner) -> None:
    text = BODY * 12 + "\nA second paragraph about water and rations."
    for step in (1, 4, 17, 500):
        assert _stream(StreamGuard(scanner, ceiling_rank=0), text, step) == text


@pytest.mark.parametrize(
    "marking", ["NATO SECRET", "SECRET//NOFORN", "(S//NF) Route via Gate 3 is open.", "GEHEIM"]
)
def test_a_marking_split_across_chunks_is_never_released(scanner: MarkingScanner, marking: str) -> None:
    text = f"Here is the text you asked for.\n{BODY}\n{marking}\n{BODY}"
    for step in (1, 2, 3, 5, 8, 13):
        guard = StreamGuard(scanner, ceiling_rank=0)
        released = ""
        with pytest.raises(MarkingDetected) as caught:
            for index in range(0, len(text), step):
                released += guard.push(text[index : index + step])
            released += guard.finish()
        assert marking[:4] not in released
        assert caught.value.result.rank >= 1
        with pytest.raises(MarkingDetected):
            guard.push("more")


def test_a_marking_at_or_below_the_ceiling_passes(scanner: MarkingScanner) -> None:
    text = f"NATO RESTRICTED\n{BODY}"
    assert _stream(StreamGuard(scanner, ceiling_rank=1), text, 3) == text


def test_a_marking_in_the_last_line_is_caught_at_finish(scanner: MarkingScanner) -> None:
    guard = StreamGuard(scanner, ceiling_rank=0)
    released = guard.push(BODY * 5 + "\nNATO SECRET")
    with pytest.raises(MarkingDetected):
        guard.finish()
    assert "NATO" not in released


def test_a_base64_block_is_held_until_it_ends(scanner: MarkingScanner) -> None:
    import base64

    blob = base64.b64encode(f"NATO SECRET\n\n{BODY * 3}".encode()).decode()
    guard = StreamGuard(scanner, ceiling_rank=0)
    released = ""
    with pytest.raises(MarkingDetected):
        for index in range(0, len(blob), 7):
            released += guard.push(blob[index : index + 7])
        released += guard.push(" done.")
        released += guard.finish()
    assert blob[:16] not in released


def test_window_must_hold_a_marking(scanner: MarkingScanner) -> None:
    with pytest.raises(ValueError, match="window"):
        StreamGuard(scanner, ceiling_rank=0, window=8)


def test_no_marked_evaluation_case_leaks_through_the_guard(scanner: MarkingScanner) -> None:
    import json
    import random
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "data" / "markings" / "cases.jsonl"
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    marked = [case for case in cases if case["rank"] > 0 and case["category"] != "hard_negative"]
    rng = random.Random(3)
    for case in rng.sample(marked, 120):
        text = case["text"]
        first = min(hit.start for hit in scanner.scan(text).hits if hit.rank > 0)
        guard = StreamGuard(scanner, ceiling_rank=0)
        released = ""
        with pytest.raises(MarkingDetected):
            index = 0
            while index < len(text):
                step = rng.randint(1, 40)
                released += guard.push(text[index : index + step])
                index += step
            released += guard.finish()
        assert len(released) <= first, case["id"]


def test_every_marked_evaluation_case_is_caught_before_any_of_its_marking_leaves(
    scanner: MarkingScanner,
) -> None:
    """The whole evaluation set, streamed in random chunk sizes: the stream trips, and what was
    released before it tripped stops short of the first marking above the ceiling."""
    cases_file = Path(__file__).parents[2] / "data" / "markings" / "cases.jsonl"
    chunking = random.Random(20261127)
    failures: list[str] = []
    checked = 0
    for line in cases_file.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        whole = scanner.scan(case["text"])
        if not whole.exceeds(0):
            continue
        first = min(hit.start for hit in whole.hits if hit.rank > 0)
        guard = StreamGuard(scanner, ceiling_rank=0, window=64)
        released, position, text = "", 0, case["text"]
        try:
            while position < len(text):
                step = chunking.randint(1, 9)
                released += guard.push(text[position : position + step])
                position += step
            guard.finish()
            failures.append(f"{case['id']}: not caught")
        except MarkingDetected:
            if len(released) > first:
                failures.append(f"{case['id']}: released {len(released) - first} chars of the marking")
        checked += 1
    assert checked > 500
    assert failures == []


def test_first_words_leave_after_the_window_not_after_the_line(scanner: MarkingScanner) -> None:
    """A streamed answer's opening line is released once a window of text follows it, without
    waiting for the line to end, when nothing in it could be a marking."""
    guard = StreamGuard(scanner, ceiling_rank=0, window=64)
    opening = "The convoy leaves the depot at six and refuels at the border crossing before noon today"
    released = "".join(guard.push(opening[index : index + 4]) for index in range(0, len(opening), 4))
    assert released == opening[: len(released)]
    assert len(released) >= len(opening) - 64 - 4
    # A candidate marking on the line holds the line from there on until the line is judged.
    held = StreamGuard(scanner, ceiling_rank=0, window=64)
    text = "Forwarding the note below. SECRET//ORCON//REL TO USA, AUS, CAN, GBR, NZL The convoy departs"
    released = "".join(held.push(text[index : index + 4]) for index in range(0, len(text), 4))
    assert "SECRET" not in released
