"""What the sync and asyncio feeds share: which failures a feed resumes after, and how long it
waits between tries, and how a turn's events are told apart and summed up."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

import grpc

from agentruntime.v1 import event_pb2, session_pb2

from .conversation import Conversation
from .errors import AgentRuntimeError, Cancelled, Unavailable, from_rpc_error

# A dropped connection, a server going away (GOAWAY) or restarting: the feed reconnects and
# resumes after the last sequence it got. Anything else (NOT_FOUND, a deadline, ...) is raised.
_RESUMABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
# Server-side failures that also come as INTERNAL/UNKNOWN but are not the connection.
_TRANSPORT_WORDS = ("socket", "connection", "rst_stream", "stream removed", "goaway", "eof", "reset")


def resumable(err: grpc.RpcError) -> bool:
    code = err.code()
    if code == grpc.StatusCode.UNAVAILABLE:
        return True
    if code in _RESUMABLE:
        details = (err.details() or "").lower()
        return any(word in details for word in _TRANSPORT_WORDS)
    return False


class Backoff:
    """Waits between reconnects: 50 ms doubling to 2 s; gives up after ``give_up_after`` seconds
    of failing in a row (a received event resets it)."""

    def __init__(self, give_up_after: float) -> None:
        self.give_up_after = give_up_after
        self.failures = 0
        self._since: Optional[float] = None
        self.reconnects = 0

    def reset(self) -> None:
        self.failures = 0
        self._since = None

    def next_delay(self, err: Optional[grpc.RpcError]) -> float:
        """The pause before the next try, or raises when failing has lasted too long."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
        elif now - self._since > self.give_up_after:
            if err is not None:
                raise from_rpc_error(err)
            raise Unavailable("the event feed kept ending; giving up")
        self.failures += 1
        self.reconnects += 1
        return min(2.0, 0.05 * (2 ** (self.failures - 1)))


def remaining(deadline: Optional[float]) -> Optional[float]:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


@dataclass
class TurnResult:
    """How a turn ended: ``outcome`` is ``"COMPLETED"``, ``"CANCELLED"``, ``"FAILED"``, ...;
    ``reason`` says why (``max_turns reached (10)``); ``conversation`` is the turn folded."""

    session_id: str
    turn_id: str
    outcome: str
    reason: str
    turn: session_pb2.Turn
    conversation: Conversation
    last_sequence: int
    errors: list = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return self.outcome == "COMPLETED"

    @property
    def text(self) -> str:
        return self.conversation.text


class TurnState:
    """Follows one turn through the session's feed."""

    def __init__(self, session_id: str, turn_id: str) -> None:
        self.session_id = session_id
        self.turn_id = turn_id
        self.conversation = Conversation()
        self.result: Optional[TurnResult] = None
        self.errors: list = []

    def accept(self, event: event_pb2.SessionEvent) -> bool:
        """Whether the event belongs to the turn; folds it in and notes the turn's end."""
        if event.turn_id != self.turn_id:
            return False
        self.conversation.apply(event)
        kind = event.WhichOneof("payload")
        if kind == "error":
            self.errors.append(event.error)
        elif kind == "turn_completed":
            turn = event.turn_completed.turn
            self.result = TurnResult(
                session_id=self.session_id,
                turn_id=self.turn_id,
                outcome=session_pb2.TurnOutcome.Name(turn.outcome).replace("TURN_OUTCOME_", ""),
                reason=event.turn_completed.reason,
                turn=turn,
                conversation=self.conversation,
                last_sequence=event.sequence,
                errors=self.errors,
            )
        return True

    def waiting_call(self, event: event_pb2.SessionEvent) -> Optional[session_pb2.PendingToolCall]:
        if event.WhichOneof("payload") == "tool_call_waiting":
            return event.tool_call_waiting.call
        return None


def closed_error() -> AgentRuntimeError:
    return Cancelled("the run was closed before its turn ended")
