"""Answers to a waiting tool call: :class:`Allow` or :class:`Deny` an approval, or return a custom
tool's :class:`ToolResult`. Give one to ``client.answer_tool_call`` or return it from the
``on_tool_call`` handler of ``run_turn``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Optional, Union

from agentruntime.v1 import session_pb2, session_service_pb2


@dataclass(frozen=True)
class Allow:
    """Let the call run, optionally with another input or a rule that allows the like of it."""

    message: str = ""
    updated_input: Optional[Dict[str, Any]] = None
    always_allow_rule: str = ""


@dataclass(frozen=True)
class Deny:
    """Refuse the call; ``message`` tells the model why."""

    message: str = ""


@dataclass(frozen=True)
class ToolResult:
    """A custom tool's output."""

    output: str
    is_error: bool = False


Answer = Union[Allow, Deny, ToolResult]


def answer_request(
    session_id: str, tool_use_id: str, answer: Answer
) -> session_service_pb2.AnswerToolCallRequest:
    req = session_service_pb2.AnswerToolCallRequest(session_id=session_id, tool_use_id=tool_use_id)
    if isinstance(answer, Allow):
        req.approval.CopyFrom(
            session_service_pb2.ApprovalAnswer(
                allow=True,
                message=answer.message,
                updated_input_json=(
                    "" if answer.updated_input is None else json.dumps(answer.updated_input)
                ),
                always_allow_rule=answer.always_allow_rule,
            )
        )
    elif isinstance(answer, Deny):
        req.approval.CopyFrom(session_service_pb2.ApprovalAnswer(allow=False, message=answer.message))
    elif isinstance(answer, ToolResult):
        req.result.CopyFrom(
            session_service_pb2.CustomToolResult(output=answer.output, is_error=answer.is_error)
        )
    else:
        raise TypeError(f"an answer is Allow, Deny or ToolResult, not {type(answer).__name__}")
    return req


def is_approval(call: session_pb2.PendingToolCall) -> bool:
    return call.kind == session_pb2.PENDING_KIND_APPROVAL
