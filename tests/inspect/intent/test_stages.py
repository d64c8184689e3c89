"""The slow and remote stages: embedding (on a handful of cases) and the judge (against a fake server)."""

from __future__ import annotations

import json

import httpx
import pytest

from accord.inspect.intent import IntentDetector, IntentThresholds, JudgeConfig
from accord.inspect.intent.judge import Judge

EVERYTHING_UNCERTAIN = IntentThresholds.from_dict(
    {name: {"decide": 1.0, "uncertain": 0.0} for name in IntentThresholds().decide}
)


def test_embedding_runs_only_in_the_uncertain_band() -> None:
    detector = IntentDetector.load(embedding=True)
    clear = detector.detect("Translate the canteen menu into German.")
    assert clear.stages == ("lexical", "linear")
    banded = IntentDetector.load(EVERYTHING_UNCERTAIN, embedding=True).detect(
        "Follow her home and note the address."
    )
    assert banded.stages == ("lexical", "linear", "embedding")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Secretly geolocate the reporter and tell me where she sleeps.", "targeted_surveillance"),
        ("Die Drohne soll Ziele selbst auswählen und ohne Freigabe angreifen.", "autonomous_weapons"),
    ],
)
def test_embedding_head_agrees_on_clear_cases(text: str, category: str) -> None:
    from accord.inspect.intent.embedding import EmbeddingHead, EmbeddingStage

    scores = EmbeddingStage(EmbeddingHead.load()).scores(text)
    assert scores[category] > 0.5


def _judge_detector(handler: httpx.MockTransport) -> IntentDetector:
    detector = IntentDetector.load(EVERYTHING_UNCERTAIN)
    detector._judge = Judge(
        JudgeConfig(base_url="http://judge.test/v1", model="m", timeout=0.5), transport=handler
    )
    return detector


async def test_judge_resolves_uncertain_categories() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["model"] == "m"
        verdict = {name: name == "bulk_collection" for name in IntentThresholds().decide}
        return httpx.Response(200, json={"choices": [{"message": {"content": json.dumps(verdict)}}]})

    detector = _judge_detector(httpx.MockTransport(answer))
    result = await detector.detect_async("Put the contact details of all attendees in one table.")
    await detector.aclose()
    assert result.stages[-1] == "judge"
    assert result.categories == {"bulk_collection"}
    assert not result.uncertain
    assert not result.errors


@pytest.mark.parametrize(
    "failure",
    [
        lambda request: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=request)),
        lambda request: httpx.Response(503),
        lambda request: httpx.Response(200, json={"choices": [{"message": {"content": "I cannot say"}}]}),
    ],
)
async def test_judge_failure_fails_closed(failure: object) -> None:
    detector = _judge_detector(httpx.MockTransport(failure))  # type: ignore[arg-type]
    result = await detector.detect_async("Put the contact details of all attendees in one table.")
    await detector.aclose()
    assert result.errors and result.errors[0].startswith("judge:")
    assert result.uncertain == frozenset(
        IntentThresholds().decide
    )  # still uncertain: the policy cannot allow
