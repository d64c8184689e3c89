from __future__ import annotations

import re
import traceback
from pathlib import Path

import pytest

from accord.deployment import DEFAULT_DEPLOYMENT, DeploymentError, load_deployment, parse_deployment


def test_default_deployment_serves_the_embedded_models() -> None:
    deployment = parse_deployment(DEFAULT_DEPLOYMENT)
    chat = deployment.model("smollm2-135m-instruct")
    embeddings = deployment.model("use-multilingual-v3")
    assert chat is not None and chat.backend == "local" and not chat.is_external
    assert embeddings is not None and embeddings.serves == ("embeddings",)
    assert deployment.gateway.ceiling == "NU"


def test_error_names_the_line_of_the_bad_entry() -> None:
    text = "models:\n  - name: a\n    backend: local\n  - name: b\n    backend: openai_compatible\n"
    with pytest.raises(DeploymentError, match=r"line 4 .*models\.1.*base_url"):
        parse_deployment(text, source="accord.yaml")
    with pytest.raises(DeploymentError, match=r"line 3 models\.0\.colour"):
        parse_deployment("models:\n  - name: a\n    colour: red\n    backend: local\n")


def test_credentials_never_inline_and_names_unique(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match="api_key"):
        parse_deployment(
            "models:\n  - {name: a, backend: openai_compatible, base_url: http://x, api_key: s}\n"
        )
    with pytest.raises(DeploymentError, match="unique"):
        parse_deployment("models:\n  - {name: a, backend: local}\n  - {name: a, backend: local}\n")
    with pytest.raises(DeploymentError, match="not valid YAML"):
        parse_deployment("models: [\n")
    path = tmp_path / "accord.yaml"
    path.write_text(
        "models:\n  - {name: up, backend: openai_compatible, base_url: http://h/v1, "
        "api_key_env: UP_KEY, allowed_nations: [deu]}\n"
    )
    model = load_deployment(path).model("up")
    assert model is not None and model.is_external and model.allowed_nations == ("DEU",)


def test_the_access_log_is_on_unless_switched_off() -> None:
    assert parse_deployment(DEFAULT_DEPLOYMENT).gateway.access_log is True
    assert parse_deployment("gateway: {access_log: false}\n").gateway.access_log is False
    with pytest.raises(DeploymentError, match=r"gateway\.access_log"):
        parse_deployment("gateway: {access_log: sometimes}\n")


def _model(**fields: str) -> str:
    return "models:\n  - name: m\n" + "".join(f"    {key}: {value}\n" for key, value in fields.items())


@pytest.mark.parametrize(
    "base_url",
    [
        "notaurl",
        "ftp://files.example/v1",
        "http://",
        "/v1",
        "http://h:99999/v1",
        "http://user:pw@h/v1",
        "'http://h x/v1'",
        '"http://h\\x01/v1"',  # a control character (YAML double-quoted escape)
        '"http://h\\n/v1"',  # urlsplit would drop the newline silently
    ],
)
def test_base_url_must_be_an_http_url_with_a_host(base_url: str) -> None:
    with pytest.raises(
        DeploymentError, match=r"^accord\.yaml: line 4 models\.0\.base_url: .*(URL|credentials)"
    ):
        parse_deployment(_model(backend="openai_compatible", base_url=base_url), source="accord.yaml")
    for good in ("http://vllm.internal:8000/v1", "https://api.example", "http://[::1]:8000/v1"):
        parse_deployment(_model(backend="openai_compatible", base_url=good))


def test_the_judge_and_jwks_urls_are_checked_too() -> None:
    with pytest.raises(DeploymentError, match=r"line 4 gateway\.intent\.judge\.base_url"):
        parse_deployment("gateway:\n  intent:\n    judge:\n      base_url: notaurl\n      model: g\n")
    with pytest.raises(DeploymentError, match=r"oidc\.0\.jwks_url"):
        parse_deployment("oidc:\n  - {issuer: i, audience: a, jwks_url: 'file:///etc/keys'}\n")


def test_ceiling_is_one_the_scanner_knows() -> None:
    with pytest.raises(
        DeploymentError, match=r"^accord\.yaml: line 2 gateway\.ceiling: .*NU, NR, NC, NS, CTS"
    ):
        parse_deployment("gateway:\n  ceiling: XX\n", source="accord.yaml")
    for ceiling in ("NU", "nr", "NATO CONFIDENTIAL", "CTS"):
        assert parse_deployment(f"gateway: {{ceiling: {ceiling}}}\n").gateway.ceiling == ceiling


@pytest.mark.parametrize(
    ("backend", "routes"),
    [
        ("local", "[chat, embeddings]"),
        ("local", "[embeddings]"),
        ("local_embeddings", "[chat]"),
        ("local_embeddings", "[embeddings, responses]"),
        ("local", "[]"),
        ("openai_compatible", "[]"),
    ],
)
def test_routes_must_be_ones_the_backend_serves(backend: str, routes: str) -> None:
    fields = {"backend": backend, "routes": routes}
    if backend == "openai_compatible":
        fields["base_url"] = "http://h/v1"
    with pytest.raises(DeploymentError, match=r"line \d models\.0\.routes: "):
        parse_deployment(_model(**fields))


def test_routes_a_backend_serves_are_accepted() -> None:
    for backend, routes in (
        ("local", ("chat", "completions", "responses")),
        ("local", ("chat",)),
        ("local_embeddings", ("embeddings",)),
    ):
        model = parse_deployment(_model(backend=backend, routes=f"[{', '.join(routes)}]")).model("m")
        assert model is not None and model.serves == routes
    remote = parse_deployment(_model(backend="openai_compatible", base_url="http://h", routes="[embeddings]"))
    assert remote.models[0].serves == ("embeddings",)


@pytest.mark.parametrize(
    "name", ["'a b'", '"a\\tb"', '"a\\n"', "-lead", "''", "'" + "x" * 129 + "'", '"caf\\u00e9"']
)
def test_model_names_are_plain_identifiers(name: str) -> None:
    with pytest.raises(DeploymentError, match=r"models\.0\.name"):
        parse_deployment(f"models:\n  - name: {name}\n    backend: local\n")


def test_model_names_may_look_like_upstream_names() -> None:
    for name in ("llama-3.1-70b", "meta-llama/Llama-3.1-70B-Instruct", "qwen2.5:7b", "gpt@eu+1", "x" * 128):
        assert parse_deployment(f"models:\n  - {{name: '{name}', backend: local}}\n").models[0].name == name


@pytest.mark.parametrize("variable", ["sk-inline-SECRET", "1KEY", "MY KEY", "KEY$"])
def test_api_key_env_must_name_a_variable(variable: str) -> None:
    with pytest.raises(DeploymentError, match=r"line 5 models\.0\.api_key_env") as refused:
        parse_deployment(
            _model(backend="openai_compatible", base_url="http://h", api_key_env=f"'{variable}'")
        )
    assert variable not in str(refused.value)
    parse_deployment(_model(backend="openai_compatible", base_url="http://h", api_key_env="_VLLM_KEY_2"))


SECRET = "sk-inline-SECRET-7f3a"
LEAKY = [
    _model(backend="openai_compatible", base_url="http://h", api_key=SECRET),  # the acceptance case
    _model(backend="openai_compatible", base_url=f"http://u:{SECRET}@h/v1"),
    _model(backend="openai_compatible", base_url="http://h", api_key_env=SECRET),
    _model(backend="openai_compatible", base_url=SECRET),
    _model(backend="local", routes=f"[{SECRET}]"),
    f"gateway:\n  ceiling: {SECRET}\n",
    f"models:\n  - {{name: m, backend: local, api_key: {SECRET}\n",  # not YAML: the line is not quoted
    f"models:\n  - name: m\n    api_key: {SECRET}: x\n",
]


@pytest.mark.parametrize("text", LEAKY)
def test_errors_never_quote_a_value_or_chain_one(text: str) -> None:
    with pytest.raises(DeploymentError) as refused:
        parse_deployment(text, source="accord.yaml")
    error = refused.value
    assert re.match(r"accord\.yaml: line \d+ ", str(error)), str(error)
    assert SECRET not in str(error)
    assert error.__cause__ is None and error.__context__ is None  # a traceback shows nothing more
    assert SECRET not in "".join(traceback.format_exception(error))


def test_a_character_yaml_refuses_is_named_without_the_text() -> None:
    with pytest.raises(DeploymentError) as refused:
        parse_deployment(f"models:\n  - name: m\x01{SECRET}\n", source="accord.yaml")
    assert str(refused.value).startswith("accord.yaml: not valid YAML: special characters are not allowed")
    assert SECRET not in str(refused.value) and refused.value.__context__ is None
