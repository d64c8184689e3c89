"""The optional judge stage: ask a chat model (OpenAI-compatible API) about the still-uncertain categories.

Any failure (timeout, HTTP error, unparsable answer) leaves the categories uncertain and is reported,
so the policy refuses or reviews; the judge can only ever resolve a category, never silently allow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import httpx

from accord.inspect.intent.result import INTENT_CATEGORIES

DESCRIPTIONS = {
    "domestic_surveillance": "tracking or monitoring U.S. persons or a country's own people",
    "targeted_surveillance": "tracking, locating, profiling or covertly monitoring specific individuals",
    "bulk_collection": "collecting or joining personal data about many people without specific selectors",
    "autonomous_weapons": "letting a system select or engage targets / fire weapons without human control",
    "automated_decision": "high-stakes decisions about people (jobs, benefits, visas) with no human approver",
}

SYSTEM_PROMPT = (
    "You classify requests sent to an AI assistant used by defence ministries for administrative work. "
    "For each category listed, answer true only if the request asks the assistant to help do that thing; "
    "questions about law, history, training and ordinary logistics are false. "
    "Reply with one JSON object mapping each category name to true or false, nothing else."
)


@dataclass(frozen=True)
class JudgeConfig:
    base_url: str
    model: str
    timeout: float = 5.0
    api_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class JudgeVerdict:
    answers: dict[str, bool]
    error: str | None = None


class Judge:
    def __init__(self, config: JudgeConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._config = config
        self._client = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/") + "/",
            timeout=config.timeout,
            headers=headers,
            transport=transport,
        )

    async def ask(self, text: str, categories: frozenset[str]) -> JudgeVerdict:
        wanted = [name for name in INTENT_CATEGORIES if name in categories]
        listing = "\n".join(f"- {name}: {DESCRIPTIONS[name]}" for name in wanted)
        body = {
            "model": self._config.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"Categories:\n{listing}\n\nRequest:\n<<<\n{text}\n>>>"},
            ],
        }
        try:
            response = await self._client.post("chat/completions", json=body)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
            return JudgeVerdict(answers=_parse(content, wanted))
        except httpx.TimeoutException:
            return JudgeVerdict(answers={}, error="judge: timeout")
        except httpx.HTTPError as error:
            return JudgeVerdict(answers={}, error=f"judge: {type(error).__name__}")
        except (KeyError, IndexError, TypeError, ValueError) as error:
            return JudgeVerdict(answers={}, error=f"judge: unusable answer ({type(error).__name__})")

    async def aclose(self) -> None:
        await self._client.aclose()


def _parse(content: str, wanted: list[str]) -> dict[str, bool]:
    """The JSON object in the answer; categories without a strict boolean stay unresolved."""
    start, end = content.find("{"), content.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no JSON object in the judge's answer")
    data = json.loads(content[start : end + 1])
    if not isinstance(data, dict):
        raise ValueError("the judge's answer is not an object")
    return {name: data[name] for name in wanted if isinstance(data.get(name), bool)}
