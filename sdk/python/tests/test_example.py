"""examples/python/run_turn.py runs against the server and prints the conversation."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import API_KEY, REPO_ROOT

EXAMPLE = REPO_ROOT / "examples" / "python" / "run_turn.py"


def run_example(server, *args, api_key=API_KEY):
    env = dict(os.environ, AGENT_RUNTIME_URL=f"http://{server.target}", AGENT_RUNTIME_API_KEY=api_key)
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=EXAMPLE.parent,
    )


def test_example_prints_the_conversation(server):
    assert len(EXAMPLE.read_text().splitlines()) < 40
    done = run_example(server, "hello", "example")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "user: hello example"
    assert lines[1].startswith("assistant: I'll write a short note")
    assert any(ln.startswith('tool Write {"file_path":"notes/demo.md"') for ln in lines)
    assert any(ln.startswith("tool Bash ") and "[SUCCEEDED]" in ln for ln in lines)
    assert lines[-1].startswith("outcome: COMPLETED, session: ses_")
    # The text streamed live to stderr as it came.
    assert "This answer came from the demo model" in done.stderr


def test_example_reports_a_typed_error(server):
    done = run_example(server, api_key="not-a-configured-key")
    assert done.returncode == 1
    assert done.stderr.startswith("error: UNAUTHENTICATED ")
