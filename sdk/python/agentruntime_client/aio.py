"""The asyncio client: :class:`AsyncAgentRuntime`, on ``grpc.aio``.

The same calls as :class:`agentruntime_client.AgentRuntime`, awaited::

    async with AsyncAgentRuntime() as client:
        profile = await client.find_profile("demo")
        session = await client.create_session(profile.id)
        run = await client.run_turn(session.id, "hello")
        async for event in run:
            ...
        print(run.result.conversation)

Cancel the task (or use ``asyncio.wait_for``) to stop waiting: the watch ends; the turn goes on
unless you ``await run.cancel()``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Callable, Optional, Sequence, Tuple, Union

import grpc
import grpc.aio

from agentruntime.v1 import profile_pb2, session_pb2, workspace_pb2

from . import config
from ._api import RETRY_DELAYS, SAFE_TO_RETRY, Api, Stubs
from .aio_feed import AsyncEventStream, AsyncToolCallHandler, AsyncTurnRun
from .conversation import Conversation
from .errors import NotFound, from_rpc_error


class AsyncAgentRuntime(Api):
    """An asyncio client of one server; arguments as for ``AgentRuntime``. Create it inside a
    running event loop; ``await close()`` it, or use ``async with``."""

    def __init__(
        self,
        url: Optional[str] = None,
        *,
        api_key: Optional[str] = None,
        root_certificates: Union[bytes, str, None] = None,
        timeout: Optional[float] = 30.0,
        options: Sequence[Tuple[str, object]] = (),
    ) -> None:
        self.settings = config.resolve(url, api_key, root_certificates)
        self.timeout = timeout
        self.channel: grpc.aio.Channel = config.aio_channel(self.settings, options)
        self.stubs = Stubs(self.channel, self.settings.metadata)

    async def _unary(
        self, service: str, method: str, request: Any, pick: Callable[[Any], Any]
    ) -> Any:
        call = getattr(getattr(self.stubs, service), method)
        delays = RETRY_DELAYS if method in SAFE_TO_RETRY else ()
        for attempt in range(len(delays) + 1):
            try:
                return pick(await call(request, timeout=self.timeout))
            except grpc.RpcError as err:
                if attempt == len(delays) or err.code() != grpc.StatusCode.UNAVAILABLE:
                    raise from_rpc_error(err) from None
            await asyncio.sleep(delays[attempt])

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> "AsyncAgentRuntime":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- Lists, every page -------------------------------------------------------------------

    async def list_profiles(self) -> AsyncIterator[profile_pb2.AgentProfile]:
        token = ""
        while True:
            page = await self.list_profiles_page(token)
            for profile in page.profiles:
                yield profile
            token = page.next_page_token
            if not token:
                return

    async def find_profile(self, name: str) -> profile_pb2.AgentProfile:
        """The profile named ``name``; ``NotFound`` if none."""
        async for profile in self.list_profiles():
            if profile.name == name:
                return profile
        raise NotFound(f"no profile named {name!r}", reason="PROFILE_NOT_FOUND", field="name")

    async def list_sessions(self, profile_id: str = "") -> AsyncIterator[session_pb2.Session]:
        token = ""
        while True:
            page = await self.list_sessions_page(token, profile_id=profile_id)
            for session in page.sessions:
                yield session
            token = page.next_page_token
            if not token:
                return

    async def conversation(self, session_id: str) -> Conversation:
        """The session's whole conversation (every ``ListMessages`` page), folded."""
        conv = Conversation()
        token = ""
        while True:
            page = await self.list_messages_page(session_id, token)
            for block in page.blocks:
                conv.add(block, completed=True)
            token = page.next_page_token
            if not token:
                return conv

    async def list_files(
        self, session_id: str, prefix: str = ""
    ) -> AsyncIterator[workspace_pb2.FileInfo]:
        token = ""
        while True:
            page = await self.list_files_page(session_id, prefix, token)
            for f in page.files:
                yield f
            token = page.next_page_token
            if not token:
                return

    # ---- The feed ----------------------------------------------------------------------------

    def watch(
        self,
        session_id: str,
        after_sequence: int = 0,
        *,
        timeout: Optional[float] = None,
        reconnect_timeout: float = 30.0,
    ) -> AsyncEventStream:
        """``async for`` over the session's events after ``after_sequence``, then live."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return AsyncEventStream(
            self, session_id, after_sequence, deadline=deadline, reconnect_timeout=reconnect_timeout
        )

    async def run_turn(
        self,
        session_id: str,
        text: str,
        *,
        timeout: Optional[float] = None,
        on_tool_call: Optional[AsyncToolCallHandler] = None,
        attachments=(),
        policy: Union[str, int, None] = None,
        reconnect_timeout: float = 30.0,
    ) -> AsyncTurnRun:
        """Sends ``text`` and returns the running turn: ``async for`` its events, or
        ``await run.wait()``. ``on_tool_call`` may be a function or a coroutine function."""
        return await AsyncTurnRun.start(
            self,
            session_id,
            text,
            timeout=timeout,
            on_tool_call=on_tool_call,
            reconnect_timeout=reconnect_timeout,
            attachments=attachments,
            policy=policy,
        )
