"""The `accord` commands operators (and acceptance checks) drive: init, serve, keys, models.

Each test runs the real command in a subprocess against a real `accord serve`, as an operator would.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accord.testing.fake_upstream import FakeUpstream
from tests.conftest import free_port, launch_gateway
from tests.inprocess import echo_deployment

KEY = re.compile(r"acc_key[0-9a-f]+_[A-Za-z0-9_-]+")


def accord(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accord", *args],
        env={**os.environ, **(env or {}), "ACCORD_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"accord serve exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"accord serve did not start:\n{log.read_text(errors='replace')}")


@pytest.fixture
def demo_home(tmp_path: Path) -> Iterator[tuple[Path, int, str]]:
    """`accord init` with the demo alliance, then `accord serve` on the port init printed."""
    home, port = tmp_path / "home", free_port()
    first = accord(home, "init", env={"ACCORD_PORT": str(port)})
    assert first.returncode == 0, first.stderr
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "accord", "serve"],
            env={**os.environ, "ACCORD_HOME": str(home), "ACCORD_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", process, log)
        yield home, port, first.stdout
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_init_prints_keys_and_commands_that_work_and_runs_once(demo_home: tuple[Path, int, str]) -> None:
    home, port, printed = demo_home
    operator_key, user_key = dict.fromkeys(KEY.findall(printed))  # each key is printed once, then reused
    assert operator_key != user_key

    # The curl line is one valid shell command calling this gateway with the user key.
    (curl_line,) = [line.strip() for line in printed.splitlines() if line.strip().startswith("curl ")]
    argv = shlex.split(curl_line)
    assert argv[0] == "curl" and f"http://127.0.0.1:{port}/v1/chat/completions" in argv
    assert f"Authorization: Bearer {user_key}" in argv
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed, so the printed curl line cannot be run")
    ran = subprocess.run(["bash", "-c", curl_line], capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    answer = json.loads(ran.stdout)
    assert answer["object"] == "chat.completion" and answer["choices"][0]["message"]["content"].strip()

    # The Python snippet streams from the local model with the official client.
    lines = printed.splitlines()
    start = next(i for i, line in enumerate(lines) if "from openai import OpenAI" in line)
    snippet = textwrap.dedent("\n".join(lines[start:]))
    ast.parse(snippet)
    streamed = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=120)
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout.strip(), "the snippet printed nothing"

    # A second init changes nothing and shows no key.
    again = accord(home, "init")
    assert again.returncode == 0, again.stderr
    assert "already set up" in again.stdout and not KEY.search(again.stdout)
    listed = json.loads(accord(home, "keys", "list").stdout)
    assert len(listed) == 2, listed


def test_keys_create_prints_the_key_last_and_revoke_stops_it(tmp_path: Path) -> None:
    with (
        FakeUpstream() as upstream,
        launch_gateway(tmp_path / "home", echo_deployment(upstream.base_url), issue_keys=False) as gateway,
    ):
        created = accord(
            gateway.home,
            "keys", "create", "--nation", "EST", "--organisation", "Kaitseliit",
            "--agency-kind", "military", "--role", "user", "--name", "cli test",
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        assert KEY.fullmatch(key), created.stdout
        key_id = re.search(r"key id:\s+(\S+)", created.stdout)
        assert key_id is not None, created.stdout
        headers = {"Authorization": f"Bearer {key}"}
        models = httpx.get(f"{gateway.base_url}/models", headers=headers, timeout=10)
        assert models.status_code == 200, models.text
        assert "fake-chat" in {model["id"] for model in models.json()["data"]}
        # The nation and organisation were created with the key.
        (principal,) = [
            p for p in json.loads(accord(gateway.home, "keys", "list").stdout) if p["nation"] == "EST"
        ]
        assert principal["organisation"] == "Kaitseliit"

        revoked = accord(gateway.home, "keys", "revoke", key_id.group(1))
        assert revoked.returncode == 0, revoked.stderr
        deadline = time.monotonic() + 5  # replicas cache key lookups for at most two seconds
        while True:
            status = httpx.get(f"{gateway.base_url}/models", headers=headers, timeout=10).status_code
            if status == 401 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 401

        unknown = accord(gateway.home, "keys", "revoke", "key_doesnotexist")
        assert unknown.returncode != 0 and "no API key" in unknown.stdout + unknown.stderr


def test_models_add_registers_a_model_for_every_tenant_keeping_the_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeUpstream(api_key="upstream-secret") as upstream:
        assert accord(home, "init", "--no-demo").returncode == 0
        before = (home / "accord.yaml").read_text(encoding="utf-8")
        added = accord(
            home,
            "models", "add", "cloud-chat", "--backend", "openai_compatible",
            "--base-url", upstream.base_url, "--upstream-model", "fake-chat", "--api-key-env", "CLOUD_KEY",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        restricted = accord(
            home, "models", "add", "deu-chat", "--base-url", upstream.base_url, "--allow-nation", "deu",
            "--upstream-model", "fake-chat", "--api-key-env", "CLOUD_KEY",
        )  # fmt: skip
        assert restricted.returncode == 0, restricted.stderr
        after = (home / "accord.yaml").read_text(encoding="utf-8")
        assert "upstream-secret" not in after  # the credential stays in the environment
        comments = [line.split("#", 1)[1] for line in before.splitlines() if "#" in line]
        assert comments and all(comment in after for comment in comments), "the operator's comments went"

        invalid = accord(home, "models", "add", "broken", "--backend", "openai_compatible")
        assert invalid.returncode != 0 and "base_url" in invalid.stdout + invalid.stderr
        assert (home / "accord.yaml").read_text(encoding="utf-8") == after, "a refused edit changed the file"

        env = {"CLOUD_KEY": "upstream-secret"}
        with launch_gateway(home, "", extra_env=env, issue_keys=False) as gateway:
            keys = {}
            for nation in ("USA", "DEU"):
                created = accord(
                    home, "keys", "create", "--nation", nation, "--organisation", f"{nation} logistics",
                    "--agency-kind", "civil", "--role", "user",
                )  # fmt: skip
                keys[nation] = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
            listed = httpx.get(f"{gateway.base_url}/models", headers=keys["USA"], timeout=10).json()
            names = {model["id"] for model in listed["data"]}
            assert "cloud-chat" in names and "deu-chat" not in names
            body = {"model": "cloud-chat", "messages": [{"role": "user", "content": "Status of order 7?"}]}
            answered = httpx.post(
                f"{gateway.base_url}/chat/completions", json=body, headers=keys["USA"], timeout=30
            )
            assert answered.status_code == 200, answered.text  # the fake upstream demands the key
            assert upstream.requests()[-1]["body"]["model"] == "fake-chat"
            denied = httpx.post(
                f"{gateway.base_url}/chat/completions",
                json={**body, "model": "deu-chat"},
                headers=keys["USA"],
                timeout=30,
            )
            assert denied.status_code == 403 and denied.json()["error"]["code"] == "model_not_permitted"
            allowed = httpx.post(
                f"{gateway.base_url}/chat/completions",
                json={**body, "model": "deu-chat"},
                headers=keys["DEU"],
                timeout=30,
            )
            assert allowed.status_code == 200, allowed.text


def _one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The command failed with ``code`` and said why in one line on stderr, with no traceback."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_keys_commands_refuse_bad_input_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert accord(home, "init", "--no-demo").returncode == 0

    def create(*args: str) -> subprocess.CompletedProcess[str]:
        base = {
            "--nation": "DEU",
            "--organisation": "Bundeswehr",
            "--agency-kind": "military",
            "--role": "user",
        }
        options = dict(zip(args[::2], args[1::2], strict=True))
        return accord(
            home, "keys", "create", *[part for item in {**base, **options}.items() for part in item]
        )

    assert "nation code" in _one_line_error(create("--nation", "D1"), 1)
    assert "organisation name" in _one_line_error(create("--organisation", ""), 1)
    assert "organisation name" in _one_line_error(create("--organisation", "   "), 1)
    assert create().returncode == 0
    conflict = _one_line_error(create("--agency-kind", "civil"), 1)  # was a Rich traceback
    assert "agency kind military" in conflict
    assert "no API key" in _one_line_error(accord(home, "keys", "revoke", "key_doesnotexist"), 1)

    too_long = accord(
        home, "keys", "create", "--nation", "DEU", "--organisation", "Bundeswehr", "--agency-kind",
        "military", "--role", "user", "--expires-in-days", "100000000", env={"COLUMNS": "200"},
    )  # fmt: skip
    assert too_long.returncode == 2  # was an OverflowError traceback
    assert "Traceback" not in too_long.stdout + too_long.stderr
    assert "less than or equal to 3650" in too_long.stderr
    assert create("--expires-in-days", "3650").returncode == 0

    principals = json.loads(accord(home, "keys", "list").stdout)
    assert {(p["nation"], p["organisation"]) for p in principals} == {("DEU", "Bundeswehr")}


@pytest.mark.parametrize("port", ["99999", "0", "-1", "65536"])
def test_serve_refuses_a_port_out_of_range(tmp_path: Path, port: str) -> None:
    wide = {"COLUMNS": "200"}  # typer's error box wraps at the terminal's width
    refused = accord(tmp_path / "home", "serve", "--port", port, env=wide)
    assert refused.returncode == 2 and "serving on" not in refused.stdout, refused.stdout
    assert "--port" in refused.stderr
    assert "less than or equal to 65535" in refused.stderr or "greater than or equal to 1" in refused.stderr
    from_env = accord(tmp_path / "home", "serve", env={**wide, "ACCORD_PORT": port})
    assert from_env.returncode == 2 and "serving on" not in from_env.stdout


SECRET = "sk-inline-SECRET-51d2"
BAD_DEPLOYMENTS = {
    # name: (deployment file, what the one-line error names)
    "inline credential": (
        f"gateway:\n  ceiling: NU\nmodels:\n  - name: m\n    backend: openai_compatible\n"
        f"    base_url: http://h/v1\n    api_key: {SECRET}\n",
        "line 7 models.0.api_key",
    ),
    "not YAML": (f"models:\n  - {{name: m, api_key: {SECRET}\n", "not valid YAML"),
    "credential in the URL": (
        f"models:\n  - name: m\n    backend: openai_compatible\n    base_url: http://u:{SECRET}@h/v1\n",
        "line 4 models.0.base_url",
    ),
    "unknown ceiling": ("gateway:\n  ceiling: XX\n", "line 2 gateway.ceiling"),
    "not a URL": (
        "models:\n  - {name: m, backend: openai_compatible, base_url: notaurl}\n",
        "models.0.base_url",
    ),
    "routes the backend lacks": (
        "models:\n  - {name: m, backend: local, routes: [chat, embeddings]}\n",
        "routes",
    ),
}


@pytest.mark.parametrize("case", BAD_DEPLOYMENTS)
def test_a_bad_deployment_stops_serve_and_models_in_one_line_without_its_values(
    tmp_path: Path, case: str
) -> None:
    text, names = BAD_DEPLOYMENTS[case]
    home = tmp_path / "home"
    home.mkdir()
    (home / "accord.yaml").write_text(text, encoding="utf-8")
    started = time.monotonic()
    served = accord(home, "serve", "--port", str(free_port()))  # was a traceback quoting the secret
    assert time.monotonic() - started < 60
    assert "serving on" not in served.stdout
    for result in (
        served,
        accord(home, "models", "list"),
        accord(home, "models", "add", "x", "--base-url", "http://h"),
    ):
        line = _one_line_error(result, 2)
        assert names in line and str(home / "accord.yaml") in line
        assert SECRET not in result.stdout + result.stderr
    assert (home / "accord.yaml").read_text(encoding="utf-8") == text
