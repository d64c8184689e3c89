"""The linear stage: one logistic regression per category over hashed n-grams and lexicon signals."""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from accord.inspect.intent.errors import DetectorError
from accord.inspect.intent.features import (
    HASH_SIZE,
    NGRAM_SIZES,
    IntArray,
    SignalSpace,
    distinct,
)
from accord.inspect.intent.result import INTENT_CATEGORIES

ARTEFACT = "linear.npz"
_SIZES = len(NGRAM_SIZES)
FloatArray = npt.NDArray[np.float32]


def artefact_path() -> Path:
    return Path(str(resources.files("accord.data.intent").joinpath(ARTEFACT)))


@dataclass(frozen=True)
class LinearModel:
    """Weights ``(HASH_SIZE + signal columns, categories)`` and one bias per category."""

    weights: FloatArray
    bias: FloatArray
    space: SignalSpace

    @classmethod
    def load(cls, signal_names: tuple[str, ...], path: Path | None = None) -> LinearModel:
        """Load the shipped artefact, mapping its signal columns onto the current lexicon by name."""
        path = path or artefact_path()
        try:
            with np.load(path, allow_pickle=False) as data:
                ngrams = data["ngram_weights"].astype(np.float32)
                trained_names = tuple(str(name) for name in data["signal_names"])
                signal_weights = data["signal_weights"].astype(np.float32)
                bias = data["bias"].astype(np.float32)
                categories = tuple(str(name) for name in data["categories"])
        except (OSError, KeyError, ValueError) as error:
            raise DetectorError(f"cannot load the intent model {path}: {error}") from error
        if categories != INTENT_CATEGORIES or ngrams.shape != (HASH_SIZE, len(categories)):
            raise DetectorError(f"intent model {path} does not match this version; retrain it")
        space = SignalSpace(signal_names)
        trained = SignalSpace(trained_names)
        weights = np.zeros((HASH_SIZE + space.size, len(categories)), dtype=np.float32)
        weights[:HASH_SIZE] = ngrams
        position = {name: index for index, name in enumerate(signal_names)}
        for column in range(trained.size):
            names = trained.pair_name(HASH_SIZE + column).split("+")
            if all(name in position for name in names):
                mapped = space.columns(position[name] for name in names)[-1]
                weights[mapped] = signal_weights[column]
        return cls(weights=weights, bias=bias, space=space)

    def segment_logits(
        self, ngrams: list[IntArray], bounds: list[tuple[int, int]], signals: list[list[int]]
    ) -> FloatArray:
        """Logits ``(segments, categories)``; a segment is padded-text bounds plus the signals in it.

        Each distinct n-gram counts once per segment and size, as in training. The segments after the
        first (the sentences; the first is the whole text) must not overlap, so every n-gram of every
        size gets one key ``(segment, size, bucket)`` and a single sort finds all the distinct ones:
        a one-line prompt costs a dozen array operations, not dozens per n-gram size.
        """
        whole_start, whole_end = bounds[0]
        keys: list[IntArray] = []
        for slot, (n, indices) in enumerate(zip(NGRAM_SIZES, ngrams, strict=True)):
            low = min(max(whole_start - 1, 0), len(indices))
            high = max(min(max(whole_end - n + 2, 0), len(indices)), low)
            keys.append(indices[low:high] + slot * HASH_SIZE)
        if len(bounds) > 1:
            keys.extend(self._sentence_keys(ngrams, bounds[1:]))
        unique = distinct(np.concatenate(keys))
        # np.take and reduceat: several times faster than fancy indexing and a cumsum over rows
        weights = np.take(self.weights, unique & (HASH_SIZE - 1), axis=0)
        if len(bounds) == 1:
            totals = weights.sum(axis=0, keepdims=True)
            counts = np.array([len(unique)], dtype=np.int64)
        else:
            edges = np.searchsorted(unique, np.arange(len(bounds) + 1, dtype=np.int64) * _SIZES * HASH_SIZE)
            counts = edges[1:] - edges[:-1]
            starts = np.minimum(edges[:-1], max(len(unique) - 1, 0))
            totals = np.where(counts[:, None] > 0, np.add.reduceat(weights, starts, axis=0), 0.0)
        logits = totals / np.sqrt(np.maximum(counts, 1.0))[:, None] + self.bias
        for row, present in enumerate(signals):
            if present:
                logits[row] += self.weights[self.space.columns(present)].sum(axis=0)
        result: FloatArray = logits.astype(np.float32)
        return result

    @staticmethod
    def _sentence_keys(ngrams: list[IntArray], sentences: list[tuple[int, int]]) -> list[IntArray]:
        """Keys of the n-grams lying wholly inside a sentence; sentence ``s`` is segment ``s + 1``.

        Which sentence a position starts in is the same for every size, so it is found once."""
        longest = max(len(indices) for indices in ngrams)
        positions = np.arange(longest, dtype=np.int64)
        lows = np.array([max(start - 1, 0) for start, _ in sentences], dtype=np.int64)
        ends = np.array([end for _, end in sentences], dtype=np.int64)
        number = np.searchsorted(lows, positions, side="right")
        end_of_sentence = ends[np.maximum(number - 1, 0)] + 2
        started = number > 0
        base = number * (_SIZES * HASH_SIZE)
        keys: list[IntArray] = []
        for slot, (n, indices) in enumerate(zip(NGRAM_SIZES, ngrams, strict=True)):
            count = len(indices)
            inside = started[:count] & (positions[:count] < end_of_sentence[:count] - n)
            keys.append((base[:count] + (slot * HASH_SIZE) + indices)[inside])
        return keys

    def signal_weight(self, signal: int) -> FloatArray:
        row: FloatArray = self.weights[HASH_SIZE + signal]
        return row


def sigmoid(values: FloatArray) -> FloatArray:
    return (1.0 / (1.0 + np.exp(-np.clip(values, -30.0, 30.0)))).astype(np.float32)


def logit(probability: float) -> float:
    probability = min(max(probability, 1e-6), 1 - 1e-6)
    return math.log(probability / (1 - probability))
