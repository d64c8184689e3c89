"""Train the linear model and the embedding head from ``accord/data/intent/train.jsonl``.

    .venv/bin/python -m accord.inspect.intent.train [--skip-embedding] [--epochs 400]

Deterministic: full-batch Adam from zero weights, no sampling, so the same data gives the same artefact.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt

from accord.inspect.intent import embedding, linear
from accord.inspect.intent.features import HASH_SIZE, SignalSpace, distinct_ngrams, sentence_spans
from accord.inspect.intent.lexicon import Lexicon, normalise
from accord.inspect.intent.result import INTENT_CATEGORIES

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    labels: frozenset[str]


def load_examples(path: Path | None = None) -> list[Example]:
    path = path or Path(str(resources.files("accord.data.intent").joinpath("train.jsonl")))
    examples = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            unknown = set(row["labels"]) - set(INTENT_CATEGORIES)
            if unknown:
                raise ValueError(f"unknown labels {unknown} in {path}")
            examples.append(Example(row["text"], frozenset(row["labels"])))
    return examples


def with_benign_sentences(examples: list[Example]) -> list[Example]:
    """Add each sentence of every benign multi-sentence example as a benign example of its own.

    The detector also scores every sentence on its own, so a fragment such as "Translate into French:"
    must be learned as benign too; otherwise its score is just the bias, which positives pull upwards.
    Positive examples are not split: one sentence of a request need not carry its intent.
    """
    extra: list[Example] = []
    for example in examples:
        if not example.labels:
            text = normalise(example.text)
            spans = sentence_spans(text)
            if len(spans) > 1:
                extra.extend(Example(text[start:end].strip(), frozenset()) for start, end in spans)
    return examples + [example for example in extra if example.text]


def label_matrix(examples: list[Example]) -> FloatArray:
    return np.array(
        [[1.0 if name in example.labels else 0.0 for name in INTENT_CATEGORIES] for example in examples],
        dtype=np.float32,
    )


def _design(examples: list[Example], lexicon: Lexicon, space: SignalSpace) -> tuple[np.ndarray, ...]:
    """Sparse rows of the design matrix in the exact form the detector sees at inference (whole text):
    distinct n-grams scaled by 1/sqrt(their number), plus one column per signal and pair of signals."""
    rows, cols, vals = [], [], []
    for index, example in enumerate(examples):
        text = normalise(example.text)
        grams = np.concatenate(distinct_ngrams(text))
        signal_cols = space.columns(match.signal for match in lexicon.match(text))
        cols.append(np.concatenate([grams, np.array(signal_cols, dtype=np.int64)]))
        vals.append(
            np.concatenate(
                [np.full(len(grams), 1.0 / np.sqrt(max(len(grams), 1))), np.ones(len(signal_cols))]
            )
        )
        rows.append(np.full(len(cols[-1]), index, dtype=np.int64))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals).astype(np.float32)


def _adam(
    gradient: object, shape: tuple[int, int], epochs: int, rate: float
) -> tuple[FloatArray, FloatArray]:
    weights, bias = np.zeros(shape, dtype=np.float32), np.zeros(shape[1], dtype=np.float32)
    m_w, v_w = np.zeros_like(weights), np.zeros_like(weights)
    m_b, v_b = np.zeros_like(bias), np.zeros_like(bias)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, epochs + 1):
        g_w, g_b = gradient(weights, bias)  # type: ignore[operator]
        m_w = beta1 * m_w + (1 - beta1) * g_w
        v_w = beta2 * v_w + (1 - beta2) * g_w * g_w
        m_b = beta1 * m_b + (1 - beta1) * g_b
        v_b = beta2 * v_b + (1 - beta2) * g_b * g_b
        correction1, correction2 = 1 - beta1**step, 1 - beta2**step
        weights -= rate * (m_w / correction1) / (np.sqrt(v_w / correction2) + eps)
        bias -= rate * (m_b / correction1) / (np.sqrt(v_b / correction2) + eps)
    return weights, bias


def _sample_weights(labels: FloatArray) -> FloatArray:
    """Up-weight the rarer class per category (square-root balancing) so recall is not sacrificed."""
    positives = labels.sum(axis=0)
    negatives = len(labels) - positives
    up = np.sqrt(np.maximum(negatives, 1) / np.maximum(positives, 1))
    return np.where(labels > 0, up, 1.0).astype(np.float32)


def train_linear(
    examples: list[Example], lexicon: Lexicon, epochs: int, l2: float = 2e-4
) -> tuple[FloatArray, FloatArray, SignalSpace]:
    space = SignalSpace(tuple(signal.name for signal in lexicon.signals))
    rows, cols, vals = _design(examples, lexicon, space)
    labels, sample = label_matrix(examples), _sample_weights(label_matrix(examples))
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    columns = HASH_SIZE + space.size
    scale = 1.0 / len(examples)

    def gradient(weights: FloatArray, bias: FloatArray) -> tuple[FloatArray, FloatArray]:
        logits = np.add.reduceat(vals[:, None] * weights[cols], starts, axis=0) + bias
        residual = (linear.sigmoid(logits) - labels) * sample * scale
        g_w = np.stack(
            [
                np.bincount(cols, weights=vals * residual[rows, c], minlength=columns)
                for c in range(labels.shape[1])
            ],
            axis=1,
        ).astype(np.float32)
        return g_w + l2 * weights, residual.sum(axis=0)

    weights, bias = _adam(gradient, (columns, len(INTENT_CATEGORIES)), epochs, rate=0.05)
    return weights, bias, space


def train_embedding_head(
    examples: list[Example], epochs: int, l2: float = 1e-3
) -> tuple[FloatArray, FloatArray]:
    vectors = embedding.Encoder(threads=2).encode([example.text for example in examples])
    labels = label_matrix(examples)
    sample = _sample_weights(labels)
    scale = 1.0 / len(examples)

    def gradient(weights: FloatArray, bias: FloatArray) -> tuple[FloatArray, FloatArray]:
        residual = (linear.sigmoid(vectors @ weights + bias) - labels) * sample * scale
        return (vectors.T @ residual + l2 * weights).astype(np.float32), residual.sum(axis=0)

    return _adam(gradient, (vectors.shape[1], len(INTENT_CATEGORIES)), epochs, rate=0.05)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=None, help="training JSONL (default: the packaged set)")
    parser.add_argument("--out", type=Path, default=None, help="directory for the artefacts")
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--skip-embedding", action="store_true", help="keep the current embedding head")
    args = parser.parse_args(argv)
    examples = load_examples(args.data)
    lexicon = Lexicon.load()
    out = args.out or linear.artefact_path().parent
    weights, bias, space = train_linear(with_benign_sentences(examples), lexicon, args.epochs)
    np.savez_compressed(
        out / linear.ARTEFACT,
        ngram_weights=weights[:HASH_SIZE].astype(np.float16),
        signal_weights=weights[HASH_SIZE:],
        signal_names=np.array(space.names),
        bias=bias,
        categories=np.array(INTENT_CATEGORIES),
    )
    print(
        json.dumps(
            {
                "examples": len(examples),
                "linear": str(out / linear.ARTEFACT),
                "bytes": (out / linear.ARTEFACT).stat().st_size,
            }
        )
    )
    if not args.skip_embedding:
        head_weights, head_bias = train_embedding_head(examples, args.epochs)
        np.savez_compressed(
            out / embedding.ARTEFACT,
            weights=head_weights,
            bias=head_bias,
            categories=np.array(INTENT_CATEGORIES),
        )
        print(json.dumps({"embedding_head": str(out / embedding.ARTEFACT)}))


if __name__ == "__main__":
    main()
