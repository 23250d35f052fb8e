"""The asyncio event feed and turn run: the same as :mod:`agentruntime_client.feed`, with
``async for`` and asyncio cancellation (cancelling the task stops the watch)."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import TYPE_CHECKING, AsyncIterator, Awaitable, Callable, Optional, Union

import grpc

from agentruntime.v1 import event_pb2, session_pb2, session_service_pb2

from ._resume import Backoff, TurnResult, TurnState, closed_error, remaining, resumable
from .answers import Answer
from .errors import from_rpc_error

if TYPE_CHECKING:
    from .aio import AsyncAgentRuntime

AsyncToolCallHandler = Callable[
    [session_pb2.PendingToolCall], Union[Optional[Answer], Awaitable[Optional[Answer]]]
]


def _cancelling() -> bool:
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling()) if cancelling is not None else False


class AsyncEventStream:
    """``async for`` over a session's events after ``after_sequence``, live, resumed after a
    dropped connection. ``await close()`` or cancelling the task stops it."""

    def __init__(
        self,
        client: "AsyncAgentRuntime",
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
        self._closed = asyncio.Event()
        self._call = None
        self._gen: Optional[AsyncIterator[event_pb2.SessionEvent]] = None

    @property
    def reconnects(self) -> int:
        return self._backoff.reconnects

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def open(self) -> None:
        """Starts the call now (iterating starts it otherwise)."""
        if self._call is None and not self._closed.is_set():
            req = session_service_pb2.StreamEventsRequest(
                session_id=self.session_id, after_sequence=self.last_sequence
            )
            self._call = self._client.stubs.sessions.StreamEvents(
                req, timeout=remaining(self._deadline)
            )

    async def close(self) -> None:
        self._closed.set()
        call, self._call = self._call, None
        if call is not None:
            call.cancel()
        if self._gen is not None:
            try:
                await self._gen.aclose()
            except RuntimeError:
                pass  # another task is iterating it: it ends by itself (the call is cancelled)

    def __aiter__(self) -> "AsyncEventStream":
        return self

    async def __anext__(self) -> event_pb2.SessionEvent:
        if self._gen is None:
            self._gen = self._events()
        return await self._gen.__anext__()

    async def __aenter__(self) -> "AsyncEventStream":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _events(self) -> AsyncIterator[event_pb2.SessionEvent]:
        while not self._closed.is_set():
            self.open()
            call = self._call
            if call is None:
                return
            error: Optional[grpc.RpcError] = None
            try:
                async for res in call:
                    event = res.event
                    if event.sequence <= self.last_sequence:
                        continue  # already delivered before a reconnect
                    self.last_sequence = event.sequence
                    self._backoff.reset()
                    yield event
            except grpc.RpcError as err:
                error = err
            except asyncio.CancelledError:
                # grpc.aio raises CancelledError for a call we cancelled: close() from another
                # task ends the iteration; a cancelled task goes on being cancelled.
                if self._closed.is_set() and not _cancelling():
                    return
                raise
            finally:
                call.cancel()
                if self._call is call:
                    self._call = None
            if self._closed.is_set():
                return
            if error is not None and not resumable(error):
                raise from_rpc_error(error) from None
            delay = self._backoff.next_delay(error)
            try:
                await asyncio.wait_for(self._closed.wait(), delay)
            except asyncio.TimeoutError:
                pass


class AsyncTurnRun:
    """One turn (see :class:`agentruntime_client.feed.TurnRun`), for ``async for``.

    Created by ``await client.run_turn(...)``, which sent the message. ``await wait()`` runs to
    the end and returns the :class:`TurnResult`; ``await close()`` stops watching;
    ``await cancel()`` ends the turn on the server.
    """

    def __init__(
        self,
        client: "AsyncAgentRuntime",
        session_id: str,
        feed: AsyncEventStream,
        turn_id: str,
        queued: bool,
        on_tool_call: Optional[AsyncToolCallHandler],
    ) -> None:
        self._client = client
        self.session_id = session_id
        self.turn_id = turn_id
        self.queued = queued
        self._feed = feed
        self._state = TurnState(session_id, turn_id)
        self._on_tool_call = on_tool_call
        self._gen = self._events()

    @classmethod
    async def start(
        cls,
        client: "AsyncAgentRuntime",
        session_id: str,
        text: str,
        *,
        timeout: Optional[float] = None,
        on_tool_call: Optional[AsyncToolCallHandler] = None,
        reconnect_timeout: float = 30.0,
        **send_options,
    ) -> "AsyncTurnRun":
        deadline = None if timeout is None else time.monotonic() + timeout
        start = (await client.get_session(session_id)).last_sequence
        feed = AsyncEventStream(
            client, session_id, start, deadline=deadline, reconnect_timeout=reconnect_timeout
        )
        feed.open()
        try:
            sent = await client.send_message(session_id, text, **send_options)
        except BaseException:
            await feed.close()
            raise
        return cls(client, session_id, feed, sent.turn_id, sent.queued, on_tool_call)

    @property
    def conversation(self):
        return self._state.conversation

    @property
    def result(self) -> Optional[TurnResult]:
        return self._state.result

    @property
    def reconnects(self) -> int:
        return self._feed.reconnects

    def __aiter__(self) -> AsyncIterator[event_pb2.SessionEvent]:
        return self._gen

    async def __aenter__(self) -> "AsyncTurnRun":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _events(self) -> AsyncIterator[event_pb2.SessionEvent]:
        try:
            async for event in self._feed:
                if not self._state.accept(event):
                    continue
                call = self._state.waiting_call(event)
                yield event
                if call is not None and self._on_tool_call is not None:
                    answer = self._on_tool_call(call)
                    if inspect.isawaitable(answer):
                        answer = await answer
                    if answer is not None:
                        await self._client.answer_tool_call(self.session_id, call.tool_use_id, answer)
                if self._state.result is not None:
                    return
        finally:
            await self._feed.close()

    async def wait(self) -> TurnResult:
        async for _ in self._gen:
            pass
        if self._state.result is None:
            raise closed_error()
        return self._state.result

    async def close(self) -> None:
        await self._feed.close()

    async def cancel(self) -> bool:
        return await self._client.cancel_turn(self.session_id, self.turn_id)
