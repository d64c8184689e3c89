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

        Each distinct n-gram counts once per segment, as in training. The segments after the first (the
        sentences; the first is the whole text) must not overlap, so one sort per n of ``(segment,
        bucket)`` keys finds the distinct n-grams of every segment at once.
        """
        categories = len(INTENT_CATEGORIES)
        starts = np.array([start for start, _ in bounds], dtype=np.int64)
        ends = np.array([end for _, end in bounds], dtype=np.int64)
        totals = np.zeros((len(bounds), categories), dtype=np.float32)
        counts = np.zeros(len(bounds), dtype=np.int64)
        edges_at = np.arange(len(bounds) + 1, dtype=np.int64) * HASH_SIZE
        for n, indices in zip(NGRAM_SIZES, ngrams, strict=True):
            lo = np.clip(starts - 1, 0, len(indices))
            hi = np.maximum(np.clip(ends - n + 2, 0, len(indices)), lo)
            # key = segment * HASH_SIZE + bucket: the whole text is segment 0, sentence s is segment s
            keys = [indices[lo[0] : hi[0]]]
            if len(bounds) > 1:
                positions = np.arange(len(indices))
                number = np.searchsorted(lo[1:], positions, side="right")
                inside = (number > 0) & (positions < hi[1:][np.maximum(number - 1, 0)])
                keys.append((number * HASH_SIZE + indices)[inside])
            unique = distinct(np.concatenate(keys))
            if not len(unique):
                continue
            # np.take and reduceat: several times faster than fancy indexing and a cumsum over rows
            weights = np.take(self.weights, unique & (HASH_SIZE - 1), axis=0)
            edges = np.searchsorted(unique, edges_at)
            sizes = edges[1:] - edges[:-1]
            sums = np.add.reduceat(weights, np.minimum(edges[:-1], len(unique) - 1), axis=0)
            totals += np.where(sizes[:, None] > 0, sums, 0.0)
            counts += sizes
        logits = totals / np.sqrt(np.maximum(counts, 1.0))[:, None] + self.bias
        for row, present in enumerate(signals):
            if present:
                logits[row] += self.weights[self.space.columns(present)].sum(axis=0)
        result: FloatArray = logits.astype(np.float32)
        return result

    def signal_weight(self, signal: int) -> FloatArray:
        row: FloatArray = self.weights[HASH_SIZE + signal]
        return row


def sigmoid(values: FloatArray) -> FloatArray:
    return (1.0 / (1.0 + np.exp(-np.clip(values, -30.0, 30.0)))).astype(np.float32)


def logit(probability: float) -> float:
    probability = min(max(probability, 1e-6), 1 - 1e-6)
    return math.log(probability / (1 - probability))
