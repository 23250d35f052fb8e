"""Turns that wait for the application: an approval and a custom tool, answered through the SDK.

The profile uses the offline demo model: it calls the custom tool the message names, writes a
note, then runs a Bash command, which the profile's permissions make wait for an approval.
"""

from __future__ import annotations

import grpc
import pytest
from conftest import API_KEY

from agentruntime_client import (
    Client,
    profile_pb2,
    profile_service_pb2,
    session_pb2,
    session_service_pb2,
)

TIMEOUT = 30


@pytest.fixture()
def client(server):
    with Client(server.target, API_KEY) as c:
        yield c


def next_waiting_call(client, session_id, after):
    """Follows the feed after ``after`` until a tool call waits; returns it and the sequence."""
    stream = client.sessions.StreamEvents(
        session_service_pb2.StreamEventsRequest(session_id=session_id, after_sequence=after),
        timeout=TIMEOUT,
    )
    try:
        for res in stream:
            if res.event.WhichOneof("payload") == "tool_call_waiting":
                return res.event.tool_call_waiting.call, res.event.sequence
    finally:
        stream.cancel()
    raise AssertionError("the feed ended before a tool call waited")


def test_approval_and_custom_tool(client):
    profile = client.profiles.CreateAgentProfile(
        profile_service_pb2.CreateAgentProfileRequest(
            profile=profile_pb2.AgentProfile(
                name="waiting profile",
                model_provider=profile_pb2.MODEL_PROVIDER_DEMO,
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
        ),
        timeout=TIMEOUT,
    ).profile
    session_id = client.sessions.CreateSession(
        session_service_pb2.CreateSessionRequest(agent_profile_id=profile.id), timeout=TIMEOUT
    ).session.id
    turn_id = client.sessions.SendMessage(
        session_service_pb2.SendMessageRequest(session_id=session_id, text="lookup_order 42"),
        timeout=TIMEOUT,
    ).turn_id

    # The custom tool call waits; the session says so.
    call, seq = next_waiting_call(client, session_id, 0)
    assert call.tool_name == "lookup_order"
    assert call.kind == session_pb2.PENDING_KIND_CUSTOM_TOOL
    got = client.sessions.GetSession(
        session_service_pb2.GetSessionRequest(session_id=session_id), timeout=TIMEOUT
    ).session
    assert got.state == session_pb2.SESSION_STATE_WAITING
    assert [c.tool_use_id for c in got.runtime.pending_tool_calls] == [call.tool_use_id]

    # An approval answer does not fit a custom tool call.
    with pytest.raises(grpc.RpcError) as info:
        client.sessions.AnswerToolCall(
            session_service_pb2.AnswerToolCallRequest(
                session_id=session_id,
                tool_use_id=call.tool_use_id,
                approval=session_service_pb2.ApprovalAnswer(allow=True),
            ),
            timeout=TIMEOUT,
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    answered = client.sessions.AnswerToolCall(
        session_service_pb2.AnswerToolCallRequest(
            session_id=session_id,
            tool_use_id=call.tool_use_id,
            result=session_service_pb2.CustomToolResult(output="order 42: shipped"),
        ),
        timeout=TIMEOUT,
    ).decision
    assert answered.kind == session_pb2.TOOL_DECISION_KIND_RESULT
    assert answered.decided_by.startswith("key:")

    # Then Bash waits for an approval; allowed, the turn completes.
    bash, seq = next_waiting_call(client, session_id, seq)
    assert bash.tool_name == "Bash"
    assert bash.kind == session_pb2.PENDING_KIND_APPROVAL
    assert bash.matched_rule == "Bash"
    client.sessions.AnswerToolCall(
        session_service_pb2.AnswerToolCallRequest(
            session_id=session_id,
            tool_use_id=bash.tool_use_id,
            approval=session_service_pb2.ApprovalAnswer(allow=True, message="go ahead"),
        ),
        timeout=TIMEOUT,
    )
    # A second answer to the same call loses.
    with pytest.raises(grpc.RpcError) as info:
        client.sessions.AnswerToolCall(
            session_service_pb2.AnswerToolCallRequest(
                session_id=session_id,
                tool_use_id=bash.tool_use_id,
                approval=session_service_pb2.ApprovalAnswer(allow=False),
            ),
            timeout=TIMEOUT,
        )
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    final = ""
    stream = client.sessions.StreamEvents(
        session_service_pb2.StreamEventsRequest(session_id=session_id, after_sequence=seq),
        timeout=TIMEOUT,
    )
    try:
        for res in stream:
            e = res.event
            kind = e.WhichOneof("payload")
            if kind == "block_completed" and e.block_completed.block.HasField("assistant_text"):
                final = e.block_completed.block.assistant_text.text
            if kind == "turn_completed" and e.turn_id == turn_id:
                assert e.turn_completed.turn.outcome == session_pb2.TURN_OUTCOME_COMPLETED
                break
    finally:
        stream.cancel()
    assert "order 42: shipped" in final

    decisions = client.sessions.ListToolDecisions(
        session_service_pb2.ListToolDecisionsRequest(session_id=session_id), timeout=TIMEOUT
    ).decisions
    assert [d.tool_use_id for d in decisions] == [call.tool_use_id, bash.tool_use_id]
