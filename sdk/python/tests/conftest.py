"""Starts a real Agent Runtime server (``node --import tsx src/main.ts``) for the tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
API_KEY = "test-key-acme-0123456789"
OTHER_API_KEY = "test-key-globex-0123456789"


@dataclass
class Server:
    process: subprocess.Popen
    target: str = ""
    logs: List[str] = field(default_factory=list)

    def log_text(self) -> str:
        return "\n".join(self.logs)

    def stop(self, timeout: float = 20.0) -> int:
        """Sends SIGTERM and returns the exit code (killing the server after ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"server ignored SIGTERM for {timeout}s; logs:\n{self.log_text()}")


def start_server(env: Dict[str, str], data_dir: str, timeout: float = 60.0) -> Server:
    assert (REPO_ROOT / "package.json").is_file(), f"repository root not found at {REPO_ROOT}"
    node = shutil.which("node")
    assert node, "node is not on PATH"
    assert (REPO_ROOT / "node_modules" / "tsx").is_dir(), f"run `npm install` in {REPO_ROOT} first"

    full_env = dict(os.environ)
    # In-memory persistence (no MONGODB_URI), whatever the developer's shell says.
    full_env.update({"PORT": "0", "HOST": "127.0.0.1", "DATA_DIR": data_dir, "MONGODB_URI": ""})
    full_env.update(env)
    # The server itself is the child (no shell), so SIGTERM reaches it.
    process = subprocess.Popen(
        [node, "--import", "tsx", "src/main.ts"],
        cwd=REPO_ROOT,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    server = Server(process)
    listening = threading.Event()
    port: List[Optional[int]] = [None]

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            server.logs.append(line)
            if listening.is_set():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("msg") == "listening" and entry.get("port"):
                port[0] = int(entry["port"])
                listening.set()
        listening.set()  # the server exited: wake the waiter

    threading.Thread(target=read, name="server-logs", daemon=True).start()
    if not listening.wait(timeout) or port[0] is None:
        exited_early = process.poll() is not None
        if not exited_early:
            process.kill()
        process.wait()
        if exited_early:
            reason = f"server exited with code {process.returncode} before logging 'listening'"
        else:
            reason = f"server did not log 'listening' within {timeout}s"
        raise RuntimeError(f"{reason}; logs:\n{server.log_text()}")
    server.target = f"127.0.0.1:{port[0]}"
    return server


@pytest.fixture(scope="session")
def server():
    with tempfile.TemporaryDirectory(prefix="agentruntime-pytest-") as data_dir:
        srv = start_server(
            {"AGENT_RUNTIME_API_KEYS": f"{API_KEY}=acme,{OTHER_API_KEY}=globex"}, data_dir
        )
        try:
            yield srv
        finally:
            code = srv.stop()
        assert code == 0, f"server exited with {code} after SIGTERM, want 0; logs:\n{srv.log_text()}"


@pytest.fixture()
def rt(server):
    """The idiomatic sync client (``AgentRuntime``) on the test server."""
    from agentruntime_client import AgentRuntime

    with AgentRuntime(f"http://{server.target}", api_key=API_KEY) as client:
        yield client


@pytest.fixture()
def proxy(server):
    """A TCP proxy in front of the server whose connections a test cuts (``proxy.cut()``)."""
    from cutproxy import CutProxy

    p = CutProxy(server.target)
    try:
        yield p
    finally:
        p.close()
