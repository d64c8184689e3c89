from __future__ import annotations

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
