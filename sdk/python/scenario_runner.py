"""Runs the shared client scenario (test/clients/scenario.json) with the Python SDK.

    AGENT_RUNTIME_URL=http://127.0.0.1:PORT AGENT_RUNTIME_API_KEY=... SCENARIO_NAME=x \\
        .venv/bin/python sdk/python/scenario_runner.py test/clients/scenario.json

Prints one JSON line per step (``{"step": i, "do": ..., <observations>}``), and before a
``runTurn`` step a ``"phase": "start"`` line with the session id; diagnostics go to stderr. A
failed step's observation is its typed error (code, reason, field); the harness judges them.
Exits 0 when every step ran, 1 on anything unexpected.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any, Callable, Dict

from agentruntime_client import AgentRuntime, AgentRuntimeError

TURN_TIMEOUT = 120.0


def emit(line: Dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


class Scenario:
    def __init__(self, client: AgentRuntime, suffix: str) -> None:
        self.client = client
        self.suffix = suffix
        self.profile_id = ""
        self.session_id = ""

    def create_profile(self, step: Dict[str, Any], index: int) -> Dict[str, Any]:
        name = step.get("name", "scenario")
        if self.suffix:
            name = f"{name}-{self.suffix}"
        model = step.get("model", "demo")
        fields: Dict[str, Any] = {
            "name": name,
            "system_prompt": step.get("systemPrompt", ""),
            "tools": step.get("tools", ["Read", "Write", "Bash"]),
            "max_turns": step.get("maxTurns", 10),
        }
        if model == "demo":
            fields["model_provider"] = "demo"
        else:
            fields["model"] = model
        profile = self.client.create_profile(**fields)
        self.profile_id = profile.id
        return {"profileId": profile.id, "name": profile.name}

    def create_session(self, step: Dict[str, Any], index: int) -> Dict[str, Any]:
        session = self.client.create_session(step.get("profileId", self.profile_id))
        self.session_id = session.id
        return {"sessionId": session.id}

    def run_turn(self, step: Dict[str, Any], index: int) -> Dict[str, Any]:
        session_id = step.get("sessionId", self.session_id)
        emit({"step": index, "do": "runTurn", "phase": "start", "sessionId": session_id})
        run = self.client.run_turn(session_id, step.get("text", "hello"), timeout=TURN_TIMEOUT)
        sequences = [event.sequence for event in run]
        result = run.wait()
        print(f"runTurn: {len(sequences)} events, {run.reconnects} reconnects", file=sys.stderr)
        return {
            "turnId": result.turn_id,
            "outcome": result.outcome,
            "sequences": sequences,
            "toolNames": result.conversation.tool_names,
            "text": result.text,
            "reconnects": run.reconnects,
        }

    def read_file(self, step: Dict[str, Any], index: int) -> Dict[str, Any]:
        content = self.client.read_file(step.get("sessionId", self.session_id), step["path"])
        return {"content": content.decode("utf-8", errors="replace")}

    def get_session(self, step: Dict[str, Any], index: int) -> Dict[str, Any]:
        session = self.client.get_session(step.get("sessionId", self.session_id))
        return {"sessionId": session.id, "lastSequence": session.last_sequence}


STEPS: Dict[str, Callable[[Scenario, Dict[str, Any], int], Dict[str, Any]]] = {
    "createProfile": Scenario.create_profile,
    "createSession": Scenario.create_session,
    "runTurn": Scenario.run_turn,
    "readFile": Scenario.read_file,
    "getSession": Scenario.get_session,
}


def main(argv) -> int:
    if len(argv) < 2:
        print("usage: scenario_runner.py SCENARIO_JSON", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        steps = json.load(f)["steps"]
    with AgentRuntime() as client:  # AGENT_RUNTIME_URL, AGENT_RUNTIME_API_KEY
        scenario = Scenario(client, os.environ.get("SCENARIO_NAME", ""))
        for index, step in enumerate(steps):
            do = step.get("do", "")
            line: Dict[str, Any] = {"step": index, "do": do}
            handler = STEPS.get(do)
            if handler is None:
                line["error"] = f"unknown step {do!r}"
                print(line["error"], file=sys.stderr)
            else:
                try:
                    line.update(handler(scenario, step, index))
                except AgentRuntimeError as err:
                    print(f"step {index} ({do}): {err}", file=sys.stderr)
                    line.update(
                        {
                            "code": err.code,
                            "reason": err.reason,
                            "field": err.field,
                            "message": err.message,
                        }
                    )
            emit(line)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception:
        traceback.print_exc()
        sys.exit(1)
