"""The one interface every model backend implements; the pipeline is the only caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

JSON = dict[str, Any]

# Fields of the OpenAI request bodies that every backend must understand or refuse.
CHAT_FIELDS = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "n",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "user",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "metadata",
        "store",
        "service_tier",
        "reasoning_effort",
        "modalities",
        "audio",
        "prediction",
        "web_search_options",
        "functions",
        "function_call",
        "verbosity",
        "prompt_cache_key",
        "safety_identifier",
    }
)
COMPLETION_FIELDS = frozenset(
    {
        "model",
        "prompt",
        "stream",
        "stream_options",
        "max_tokens",
        "temperature",
        "top_p",
        "n",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "echo",
        "best_of",
        "suffix",
        "user",
    }
)
EMBEDDING_FIELDS = frozenset({"model", "input", "encoding_format", "dimensions", "user"})


class BackendError(Exception):
    """The backend failed; `status` is what the caller sees (502 bad gateway, 504 timeout)."""

    def __init__(self, message: str, *, status: int = 502, code: str = "upstream_error") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class BackendBusy(BackendError):
    """The backend's queue is full: the caller may retry later (429)."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, status=429, code="backend_busy")
        self.retry_after = retry_after


class UpstreamRejected(BackendError):
    """The upstream answered 4xx: its verdict is passed to the caller as it came."""

    def __init__(self, status: int, body: JSON) -> None:
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        message = str(error.get("message") or f"upstream refused the request ({status})")
        super().__init__(message, status=status, code=str(error.get("code") or "upstream_rejected"))
        self.body = body


class Backend(Protocol):
    """A model server reached by Accord.

    Request bodies are OpenAI-shaped dicts that the pipeline has already validated and inspected;
    responses and stream chunks are OpenAI-shaped dicts the pipeline inspects before releasing.
    `supported_fields(route)` lists what this backend honours: the pipeline answers 400 for a
    field the caller sent that the backend cannot honour, rather than dropping it silently.
    """

    def supported_fields(self, route: str) -> frozenset[str]: ...

    async def chat(self, body: JSON) -> JSON: ...

    def chat_stream(self, body: JSON) -> AsyncIterator[JSON]: ...

    async def completions(self, body: JSON) -> JSON: ...

    def completions_stream(self, body: JSON) -> AsyncIterator[JSON]: ...

    async def embeddings(self, body: JSON) -> JSON: ...

    async def aclose(self) -> None: ...
