"""Inspect and decide: the findings of every detector and the policy's decision on them.

Pure of side effects (no incidents, no parking, no ledger), so the gateway and `accord inspect`
reach the same decision on the same text.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accord.deployment import IntentStageConfig
from accord.inspect.intent import IntentDetector, IntentResult, IntentThresholds, JudgeConfig
from accord.inspect.markings import ClassificationResult, MarkingScanner
from accord.inspect.personal_data import PersonalDataDetector, PersonalDataResult
from accord.inspect.volume import VolumeResult, VolumeTracker
from accord.policy.engine import Decision, PolicyInput
from accord.policy.store import PolicyStore
from accord.principal import Principal

# Above this many characters detectors run in a worker thread, so one huge prompt cannot stall
# every other request on the event loop.
OFFLOAD_CHARS = 64 * 1024


def load_intent_detector(config: IntentStageConfig, decide: Mapping[str, float]) -> IntentDetector:
    """The cascade the deployment asks for, banded by the policy bundle's thresholds."""
    judge = None
    if config.judge is not None:
        api_key = os.environ.get(config.judge.api_key_env) if config.judge.api_key_env else None
        if config.judge.api_key_env and not api_key:
            raise RuntimeError(f"judge model: environment variable {config.judge.api_key_env} is not set")
        judge = JudgeConfig(
            base_url=config.judge.base_url,
            model=config.judge.model,
            timeout=config.judge.timeout_seconds,
            api_key=api_key,
        )
    return IntentDetector.load(
        IntentThresholds.from_decide(decide), embedding=config.embedding_stage, judge=judge
    )


@dataclass(frozen=True, slots=True)
class Evaluation:
    classification: ClassificationResult
    personal_data: PersonalDataResult | None = None
    intent: IntentResult | None = None
    volume: VolumeResult | None = None
    decision: Decision | None = None

    def summary(self) -> dict[str, Any]:
        """What the ledger keeps: levels, categories, scores and counts; never content."""
        summary: dict[str, Any] = {
            "classification": {
                "level": self.classification.level,
                "rank": self.classification.rank,
                "scheme": self.classification.scheme,
            }
        }
        if self.intent is not None:
            summary["intent"] = {
                "categories": sorted(self.intent.categories),
                "uncertain": sorted(self.intent.uncertain),
                "scores": {key: round(value, 3) for key, value in sorted(self.intent.scores.items())},
            }
        if self.personal_data is not None:
            summary["personal_data"] = self.personal_data.counts()
            summary["us_person_signals"] = len(self.personal_data.us_person_signals)
        if self.volume is not None:
            summary["volume"] = dict(self.volume.distinct)
        return summary


class Inspector:
    def __init__(
        self,
        *,
        scanner: MarkingScanner,
        ceiling_rank: int,
        personal_data: PersonalDataDetector,
        intent: IntentDetector,
        volume: VolumeTracker,
        policy: PolicyStore,
    ) -> None:
        self.scanner = scanner
        self.ceiling_rank = ceiling_rank
        self.personal_data = personal_data
        self.intent = intent
        self.volume = volume
        self.policy = policy
        self._thresholds_version = policy.current.version

    async def classify(self, text: str) -> ClassificationResult:
        if len(text) > OFFLOAD_CHARS:
            return await asyncio.to_thread(self.scanner.scan, text)
        return self.scanner.scan(text)

    async def evaluate(
        self, principal: Principal, action: str, model: str, external: bool, text: str
    ) -> Evaluation:
        """Classification first: above the ceiling nothing else needs to (or may) look at the text."""
        classification = await self.classify(text)
        if classification.exceeds(self.ceiling_rank):
            return Evaluation(classification)
        if len(text) > OFFLOAD_CHARS:
            personal = await asyncio.to_thread(self.personal_data.scan, text)
        else:
            personal = self.personal_data.scan(text)
        engine = self.policy.current
        if engine.version != self._thresholds_version:  # a new bundle was hot-loaded
            self.intent.use_thresholds(IntentThresholds.from_decide(engine.intent_thresholds))
            self._thresholds_version = engine.version
        intent = await self.intent.detect_async(text)
        volume = await self.volume.observe(principal.id, personal.identifiers)
        decision = engine.decide(
            PolicyInput(
                principal=principal,
                action=action,
                model=model,
                backend_external=external,
                classification_rank=classification.rank,
                classification_level=classification.level,
                ceiling_rank=self.ceiling_rank,
                intent_scores=intent.scores,
                intent_categories=intent.categories,
                intent_uncertain=intent.uncertain,
                personal_data_counts=personal.counts(),
                us_person_signals=len(personal.us_person_signals),
                distinct_identifiers=len(personal.identifiers),
                volume_distinct=volume.distinct,
            )
        )
        return Evaluation(classification, personal, intent, volume, decision)
