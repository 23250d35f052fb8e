"""The scenario runner (sdk/python/scenario_runner.py), driven the way the shared harness drives
it: through a proxy whose connections are cut while the turn streams, watched from outside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from conftest import API_KEY, REPO_ROOT

RUNNER = REPO_ROOT / "sdk" / "python" / "scenario_runner.py"
CUT_AFTER = 10  # events of the turn

SCENARIO = {
    "steps": [
        {"do": "createProfile", "name": "scenario", "model": "demo", "systemPrompt": "Be brief."},
        {"do": "createSession"},
        {"do": "runTurn", "text": "hello"},
        {"do": "readFile", "path": "notes/demo.md"},
        {"do": "getSession", "sessionId": "ses_00000000000000000000000000"},
    ]
}


def test_runner_survives_a_cut_and_reports_each_step(rt, proxy, tmp_path: Path):
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    env = dict(
        os.environ,
        AGENT_RUNTIME_URL=proxy.url,
        AGENT_RUNTIME_API_KEY=API_KEY,
        SCENARIO_NAME="py-test",
    )
    proc = subprocess.Popen(
        [sys.executable, str(RUNNER), str(scenario)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines, cutter = [], None
    cut_done = threading.Event()

    def cut_mid_turn(session_id: str) -> None:
        # Watches the feed directly (not through the proxy); cuts after the turn's Nth event.
        with rt.watch(session_id, timeout=60) as watch:
            for count, _ in enumerate(watch, 1):
                if count == CUT_AFTER:
                    proxy.cut()
                    cut_done.set()
                    return

    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = json.loads(raw)
            lines.append(line)
            if line.get("phase") == "start":
                cutter = threading.Thread(target=cut_mid_turn, args=(line["sessionId"],))
                cutter.start()
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
        if cutter is not None:
            cutter.join(60)
    stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 0, stderr
    assert cut_done.is_set() and proxy.cuts == 1

    profile, session, start, turn, read, missing = lines
    assert [ln["step"] for ln in lines] == [0, 1, 2, 2, 3, 4]
    assert profile["do"] == "createProfile" and profile["profileId"].startswith("prf_")
    assert profile["name"] == "scenario-py-test"
    assert session["sessionId"].startswith("ses_")
    assert start == {"step": 2, "do": "runTurn", "phase": "start", "sessionId": session["sessionId"]}
    assert turn["outcome"] == "COMPLETED" and turn["turnId"].startswith("trn_")
    seqs = turn["sequences"]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and len(seqs) > CUT_AFTER
    assert turn["reconnects"] >= 1
    assert {"Write", "Bash"} <= set(turn["toolNames"])
    assert "demo model" in turn["text"]
    assert read["content"].startswith("# Demo note")
    assert missing["code"] == "NOT_FOUND"
    assert missing["reason"] == "SESSION_NOT_FOUND" and missing["field"] == "session_id"
