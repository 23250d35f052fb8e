"""The sync event feed: a session's events from a sequence on, resumed after a dropped
connection, and a turn run over it."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Callable, Iterator, Optional

import grpc

from agentruntime.v1 import event_pb2, session_pb2, session_service_pb2

from ._resume import Backoff, TurnResult, TurnState, closed_error, remaining, resumable
from .answers import Answer
from .errors import from_rpc_error

if TYPE_CHECKING:
    from .client import AgentRuntime

ToolCallHandler = Callable[[session_pb2.PendingToolCall], Optional[Answer]]


class EventStream:
    """Iterates a session's events after ``after_sequence``, live, without end.

    A dropped connection is resumed after the last sequence received: no event is missed or
    repeated. ``close()`` (from any thread) ends the iteration; ``timeout`` (seconds, for the
    whole watch) raises ``DeadlineExceeded``; failing to reconnect for ``reconnect_timeout``
    seconds raises the last error (``Unavailable``).
    """

    def __init__(
        self,
        client: "AgentRuntime",
        session_id: str,
        after_sequence: int = 0,
        *,
        deadline: Optional[float] = None,
        reconnect_timeout: float = 30.0,
    ) -> None:
        self.session_id = session_id
        self.last_sequence = after_sequence
        self._client = client
        self._deadline = deadline
        self._backoff = Backoff(reconnect_timeout)
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._call = None
        self._gen: Optional[Iterator[event_pb2.SessionEvent]] = None

    @property
    def reconnects(self) -> int:
        """How many times the feed reconnected."""
        return self._backoff.reconnects

    def open(self) -> None:
        """Starts the call now (iterating starts it otherwise)."""
        with self._lock:
            if self._call is None and not self._closed.is_set():
                self._call = self._connect()

    def _connect(self):
        req = session_service_pb2.StreamEventsRequest(
            session_id=self.session_id, after_sequence=self.last_sequence
        )
        return self._client.stubs.sessions.StreamEvents(req, timeout=remaining(self._deadline))

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            call, self._call = self._call, None
        if call is not None:
            call.cancel()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __iter__(self) -> "EventStream":
        return self

    def __next__(self) -> event_pb2.SessionEvent:
        if self._gen is None:
            self._gen = self._events()
        return next(self._gen)

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _events(self) -> Iterator[event_pb2.SessionEvent]:
        while not self._closed.is_set():
            self.open()
            with self._lock:
                call = self._call
            if call is None:
                return
            error: Optional[grpc.RpcError] = None
            try:
                for res in call:
                    event = res.event
                    if event.sequence <= self.last_sequence:
                        continue  # already delivered before a reconnect
                    self.last_sequence = event.sequence
                    self._backoff.reset()
                    yield event
            except grpc.RpcError as err:
                error = err
            finally:
                call.cancel()
                with self._lock:
                    if self._call is call:
                        self._call = None
            if self._closed.is_set():
                return
            if error is not None and not resumable(error):
                raise from_rpc_error(error) from None
            self._closed.wait(self._backoff.next_delay(error))


class TurnRun:
    """One turn: the message is sent when it is created; iterate it for the turn's events.

    The feed was opened at the session's sequence before sending, so nothing is missed, and it
    resumes after a dropped connection. Iteration ends with the turn's ``turn_completed`` event;
    then ``result`` holds the outcome and the folded conversation. ``wait()`` iterates to the end
    and returns the result. ``close()`` stops watching (the turn goes on); ``cancel()`` ends the
    turn on the server.
    """

    def __init__(
        self,
        client: "AgentRuntime",
        session_id: str,
        text: str,
        *,
        timeout: Optional[float] = None,
        on_tool_call: Optional[ToolCallHandler] = None,
        reconnect_timeout: float = 30.0,
        **send_options,
    ) -> None:
        self._client = client
        self.session_id = session_id
        deadline = None if timeout is None else time.monotonic() + timeout
        start = client.get_session(session_id).last_sequence
        self._feed = EventStream(
            client, session_id, start, deadline=deadline, reconnect_timeout=reconnect_timeout
        )
        self._feed.open()
        try:
            sent = client.send_message(session_id, text, **send_options)
        except BaseException:
            self._feed.close()
            raise
        self.turn_id: str = sent.turn_id
        self.queued: bool = sent.queued
        self._state = TurnState(session_id, sent.turn_id)
        self._on_tool_call = on_tool_call
        self._gen = self._events()

    @property
    def conversation(self):
        return self._state.conversation

    @property
    def result(self) -> Optional[TurnResult]:
        return self._state.result

    @property
    def reconnects(self) -> int:
        return self._feed.reconnects

    def __iter__(self) -> Iterator[event_pb2.SessionEvent]:
        return self._gen

    def __enter__(self) -> "TurnRun":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _events(self) -> Iterator[event_pb2.SessionEvent]:
        try:
            for event in self._feed:
                if not self._state.accept(event):
                    continue
                call = self._state.waiting_call(event)
                yield event
                if call is not None and self._on_tool_call is not None:
                    answer = self._on_tool_call(call)
                    if answer is not None:
                        self._client.answer_tool_call(self.session_id, call.tool_use_id, answer)
                if self._state.result is not None:
                    return
        finally:
            self._feed.close()

    def wait(self) -> TurnResult:
        """Runs to the end of the turn and returns how it ended."""
        for _ in self._gen:
            pass
        if self._state.result is None:
            raise closed_error()
        return self._state.result

    def close(self) -> None:
        """Stops watching; the turn goes on on the server."""
        self._feed.close()

    def cancel(self) -> bool:
        """Ends the turn on the server; the iteration then ends with outcome ``CANCELLED``."""
        return self._client.cancel_turn(self.session_id, self.turn_id)
