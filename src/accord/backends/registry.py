"""Which models exist, who may use them, and the backend that serves each."""

from __future__ import annotations

from accord.backends.base import Backend
from accord.backends.openai_compatible import OpenAICompatibleBackend
from accord.deployment import Deployment, ModelConfig
from accord.principal import Principal


def build_backend(config: ModelConfig) -> Backend:
    if config.backend == "openai_compatible":
        return OpenAICompatibleBackend(config)
    if config.backend == "local":
        from accord.backends.local_llm import LocalChatBackend

        return LocalChatBackend(config.name, max_queue=config.max_queue)
    from accord.backends.local_embeddings import LocalEmbeddingsBackend

    return LocalEmbeddingsBackend(config.name)


class ModelRegistry:
    """Backends are built on first use, so a gateway that never serves the local model never loads it."""

    def __init__(self, deployment: Deployment) -> None:
        self._configs = {model.name: model for model in deployment.models}
        self._backends: dict[str, Backend] = {}

    def config(self, name: str) -> ModelConfig | None:
        return self._configs.get(name)

    def backend(self, name: str) -> Backend:
        backend = self._backends.get(name)
        if backend is None:
            backend = self._backends[name] = build_backend(self._configs[name])
        return backend

    def allowed(self, principal: Principal, model: ModelConfig) -> bool:
        if model.allowed_nations and principal.nation not in model.allowed_nations:
            return False
        return not (
            model.allowed_organisations
            and f"{principal.nation}/{principal.organisation}" not in model.allowed_organisations
        )

    def visible_to(self, principal: Principal) -> list[ModelConfig]:
        return [model for model in self._configs.values() if self.allowed(principal, model)]

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        self._backends.clear()
