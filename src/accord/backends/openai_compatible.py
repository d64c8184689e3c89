"""Any OpenAI-compatible model server: vLLM, Ollama, llama.cpp server, a cloud provider.

One pooled HTTP client per model; retries only when the connection could not be made (a request
that reached the upstream may have been acted on); the credential comes from an environment variable
or a file and is never logged.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson

from accord.backends.base import (
    CHAT_FIELDS,
    COMPLETION_FIELDS,
    EMBEDDING_FIELDS,
    JSON,
    BackendBusy,
    BackendError,
    UpstreamRejected,
)
from accord.deployment import ModelConfig

_RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def read_credential(config: ModelConfig) -> str | None:
    if config.api_key_env:
        value = os.environ.get(config.api_key_env)
        if not value:
            raise BackendError(
                f"model {config.name}: environment variable {config.api_key_env} is not set",
                status=502,
                code="backend_misconfigured",
            )
        return value
    if config.api_key_file:
        return config.api_key_file.read_text(encoding="utf-8").strip()
    return None


class OpenAICompatibleBackend:
    def __init__(self, config: ModelConfig) -> None:
        assert config.base_url is not None
        self._config = config
        self._upstream_model = config.upstream_model or config.name
        headers = {"content-type": "application/json"}
        credential = read_credential(config)
        if credential:
            headers["authorization"] = f"Bearer {credential}"
        self._client = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
            limits=httpx.Limits(
                max_connections=config.max_connections, max_keepalive_connections=config.max_connections
            ),
        )
        unsupported = frozenset(config.unsupported_fields)
        self._fields = {
            "chat": CHAT_FIELDS - unsupported,
            "completions": COMPLETION_FIELDS - unsupported,
            "embeddings": EMBEDDING_FIELDS - unsupported,
        }

    def supported_fields(self, route: str) -> frozenset[str]:
        return self._fields.get(route, frozenset())

    async def chat(self, body: JSON) -> JSON:
        return await self._post("chat/completions", body)

    def chat_stream(self, body: JSON) -> AsyncIterator[JSON]:
        return self._stream("chat/completions", body)

    async def completions(self, body: JSON) -> JSON:
        return await self._post("completions", body)

    def completions_stream(self, body: JSON) -> AsyncIterator[JSON]:
        return self._stream("completions", body)

    async def embeddings(self, body: JSON) -> JSON:
        return await self._post("embeddings", body)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _payload(self, body: JSON) -> bytes:
        return orjson.dumps({**body, "model": self._upstream_model})

    async def _send(self, path: str, body: JSON, *, stream: bool) -> httpx.Response:
        request = self._client.build_request("POST", path, content=self._payload(body))
        attempts = self._config.retries + 1
        for attempt in range(attempts):
            try:
                return await self._client.send(request, stream=stream)
            except _RETRYABLE as error:
                if attempt + 1 == attempts:
                    raise BackendError(
                        f"model {self._config.name}: upstream unreachable ({type(error).__name__})"
                    ) from error
            except httpx.TimeoutException as error:
                raise _timeout(self._config.name) from error
            except httpx.HTTPError as error:
                raise BackendError(
                    f"model {self._config.name}: upstream connection failed ({type(error).__name__})"
                ) from error
        raise AssertionError("unreachable")

    async def _post(self, path: str, body: JSON) -> JSON:
        response = await self._send(path, body, stream=False)
        try:
            payload = _json(response.content)
        except httpx.HTTPError as error:
            raise BackendError(f"model {self._config.name}: upstream read failed") from error
        self._raise_for_status(response.status_code, payload, response.headers)
        payload["model"] = self._config.name
        return payload

    async def _stream(self, path: str, body: JSON) -> AsyncIterator[JSON]:
        response = await self._send(path, body, stream=True)
        try:
            if response.status_code >= 400:
                await response.aread()
                self._raise_for_status(response.status_code, _json(response.content), response.headers)
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                chunk = _json(data.encode())
                if "error" in chunk and "choices" not in chunk:
                    raise BackendError(f"model {self._config.name}: upstream error mid-stream")
                chunk["model"] = self._config.name
                yield chunk
        except httpx.TimeoutException as error:
            raise _timeout(self._config.name) from error
        except httpx.HTTPError as error:
            raise BackendError(f"model {self._config.name}: upstream stream broke") from error
        finally:
            await response.aclose()

    def _raise_for_status(self, status: int, payload: JSON, headers: httpx.Headers) -> None:
        if status < 400:
            return
        name = self._config.name
        if status in (401, 403):
            raise BackendError(f"model {name}: upstream refused the gateway's credential ({status})")
        if status == 429:
            retry_after = headers.get("retry-after", "1")
            raise BackendBusy(
                f"model {name}: upstream is rate limiting",
                retry_after=int(retry_after) if retry_after.isdigit() else 1,
            )
        if status >= 500:
            raise BackendError(f"model {name}: upstream failed ({status})")
        raise UpstreamRejected(status, payload)


def _timeout(name: str) -> BackendError:
    return BackendError(f"model {name}: upstream timed out", status=504, code="upstream_timeout")


def _json(content: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
