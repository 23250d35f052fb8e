"""Runs one turn of the built-in demo agent and prints the conversation.

    AGENT_RUNTIME_URL=http://127.0.0.1:8080 AGENT_RUNTIME_API_KEY=... python run_turn.py "hi"
"""

import sys

from agentruntime_client import AgentRuntime, AgentRuntimeError


def main() -> int:
    message = " ".join(sys.argv[1:]) or "Hello from Python"
    try:
        with AgentRuntime() as client:  # the URL and API key come from the environment
            profile = client.find_profile("demo")
            session = client.create_session(profile.id, name="python example")
            run = client.run_turn(session.id, message, timeout=120)
            for event in run:  # live events; a dropped connection resumes by itself
                if event.HasField("block_delta") and event.block_delta.HasField("text"):
                    print(event.block_delta.text, end="", flush=True, file=sys.stderr)
            print(file=sys.stderr)
            print(run.result.conversation)  # user / assistant / tool lines
            print(f"outcome: {run.result.outcome}, session: {session.id}")
    except AgentRuntimeError as err:
        print(f"error: {err.code} {err.reason} {err.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
