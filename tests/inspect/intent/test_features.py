"""Distinct n-gram features: training and inference see the same thing, and repetition adds nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from accord.inspect.intent import IntentDetector
from accord.inspect.intent.features import (
    _MIX,
    _MULTIPLIER,
    HASH_BITS,
    NGRAM_SIZES,
    distinct,
    distinct_ngrams,
    encode,
    fold,
    fold_ascii,
    ngram_indices,
    sentence_spans,
)
from accord.inspect.intent.lexicon import normalise
from accord.inspect.intent.train import Example, with_benign_sentences

TEXTS = [
    "Plan the fuel resupply. Track the convoy; report delays!\nAlso list the spare parts: tyres, filters.",
    "Wiretap the phone of the attaché. Then summarise his calls. Then do it again. Then do it again.",
    "Überwache die Server; schicke eine Warnung: sofort.",
    "one sentence only, no end mark",
    "a. b. c. d.",
]


def _labelled_texts() -> list[str]:
    texts = []
    for path in sorted(Path(__file__).parents[2].joinpath("data").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            text = json.loads(line).get("text") if line.strip() else None
            if isinstance(text, str):
                texts.append(normalise(text))
    return texts


def test_ascii_folding_equals_the_general_folding() -> None:
    """The ASCII fast path is an optimisation only: same code points, same spaces, on every labelled text."""
    texts = [t for t in _labelled_texts() if t.isascii()] + ["", " ", "\t\n \x0b\x0c\r x 1234 \x1c"]
    assert len(texts) > 300
    for text in texts:
        fast, fast_space = fold_ascii(text)
        general, general_space = fold(text)
        assert fast.tolist() == general.tolist(), text
        assert fast_space.tolist() == general_space.tolist(), text


def _ngram_hashes_by_definition(points: npt.NDArray[np.uint64]) -> list[list[int]]:
    out = []
    for n in NGRAM_SIZES:
        hashes = []
        for start in range(len(points) - n + 1):
            h = n
            for k in range(n):
                h = (h * int(_MULTIPLIER) + int(points[start + k])) % (1 << 64)
            hashes.append(((h * int(_MIX)) % (1 << 64)) >> (64 - HASH_BITS))
        out.append(hashes)
    return out


@pytest.mark.parametrize("text", [*TEXTS, "", "a", "ab", "日本語テキスト 12 ünd"])
def test_ngram_hashes_follow_their_definition(text: str) -> None:
    """The shared-prefix computation gives the trained weights' hash, bit for bit."""
    encoded = encode(normalise(text))
    got = [indices.tolist() for indices in ngram_indices(encoded)]
    assert got == _ngram_hashes_by_definition(encoded.points)


def test_distinct_is_sorted_and_unique() -> None:
    keys = np.array([5, 3, 5, 9, 3, 3, 1], dtype=np.int64)
    assert distinct(keys).tolist() == [1, 3, 5, 9]
    assert distinct(np.array([], dtype=np.int64)).tolist() == []


def test_a_repeated_text_has_the_same_distinct_ngrams() -> None:
    once = distinct_ngrams(normalise("person1@example.org, "))
    many = distinct_ngrams(normalise("person1@example.org, " * 50))
    for n, (a, b) in enumerate(zip(once, many, strict=True)):
        # Only the n-grams across the seam between two copies are new.
        assert set(a) <= set(b) and len(b) - len(a) <= NGRAM_SIZES[n]


@pytest.mark.parametrize("text", TEXTS)
def test_sentence_scores_equal_scoring_each_span_on_its_own(text: str) -> None:
    """The vectorised per-sentence sums match a direct computation of each segment's distinct n-grams."""
    model = IntentDetector.load()._model
    normalised = normalise(text)
    encoded = encode(normalised)
    grams = ngram_indices(encoded)
    spans = [(0, len(normalised)), *sentence_spans(normalised)]
    bounds = [(int(encoded.positions[s]), int(encoded.positions[e - 1]) + 1) for s, e in spans]
    logits = model.segment_logits(grams, bounds, [[] for _ in bounds])
    for row, (start, end) in enumerate(bounds):
        total, count = np.zeros(logits.shape[1]), 0
        for n, indices in zip(NGRAM_SIZES, grams, strict=True):
            low = max(start - 1, 0)
            unique = np.unique(indices[low : max(min(end - n + 2, len(indices)), low)])
            total += model.weights[unique].sum(axis=0)
            count += len(unique)
        expected = total / np.sqrt(max(count, 1)) + model.bias
        np.testing.assert_allclose(logits[row], expected, atol=1e-4)


def test_whole_text_score_equals_the_training_view() -> None:
    """Training sees the whole text's distinct n-grams scaled by 1/sqrt(their number); so does detect."""
    model = IntentDetector.load()._model
    text = normalise(TEXTS[1])
    grams = np.concatenate(distinct_ngrams(text))
    expected = model.weights[grams].sum(axis=0) / np.sqrt(len(grams)) + model.bias
    encoded = encode(text)
    logits = model.segment_logits(ngram_indices(encoded), [(0, len(encoded.points))], [[]])
    np.testing.assert_allclose(logits[0], expected, atol=1e-4)


def test_benign_examples_are_also_learned_sentence_by_sentence() -> None:
    benign = Example("Translate into French: the convoy leaves at six. Thanks!", frozenset())
    positive = Example("Here is his number. Tap his phone.", frozenset({"targeted_surveillance"}))
    single = Example("Book the meeting room", frozenset())
    expanded = with_benign_sentences([benign, positive, single])
    assert expanded[:3] == [benign, positive, single]
    assert [example.text for example in expanded[3:]] == [
        "translate into french:",
        "the convoy leaves at six.",
        "thanks!",
    ]
    assert all(not example.labels for example in expanded[3:])
