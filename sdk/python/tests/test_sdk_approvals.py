"""Answering waiting tool calls through the idiomatic clients: the built-in `demo-approvals`
profile (its Bash calls wait for an approval) and a custom tool."""

from __future__ import annotations

import asyncio

import pytest
from conftest import API_KEY

from agentruntime_client import (
    Allow,
    AsyncAgentRuntime,
    Deny,
    FailedPrecondition,
    ToolResult,
    profile_pb2,
    session_pb2,
)

TIMEOUT = 60


def test_approve_with_a_handler(rt):
    session = rt.create_session(rt.find_profile("demo-approvals").id)
    asked = []

    def on_tool_call(call):
        asked.append(call)
        return Allow(message="go ahead")

    run = rt.run_turn(session.id, "hello", timeout=TIMEOUT, on_tool_call=on_tool_call)
    kinds = [e.WhichOneof("payload") for e in run]
    assert run.result.outcome == "COMPLETED"
    assert [c.tool_name for c in asked] == ["Bash"]
    assert asked[0].kind == session_pb2.PENDING_KIND_APPROVAL and asked[0].matched_rule == "Bash"
    assert asked[0].turn_id == run.turn_id
    assert kinds.index("tool_call_waiting") < kinds.index("tool_call_answered")
    assert [c.status for c in run.conversation.tool_calls] == ["SUCCEEDED", "SUCCEEDED"]
    [decision] = rt.list_tool_decisions_page(session.id).decisions
    assert decision.kind == session_pb2.TOOL_DECISION_KIND_ALLOW
    assert decision.message == "go ahead" and decision.decided_by.startswith("key:")
    # Answering the same call again is a typed error.
    with pytest.raises(FailedPrecondition):
        rt.approve(session.id, asked[0].tool_use_id)


def test_deny_by_hand_asyncio(server):
    async def main():
        async with AsyncAgentRuntime(f"http://{server.target}", api_key=API_KEY) as client:
            profile = await client.find_profile("demo-approvals")
            session = await client.create_session(profile.id)
            run = await client.run_turn(session.id, "hello", timeout=TIMEOUT)
            decisions = []
            async for event in run:
                if event.WhichOneof("payload") == "tool_call_waiting":
                    call = event.tool_call_waiting.call
                    decisions.append(await client.deny(session.id, call.tool_use_id, "not now"))
            assert run.result.outcome == "COMPLETED"
            assert [d.kind for d in decisions] == [session_pb2.TOOL_DECISION_KIND_DENY]
            bash = run.conversation.tool_calls[1]
            assert (bash.name, bash.status) == ("Bash", "DENIED")

    asyncio.run(main())


def test_custom_tool_result_from_an_async_handler(server):
    async def main():
        async with AsyncAgentRuntime(f"http://{server.target}", api_key=API_KEY) as client:
            profile = await client.create_profile(
                name="sdk custom tool",
                model_provider="demo",
                tools=["Write", "Bash"],
                permissions=profile_pb2.PermissionSettings(
                    mode=profile_pb2.PERMISSION_MODE_ALLOW, ask=["Bash"]
                ),
                custom_tools=[
                    profile_pb2.CustomTool(
                        name="lookup_order",
                        description="Looks up an order",
                        input_schema_json='{"type": "object"}',
                    )
                ],
            )
            session = await client.create_session(profile.id)

            async def on_tool_call(call):
                await asyncio.sleep(0)
                if call.kind == session_pb2.PENDING_KIND_CUSTOM_TOOL:
                    return ToolResult(f"order 42: shipped ({call.tool_name})")
                return Deny("no shell")

            run = await client.run_turn(
                session.id, "lookup_order 42", timeout=TIMEOUT, on_tool_call=on_tool_call
            )
            result = await run.wait()
            assert result.outcome == "COMPLETED"
            calls = result.conversation.tool_calls
            assert [(c.name, c.status) for c in calls][0] == ("lookup_order", "SUCCEEDED")
            assert calls[0].output == "order 42: shipped (lookup_order)"
            assert ("Bash", "DENIED") in [(c.name, c.status) for c in calls]
            assert "order 42: shipped" in result.text

    asyncio.run(main())
