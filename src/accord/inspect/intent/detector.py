"""The intent cascade: lexical + linear on every request, embedding and judge only in the uncertain band."""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from dataclasses import replace

import numpy as np

from accord.inspect.intent.embedding import EmbeddingHead, EmbeddingStage
from accord.inspect.intent.errors import DetectorError
from accord.inspect.intent.features import encode, ngram_indices, sentence_spans
from accord.inspect.intent.judge import Judge, JudgeConfig
from accord.inspect.intent.lexicon import Lexicon, Match, normalise
from accord.inspect.intent.linear import LinearModel, sigmoid
from accord.inspect.intent.result import INTENT_CATEGORIES, Evidence, IntentResult
from accord.inspect.intent.thresholds import IntentThresholds


class IntentDetector:
    def __init__(
        self,
        lexicon: Lexicon,
        model: LinearModel,
        thresholds: IntentThresholds,
        embedding: EmbeddingStage | None = None,
        judge: Judge | None = None,
    ) -> None:
        self._lexicon = lexicon
        self._model = model
        self._thresholds = thresholds
        self._embedding = embedding
        self._judge = judge
        self._benign_weights = [
            float(np.mean(model.signal_weight(index))) for index in range(len(lexicon.signals))
        ]

    @classmethod
    def load(
        cls,
        thresholds: IntentThresholds | None = None,
        *,
        embedding: bool = False,
        judge: JudgeConfig | None = None,
    ) -> IntentDetector:
        """Load the packaged lexicon and model; the embedding encoder itself loads lazily on first use."""
        lexicon = Lexicon.load()
        model = LinearModel.load(tuple(signal.name for signal in lexicon.signals))
        stage = EmbeddingStage(EmbeddingHead.load()) if embedding else None
        return cls(lexicon, model, thresholds or IntentThresholds(), stage, Judge(judge) if judge else None)

    @property
    def thresholds(self) -> IntentThresholds:
        return self._thresholds

    def use_thresholds(self, thresholds: IntentThresholds) -> None:
        """Swap the bands atomically when a new policy bundle is loaded."""
        self._thresholds = thresholds

    def detect(self, text: str) -> IntentResult:
        try:
            result = self._fast(text)
            if result.uncertain and self._embedding is not None:
                result = self._with_embedding(text, result)
            return result
        except DetectorError:
            raise
        except Exception as error:
            raise DetectorError(f"intent detection failed: {type(error).__name__}: {error}") from error

    async def detect_async(self, text: str) -> IntentResult:
        try:
            result = self._fast(text)
            if result.uncertain and self._embedding is not None:
                result = await asyncio.to_thread(self._with_embedding, text, result)
            if result.uncertain and self._judge is not None:
                result = await self._with_judge(self._judge, text, result)
            return result
        except DetectorError:
            raise
        except Exception as error:
            raise DetectorError(f"intent detection failed: {type(error).__name__}: {error}") from error

    async def aclose(self) -> None:
        if self._judge is not None:
            await self._judge.aclose()

    def _fast(self, text: str) -> IntentResult:
        normalised = normalise(text)
        matches = self._lexicon.match(normalised)
        scores = self._linear_scores(normalised, matches)
        return self._banded(
            scores,
            evidence=self._evidence(matches),
            stages=("lexical", "linear"),
            language=self._lexicon.language(normalised),
        )

    def _linear_scores(self, normalised: str, matches: list[Match]) -> dict[str, float]:
        """The best score over the whole text and each sentence, so benign padding cannot dilute intent."""
        spans = [(0, len(normalised))]
        sentences = sentence_spans(normalised)
        if len(sentences) > 1:
            spans.extend(sentences)
        encoded = encode(normalised)
        positions = encoded.positions
        bounds = [(int(positions[s]), int(positions[e - 1]) + 1) if e > s else (1, 1) for s, e in spans]
        signals: list[list[int]] = [[m.signal for m in matches]] + [[] for _ in spans[1:]]
        sentence_starts = [start for start, _ in spans[1:]]
        for match in matches:
            if sentence_starts:
                signals[bisect_right(sentence_starts, match.start)].append(match.signal)
        logits = self._model.segment_logits(ngram_indices(encoded), bounds, signals)
        best = sigmoid(logits.max(axis=0))  # sigmoid is monotonic: the same as the max of the sigmoids
        return {name: float(score) for name, score in zip(INTENT_CATEGORIES, best, strict=True)}

    def _evidence(self, matches: list[Match]) -> tuple[Evidence, ...]:
        evidence: list[Evidence] = []
        for match in matches:
            signal = self._lexicon.signals[match.signal]
            if signal.categories == ("benign",):
                weight = self._benign_weights[match.signal]
                evidence.append(Evidence(match.start, match.end, signal.name, "benign", weight))
                continue
            weights = self._model.signal_weight(match.signal)
            for category in signal.categories:
                weight = float(weights[INTENT_CATEGORIES.index(category)])
                evidence.append(Evidence(match.start, match.end, signal.name, category, weight))
        return tuple(evidence)

    def _banded(
        self,
        scores: dict[str, float],
        *,
        evidence: tuple[Evidence, ...],
        stages: tuple[str, ...],
        language: str | None,
    ) -> IntentResult:
        bands = {name: self._thresholds.band(name, score) for name, score in scores.items()}
        return IntentResult(
            scores=scores,
            categories=frozenset(name for name, band in bands.items() if band == "decided"),
            uncertain=frozenset(name for name, band in bands.items() if band == "uncertain"),
            evidence=evidence,
            stages=stages,
            language=language,
        )

    def _with_embedding(self, text: str, result: IntentResult) -> IntentResult:
        """Average the linear and embedding scores of the uncertain categories, then re-band them."""
        assert self._embedding is not None
        embedded = self._embedding.scores(text)
        scores = dict(result.scores)
        for name in result.uncertain:
            scores[name] = (scores[name] + embedded[name]) / 2.0
        updated = self._banded(
            scores, evidence=result.evidence, stages=(*result.stages, "embedding"), language=result.language
        )
        # A category the linear stage already decided stays decided.
        return replace(updated, categories=updated.categories | result.categories)

    async def _with_judge(self, judge: Judge, text: str, result: IntentResult) -> IntentResult:
        verdict = await judge.ask(text, result.uncertain)
        if verdict.error is not None:
            return replace(result, stages=(*result.stages, "judge"), errors=(*result.errors, verdict.error))
        confirmed = frozenset(name for name, yes in verdict.answers.items() if yes)
        resolved = frozenset(verdict.answers)
        return replace(
            result,
            categories=result.categories | confirmed,
            uncertain=result.uncertain - resolved,
            stages=(*result.stages, "judge"),
        )
