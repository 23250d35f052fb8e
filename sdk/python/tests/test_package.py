"""The SDK builds as a wheel that a user installs the usual way, at the server's version."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import API_KEY, REPO_ROOT

import agentruntime_client

SDK = REPO_ROOT / "sdk" / "python"


def server_version() -> str:
    return json.loads((REPO_ROOT / "package.json").read_text())["version"]


def test_version_matches_the_server():
    assert agentruntime_client.__version__ == server_version()
    # pyproject takes the version from __init__.py; it names no other.
    pyproject = (SDK / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert not re.search(r"^version\s*=", pyproject, re.MULTILINE)


def test_wheel_builds_installs_and_works(server, tmp_path: Path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(wheels), str(SDK)],
        check=True, timeout=120, env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"),
    )  # fmt: skip
    [wheel] = list(wheels.glob("*.whl"))
    assert wheel.name == f"agentruntime_client-{server_version()}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        meta = zf.read(metadata).decode()
    for module in ("__init__", "client", "aio", "conversation", "errors", "feed", "config"):
        assert f"agentruntime_client/{module}.py" in names
    assert "agentruntime_client/py.typed" in names
    assert "agentruntime/v1/session_service_pb2_grpc.py" in names  # the generated code
    assert f"Version: {server_version()}" in meta
    for dep in ("grpcio==", "protobuf==", "googleapis-common-protos=="):
        assert f"Requires-Dist: {dep}" in meta
    assert "# agentruntime-client (Python)" in meta  # the README is the long description

    # Installed into a directory of its own, it is the one imported, and it talks to the server.
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--target", str(site), str(wheel)],
        check=True, timeout=120, env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"),
    )  # fmt: skip
    code = (
        "import agentruntime_client as a, agentruntime.v1.event_pb2 as e\n"
        "print(a.__file__); print(e.__file__)\n"
        "with a.AgentRuntime() as c: print(c.find_profile('demo').name)\n"
    )
    env = dict(
        os.environ,
        PYTHONPATH=str(site),
        AGENT_RUNTIME_URL=f"http://{server.target}",
        AGENT_RUNTIME_API_KEY=API_KEY,
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    client_file, gen_file, name = done.stdout.splitlines()
    assert client_file.startswith(str(site)) and gen_file.startswith(str(site))
    assert name == "demo"
