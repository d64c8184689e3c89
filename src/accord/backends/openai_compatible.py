"""Any OpenAI-compatible model server: vLLM, Ollama, llama.cpp server, a cloud provider.

One pooled HTTP/1.1 client per model (:mod:`accord.backends.http1`; httpx only when the environment
names a proxy for the upstream); retries only when the connection could not be made (a request that
reached the upstream may have been acted on); the credential comes from an environment variable or a
file and is never logged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal, Protocol, overload
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

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
from accord.backends.http1 import Broken, Pool, ReadTimeout, Unreachable, UpstreamFailure
from accord.deployment import ModelConfig

log = logging.getLogger("accord.backends")


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


class _Response(Protocol):
    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    async def read(self) -> bytes: ...

    def aiter_lines(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class _Transport(Protocol):
    async def post(self, path: str, body: bytes) -> _Response: ...

    async def aclose(self) -> None: ...


class OpenAICompatibleBackend:
    def __init__(self, config: ModelConfig) -> None:
        assert config.base_url is not None
        self._config = config
        self._upstream_model = config.upstream_model or config.name
        headers = {"content-type": "application/json"}
        credential = read_credential(config)
        if credential:
            headers["authorization"] = f"Bearer {credential}"
        base_url = config.base_url.rstrip("/") + "/"
        self._path = urlsplit(base_url).path  # for the log: never the host's userinfo or a query
        self._transport: _Transport
        if _uses_proxy(base_url):
            self._transport = _HttpxTransport(base_url, headers, config)
        else:
            self._transport = Pool(
                base_url,
                headers,
                max_connections=config.max_connections,
                connect_timeout=config.connect_timeout_seconds,
                timeout=config.timeout_seconds,
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
        await self._transport.aclose()

    def _payload(self, body: JSON) -> bytes:
        return orjson.dumps({**body, "model": self._upstream_model})

    async def _send(self, path: str, body: JSON) -> _Response:
        payload = self._payload(body)
        attempts = self._config.retries + 1
        for attempt in range(attempts):
            try:
                response = await self._transport.post(path, payload)
            except Unreachable as error:
                # Nothing was sent, so trying again cannot make the upstream act twice.
                if attempt + 1 == attempts:
                    name = self._config.name
                    raise BackendError(f"model {name}: upstream unreachable ({error})") from error
                continue
            except ReadTimeout as error:
                raise _timeout(self._config.name) from error
            except UpstreamFailure as error:
                raise BackendError(
                    f"model {self._config.name}: upstream connection failed ({type(error).__name__})"
                ) from error
            # Debug level: a line per upstream call is a cost on the hot path (httpx logged at info).
            log.debug("model %s: POST %s%s -> %d", self._config.name, self._path, path, response.status_code)
            return response
        raise AssertionError("unreachable")

    async def _post(self, path: str, body: JSON) -> JSON:
        response = await self._send(path, body)
        name = self._config.name
        try:
            content = await response.read()
        except ReadTimeout as error:
            raise _timeout(name) from error
        except UpstreamFailure as error:
            raise BackendError(f"model {name}: upstream read failed") from error
        self._raise_for_status(response.status_code, _json(content), response.headers)
        # A 200 that is not the answer (an HTML error page from a proxy, a body cut short) is the
        # upstream's failure: 502, never an empty success.
        payload = _json(content, strict=True)
        if payload is None or not isinstance(payload.get(_ANSWER_FIELD[path]), list):
            raise BackendError(f"model {name}: upstream answered 200 without a valid {path} response")
        payload["model"] = name
        return payload

    async def _stream(self, path: str, body: JSON) -> AsyncIterator[JSON]:
        response = await self._send(path, body)
        name = self._config.name
        try:
            if response.status_code >= 400:
                self._raise_for_status(response.status_code, _json(await response.read()), response.headers)
            if not response.headers.get("content-type", "text/event-stream").startswith("text/event-stream"):
                raise BackendError(f"model {name}: upstream answered a stream request without a stream")
            async for line in response.aiter_lines():
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    return
                chunk = _json(data, strict=True)
                if chunk is None:
                    raise BackendError(f"model {name}: upstream sent an undecodable stream event")
                if "error" in chunk and "choices" not in chunk:
                    raise BackendError(f"model {name}: upstream error mid-stream")
                chunk["model"] = name
                yield chunk
            # Every OpenAI-compatible server ends a stream with [DONE]: without it the answer may
            # be cut short, and passing it on as complete would be a silent truncation.
            raise BackendError(f"model {name}: upstream stream ended before [DONE]")
        except ReadTimeout as error:
            raise _timeout(name) from error
        except UpstreamFailure as error:
            raise BackendError(f"model {name}: upstream stream broke") from error
        finally:
            await response.aclose()

    def _raise_for_status(self, status: int, payload: JSON, headers: Mapping[str, str]) -> None:
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


def _uses_proxy(base_url: str) -> bool:
    """Whether the environment routes this URL through a proxy (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY)."""
    url = urlsplit(base_url)
    proxies = getproxies()
    if not (proxies.get(url.scheme) or proxies.get("all")):
        return False
    return not proxy_bypass(url.netloc)


class _HttpxResponse:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status_code = response.status_code
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.aread()
        except httpx.TimeoutException as error:
            raise ReadTimeout("upstream timed out") from error
        except httpx.HTTPError as error:
            raise Broken(type(error).__name__) from error
        finally:
            await self._response.aclose()

    async def aiter_lines(self) -> AsyncIterator[bytes]:
        try:
            async for line in self._response.aiter_lines():
                yield line.encode()
        except httpx.TimeoutException as error:
            raise ReadTimeout("upstream timed out") from error
        except httpx.HTTPError as error:
            raise Broken(type(error).__name__) from error

    async def aclose(self) -> None:
        await self._response.aclose()


class _HttpxTransport:
    """Through an HTTP proxy named by the environment, which the lean pool does not speak."""

    def __init__(self, base_url: str, headers: dict[str, str], config: ModelConfig) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
            limits=httpx.Limits(
                max_connections=config.max_connections, max_keepalive_connections=config.max_connections
            ),
        )

    async def post(self, path: str, body: bytes) -> _Response:
        request = self._client.build_request("POST", path, content=body)
        try:
            return _HttpxResponse(await self._client.send(request, stream=True))
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise Unreachable(type(error).__name__) from error
        except httpx.TimeoutException as error:
            raise ReadTimeout("upstream timed out") from error
        except httpx.HTTPError as error:
            raise Broken(type(error).__name__) from error

    async def aclose(self) -> None:
        await self._client.aclose()


def _timeout(name: str) -> BackendError:
    return BackendError(f"model {name}: upstream timed out", status=504, code="upstream_timeout")


_ANSWER_FIELD = {"chat/completions": "choices", "completions": "choices", "embeddings": "data"}


@overload
def _json(content: bytes) -> dict[str, Any]: ...


@overload
def _json(content: bytes, *, strict: Literal[True]) -> dict[str, Any] | None: ...


def _json(content: bytes, *, strict: bool = False) -> dict[str, Any] | None:
    """The JSON object in ``content``; otherwise ``None`` if ``strict``, else ``{}`` (error bodies
    are read for what they say, and may be anything)."""
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, dict):
        return value
    return None if strict else {}
