"""The deployment file (``$ACCORD_HOME/accord.yaml``): models, identity providers, limits.

Validated at load; an error names the line of the offending entry so an operator can fix it.
Credentials are never written inline: a model names an environment variable or a file. An error
message never quotes a value from the file (it could be a credential pasted where it does not
belong): it names the file, the line, the field and the rule only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from accord.inspect.markings import NATO_LEVELS, ceiling_rank

ROUTES = ("chat", "completions", "embeddings", "responses")
# What each in-process backend can answer (`responses` is translated to chat, so it follows chat).
# `openai_compatible` may serve any route its server has.
BACKEND_ROUTES: dict[str, tuple[str, ...]] = {
    "local": ("chat", "completions", "responses"),
    "local_embeddings": ("embeddings",),
    "openai_compatible": ROUTES,
}
MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def http_url(value: str | None) -> str | None:
    """An absolute http(s) URL with a host and no credentials; the error never quotes it."""
    if value is None:
        return None
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 -- raises on a port that is not a number from 0 to 65535
    except ValueError:
        raise ValueError("must be an absolute http:// or https:// URL") from None
    if url.scheme not in ("http", "https") or not url.hostname or not value.isprintable() or " " in value:
        raise ValueError("must be an absolute http:// or https:// URL with a host")
    if url.username is not None or url.password is not None:
        raise ValueError("must not carry credentials (user:password@): they are never written inline")
    return value


class DeploymentError(Exception):
    """The deployment file is invalid; the message names the file and line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Strict):
    name: str = Field(min_length=1, max_length=128, pattern=MODEL_NAME_PATTERN)
    backend: Literal["openai_compatible", "local", "local_embeddings"]
    base_url: str | None = None
    upstream_model: str | None = None
    api_key_env: str | None = Field(default=None, pattern=ENV_NAME_PATTERN)
    api_key_file: Path | None = None
    timeout_seconds: float = Field(default=120.0, gt=0)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    max_connections: int = Field(default=200, gt=0)
    retries: int = Field(default=2, ge=0, le=5)
    external: bool | None = None
    routes: tuple[Literal["chat", "completions", "embeddings", "responses"], ...] | None = None
    allowed_nations: tuple[str, ...] = ()
    allowed_organisations: tuple[str, ...] = ()
    unsupported_fields: tuple[str, ...] = ()
    max_queue: int = Field(default=8, gt=0)

    @model_validator(mode="after")
    def _check_backend(self) -> ModelConfig:
        if self.backend == "openai_compatible" and not self.base_url:
            raise ValueError("an openai_compatible model needs base_url")
        if self.backend != "openai_compatible" and (self.api_key_env or self.api_key_file):
            raise ValueError("only openai_compatible models take credentials")
        if self.api_key_env and self.api_key_file:
            raise ValueError("give api_key_env or api_key_file, not both")
        return self

    @field_validator("routes")
    @classmethod
    def _routes_of_backend(
        cls, value: tuple[str, ...] | None, info: ValidationInfo
    ) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("must name at least one route")
        backend = info.data.get("backend")  # absent when the backend itself was invalid
        possible = BACKEND_ROUTES.get(backend, ROUTES) if isinstance(backend, str) else ROUTES
        if any(route not in possible for route in value):
            raise ValueError(f"a {backend} model can serve only {', '.join(possible)}")
        return value

    _base_url = field_validator("base_url")(http_url)

    @field_validator("allowed_nations")
    @classmethod
    def _upper(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(code.upper() for code in value)

    @property
    def is_external(self) -> bool:
        """Whether prompts leave this machine (redaction and stricter rules apply)."""
        if self.external is not None:
            return self.external
        return self.backend == "openai_compatible"

    @property
    def serves(self) -> tuple[str, ...]:
        if self.routes is not None:
            return self.routes
        if self.backend == "local_embeddings":
            return ("embeddings",)
        if self.backend == "local":
            return ("chat", "completions", "responses")
        return ROUTES


class ClaimMappingConfig(_Strict):
    subject: str = "sub"
    nation: str = "nation"
    organisation: str = "organisation"
    agency_kind: str = "agency_kind"
    roles: str = "roles"
    name: str = "name"


class OIDCConfig(_Strict):
    issuer: str
    audience: str
    jwks_url: str | None = None
    _jwks_url = field_validator("jwks_url")(http_url)
    static_keys: tuple[Path, ...] = ()
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    claims: ClaimMappingConfig = ClaimMappingConfig()

    @model_validator(mode="after")
    def _keys(self) -> OIDCConfig:
        if not self.jwks_url and not self.static_keys:
            raise ValueError("an OIDC provider needs jwks_url or static_keys")
        return self


class RateLimitConfig(_Strict):
    requests_per_minute: int = Field(default=600, gt=0)
    burst: int = Field(default=60, gt=0)


class JudgeModelConfig(_Strict):
    """A policy-following safety model the operator runs, asked only about uncertain intent."""

    base_url: str
    model: str
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    api_key_env: str | None = Field(default=None, pattern=ENV_NAME_PATTERN)

    _base_url = field_validator("base_url")(http_url)


class IntentStageConfig(_Strict):
    embedding_stage: bool = False  # multilingual USE v3 on uncertain texts (tens of ms per text)
    judge: JudgeModelConfig | None = None


class GatewayConfig(_Strict):
    ceiling: str = "NU"  # a NATO level code or name; resolved by `ceiling_rank` like the scanner does
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    rate_limit: RateLimitConfig = RateLimitConfig()
    stream_holdback_chars: int = Field(default=64, ge=64, le=4096)
    intent: IntentStageConfig = IntentStageConfig()
    origin: str = "accord"
    access_log: bool = True  # one JSON line per HTTP request on the `accord.access` logger

    @field_validator("ceiling")
    @classmethod
    def _known_ceiling(cls, value: str) -> str:
        try:
            ceiling_rank(value)
        except ValueError:
            raise ValueError(f"must be one of {', '.join(NATO_LEVELS)} (or its full name)") from None
        return value


class Deployment(_Strict):
    gateway: GatewayConfig = GatewayConfig()
    models: tuple[ModelConfig, ...] = ()
    oidc: tuple[OIDCConfig, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Deployment:
        names = [model.name for model in self.models]
        for index, name in enumerate(names):
            if name in names[:index]:
                first = names.index(name)
                raise ValueError(f"model names must be unique: models.{index} repeats models.{first}")
        return self

    def model(self, name: str) -> ModelConfig | None:
        return next((model for model in self.models if model.name == name), None)


DEFAULT_DEPLOYMENT = """\
# Accord deployment file. Credentials never go here: name an environment variable or a file.
gateway:
  ceiling: NU                 # NATO UNCLASSIFIED: anything marked above it is refused as spillage
  max_body_bytes: 8388608
  rate_limit: {requests_per_minute: 600, burst: 60}
models:
  - name: smollm2-135m-instruct
    backend: local            # SmolLM2-135M-Instruct, in-process via llama.cpp
  - name: use-multilingual-v3
    backend: local_embeddings # multilingual Universal Sentence Encoder v3, in-process
oidc: []
"""


def load_deployment(path: Path) -> Deployment:
    text = path.read_text(encoding="utf-8")
    return parse_deployment(text, source=str(path))


def parse_deployment(text: str, source: str = "<deployment>") -> Deployment:
    # Errors are raised outside the `except` and `from None`: a chained YAMLError or
    # ValidationError would quote the offending line or value (`input_value='sk-…'`) wherever
    # the traceback is printed or logged.
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        message = describe_yaml_error(source, error)
    else:
        return _validate(node, data, source)
    raise DeploymentError(message) from None


def _validate(node: yaml.Node | None, data: Any, source: str) -> Deployment:
    try:
        return Deployment.model_validate(data)
    except ValidationError as error:
        # `loc` and `msg` only: pydantic's messages state the rule, never the input.
        first = error.errors(include_url=False, include_context=False, include_input=False)[0]
        location = first["loc"]
        line = _line_of(node, location)
        where = ".".join(str(part) for part in location) or "(top level)"
        at = f" line {line}" if line else ""
        message = f"{source}:{at} {where}: {first['msg']}"
    raise DeploymentError(message) from None


def describe_yaml_error(source: str, error: Exception) -> str:
    """A YAML syntax error (PyYAML's or ruamel's) as one line with its position but not the
    snippet of the file that the library's own message includes."""
    problem = (
        getattr(error, "problem", None)
        or getattr(error, "context", None)
        or getattr(error, "reason", None)  # PyYAML's ReaderError: a character YAML does not allow
        or "syntax error"
    )
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    at = f" line {mark.line + 1} column {mark.column + 1}:" if mark is not None else ""
    return f"{source}:{at} not valid YAML: {problem}"


def _line_of(node: yaml.Node | None, location: tuple[int | str, ...]) -> int | None:
    """Follow a pydantic error location through the YAML node tree to a 1-based line number."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in location:
        if isinstance(node, yaml.MappingNode):
            match: Any = next((v for k, v in node.value if k.value == part), None)
            if match is None:
                # an unknown key: point at the key itself
                key = next((k for k, _ in node.value if k.value == part), None)
                return key.start_mark.line + 1 if key is not None else line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def dump_deployment(deployment: Deployment) -> str:
    data = deployment.model_dump(mode="json", exclude_defaults=True)
    return str(yaml.safe_dump(data, sort_keys=False))
