"""The in-process embeddings model, exercised with the real USE multilingual v3 (no mocks)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator

import numpy as np
import pytest

from accord.backends.base import EMBEDDING_FIELDS, Backend, BackendBusy, BackendError, UpstreamRejected
from accord.backends.local_embeddings import DIMENSIONS, LocalEmbeddingsBackend

MODEL = "accord-local-embeddings"


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalEmbeddingsBackend]:
    # One model load for the module; each test has its own event loop, which the backend allows.
    embeddings = LocalEmbeddingsBackend(max_queue=8)
    yield embeddings
    asyncio.run(embeddings.aclose())


async def embed(backend: LocalEmbeddingsBackend, texts: list[str]) -> np.ndarray:
    response = await backend.embeddings({"model": MODEL, "input": texts})
    return np.array([item["embedding"] for item in response["data"]], dtype=np.float32)


@pytest.mark.slow
async def test_float_vectors_in_openai_shape(backend: LocalEmbeddingsBackend) -> None:
    response = await backend.embeddings({"model": MODEL, "input": ["first sentence", "second one"]})
    assert response["object"] == "list" and response["model"] == MODEL
    assert [item["index"] for item in response["data"]] == [0, 1]
    for item in response["data"]:
        assert item["object"] == "embedding"
        vector = np.array(item["embedding"])
        assert vector.shape == (DIMENSIONS,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    usage = response["usage"]
    assert usage["prompt_tokens"] >= 4 and usage["total_tokens"] == usage["prompt_tokens"]


@pytest.mark.slow
async def test_single_string_input(backend: LocalEmbeddingsBackend) -> None:
    response = await backend.embeddings({"model": MODEL, "input": "just one"})
    assert len(response["data"]) == 1 and len(response["data"][0]["embedding"]) == DIMENSIONS


@pytest.mark.slow
async def test_base64_decodes_to_the_float_vector(backend: LocalEmbeddingsBackend) -> None:
    text = "Accord records every decision in a ledger."
    as_float = await backend.embeddings({"model": MODEL, "input": text})
    as_base64 = await backend.embeddings({"model": MODEL, "input": text, "encoding_format": "base64"})
    encoded = as_base64["data"][0]["embedding"]
    assert isinstance(encoded, str)
    decoded = np.frombuffer(base64.b64decode(encoded), dtype="<f4")
    assert decoded.shape == (DIMENSIONS,)
    np.testing.assert_allclose(decoded, np.array(as_float["data"][0]["embedding"]), atol=1e-6)


@pytest.mark.slow
async def test_translations_are_closer_than_unrelated_sentences(backend: LocalEmbeddingsBackend) -> None:
    english, french, german, unrelated = await embed(
        backend,
        [
            "The cat is sleeping on the sofa.",
            "Le chat dort sur le canapé.",
            "Die Katze schläft auf dem Sofa.",
            "Quarterly revenue rose by eight percent.",
        ],
    )
    assert english @ french > english @ unrelated + 0.2
    assert english @ german > english @ unrelated + 0.2


@pytest.mark.slow
async def test_concurrent_requests_get_their_own_vectors(backend: LocalEmbeddingsBackend) -> None:
    texts = [f"Request number {i} asks about topic {i * 7}." for i in range(8)]
    alone = [await embed(backend, [text]) for text in texts]
    together = await asyncio.gather(*(embed(backend, [text]) for text in texts))
    for one, batched in zip(alone, together, strict=True):
        np.testing.assert_allclose(one, batched, atol=1e-5)


@pytest.mark.slow
async def test_full_queue_is_refused_with_busy(backend: LocalEmbeddingsBackend) -> None:
    # A large request occupies the worker; of the 16 small ones behind it at most 8 may wait.
    large = backend.embeddings({"model": MODEL, "input": [f"filler sentence {i}" for i in range(2048)]})
    small = [backend.embeddings({"model": MODEL, "input": f"small {i}"}) for i in range(16)]
    results = await asyncio.gather(large, *small, return_exceptions=True)
    assert isinstance(results[0], dict) and len(results[0]["data"]) == 2048
    busy = [r for r in results if isinstance(r, BackendBusy)]
    assert len(busy) >= 7
    assert all(r.status == 429 for r in busy)
    assert all(isinstance(r, dict | BackendBusy) for r in results)


@pytest.mark.slow
async def test_dimensions_512_is_accepted(backend: LocalEmbeddingsBackend) -> None:
    response = await backend.embeddings({"model": MODEL, "input": "x y", "dimensions": DIMENSIONS})
    assert len(response["data"][0]["embedding"]) == DIMENSIONS


async def test_other_dimensions_are_refused(backend: LocalEmbeddingsBackend) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        await backend.embeddings({"model": MODEL, "input": "x", "dimensions": 256})
    assert caught.value.status == 400 and caught.value.body["error"]["param"] == "dimensions"


async def test_token_id_input_is_refused(backend: LocalEmbeddingsBackend) -> None:
    for token_ids in ([1, 2, 3], [[1, 2], [3]]):
        with pytest.raises(UpstreamRejected) as caught:
            await backend.embeddings({"model": MODEL, "input": token_ids})
        assert caught.value.code == "unsupported_parameter"
        assert caught.value.body["error"]["param"] == "input"


async def test_unknown_encoding_is_refused(backend: LocalEmbeddingsBackend) -> None:
    with pytest.raises(UpstreamRejected) as caught:
        await backend.embeddings({"model": MODEL, "input": "x", "encoding_format": "int8"})
    assert caught.value.body["error"]["param"] == "encoding_format"


async def test_chat_routes_are_refused(backend: LocalEmbeddingsBackend) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    for call in (backend.chat, backend.completions):
        with pytest.raises(BackendError) as caught:
            await call(body)
        assert caught.value.status == 400 and caught.value.code == "unsupported_route"
    with pytest.raises(BackendError) as streamed:
        await anext(backend.chat_stream(body))
    assert streamed.value.code == "unsupported_route"


def test_supported_fields(backend: LocalEmbeddingsBackend) -> None:
    as_backend: Backend = backend  # mypy checks the protocol is met
    assert as_backend.supported_fields("embeddings") == EMBEDDING_FIELDS
    assert backend.supported_fields("chat") == frozenset()


async def test_closed_backend_refuses_requests() -> None:
    embeddings = LocalEmbeddingsBackend()
    await embeddings.aclose()
    with pytest.raises(BackendError) as caught:
        await embeddings.embeddings({"model": MODEL, "input": "x"})
    assert caught.value.status == 503 and caught.value.code == "backend_closed"
