"""The sync client: :class:`AgentRuntime`."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple, Union

import grpc

from agentruntime.v1 import profile_pb2, session_pb2

from . import config
from ._api import RETRY_DELAYS, SAFE_TO_RETRY, Api, Stubs
from .conversation import Conversation
from .errors import NotFound, from_rpc_error
from .feed import EventStream, ToolCallHandler, TurnRun


class AgentRuntime(Api):
    """A client of one Agent Runtime server.

    ``url`` (``http://host:port``, ``https://host``, ``host:port``), ``api_key`` and
    ``root_certificates`` (PEM bytes or a file path) default to ``AGENT_RUNTIME_URL``,
    ``AGENT_RUNTIME_API_KEY`` and ``AGENT_RUNTIME_CA_FILE``. ``timeout`` (seconds) bounds each
    unary call. Every failed call raises an :class:`~agentruntime_client.errors.AgentRuntimeError`.
    Use it as a context manager, or call :meth:`close`::

        with AgentRuntime() as client:
            session = client.create_session(client.find_profile("demo").id)
            for event in client.run_turn(session.id, "hello"):
                ...
    """

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
        self.channel: grpc.Channel = config.sync_channel(self.settings, options)
        self.stubs = Stubs(self.channel, self.settings.metadata)

    def _unary(self, service: str, method: str, request: Any, pick: Callable[[Any], Any]) -> Any:
        call = getattr(getattr(self.stubs, service), method)
        delays = RETRY_DELAYS if method in SAFE_TO_RETRY else ()
        for attempt in range(len(delays) + 1):
            try:
                return pick(call(request, timeout=self.timeout))
            except grpc.RpcError as err:
                if attempt == len(delays) or err.code() != grpc.StatusCode.UNAVAILABLE:
                    raise from_rpc_error(err) from None
            time.sleep(delays[attempt])

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "AgentRuntime":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- Lists, every page -------------------------------------------------------------------

    def list_profiles(self) -> Iterator[profile_pb2.AgentProfile]:
        token = ""
        while True:
            page = self.list_profiles_page(token)
            yield from page.profiles
            token = page.next_page_token
            if not token:
                return

    def find_profile(self, name: str) -> profile_pb2.AgentProfile:
        """The profile named ``name`` (for example the built-in ``demo``); ``NotFound`` if none."""
        for profile in self.list_profiles():
            if profile.name == name:
                return profile
        raise NotFound(f"no profile named {name!r}", reason="PROFILE_NOT_FOUND", field="name")

    def list_sessions(self, profile_id: str = "") -> Iterator[session_pb2.Session]:
        token = ""
        while True:
            page = self.list_sessions_page(token, profile_id=profile_id)
            yield from page.sessions
            token = page.next_page_token
            if not token:
                return

    def conversation(self, session_id: str) -> Conversation:
        """The session's whole conversation (every ``ListMessages`` page), folded."""
        conv = Conversation()
        token = ""
        while True:
            page = self.list_messages_page(session_id, token)
            for block in page.blocks:
                conv.add(block, completed=True)
            token = page.next_page_token
            if not token:
                return conv

    def list_files(self, session_id: str, prefix: str = ""):
        token = ""
        while True:
            page = self.list_files_page(session_id, prefix, token)
            yield from page.files
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
    ) -> EventStream:
        """The session's events after ``after_sequence`` (0: all), then live; resumed after a
        dropped connection. Iterate it; ``close()`` it (from any thread) to stop."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return EventStream(
            self, session_id, after_sequence, deadline=deadline, reconnect_timeout=reconnect_timeout
        )

    def run_turn(
        self,
        session_id: str,
        text: str,
        *,
        timeout: Optional[float] = None,
        on_tool_call: Optional[ToolCallHandler] = None,
        attachments=(),
        policy: Union[str, int, None] = None,
        reconnect_timeout: float = 30.0,
    ) -> TurnRun:
        """Sends ``text`` and returns the running turn: iterate it for the turn's events (until
        ``turn_completed``) or call ``wait()`` for its result.

        ``on_tool_call(call)`` is called for each of the turn's waiting tool calls
        (``PendingToolCall``); return ``Allow()``, ``Deny(...)`` or ``ToolResult(...)`` to answer
        it, or ``None`` to answer it yourself. ``timeout`` bounds the whole turn
        (``DeadlineExceeded``); the turn itself goes on.
        """
        return TurnRun(
            self,
            session_id,
            text,
            timeout=timeout,
            on_tool_call=on_tool_call,
            reconnect_timeout=reconnect_timeout,
            attachments=attachments,
            policy=policy,
        )
