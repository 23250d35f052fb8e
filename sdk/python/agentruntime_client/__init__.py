"""Python client for the Agent Runtime API (package ``agentruntime.v1``) over gRPC.

Example::

    from agentruntime_client import AgentRuntime

    with AgentRuntime() as client:  # AGENT_RUNTIME_URL, AGENT_RUNTIME_API_KEY
        session = client.create_session(client.find_profile("demo").id)
        run = client.run_turn(session.id, "hello")
        for event in run:
            ...
        print(run.result.conversation)

``AsyncAgentRuntime`` (in ``agentruntime_client.aio``) is the same for asyncio. ``Client`` holds
just the generated stubs. The generated messages and stubs are re-exported from
``agentruntime.v1`` (built from ``gen/python`` by ``buf generate``).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import grpc

from agentruntime.v1 import (
    block_pb2,
    error_detail_pb2,
    event_pb2,
    profile_pb2,
    profile_service_pb2,
    profile_service_pb2_grpc,
    secret_service_pb2,
    secret_service_pb2_grpc,
    session_pb2,
    session_service_pb2,
    session_service_pb2_grpc,
    workspace_pb2,
    workspace_service_pb2,
    workspace_service_pb2_grpc,
)

from .aio import AsyncAgentRuntime
from .aio_feed import AsyncEventStream, AsyncTurnRun
from .answers import Allow, Deny, ToolResult
from .client import AgentRuntime
from .conversation import Conversation, ToolCall
from .errors import (
    Aborted,
    AgentRuntimeError,
    AlreadyExists,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
)
from .feed import EventStream, TurnRun
from ._resume import TurnResult

__all__ = [
    "Aborted",
    "AgentRuntime",
    "AgentRuntimeError",
    "Allow",
    "AlreadyExists",
    "AsyncAgentRuntime",
    "AsyncEventStream",
    "AsyncTurnRun",
    "Cancelled",
    "Client",
    "Conversation",
    "DataLoss",
    "DeadlineExceeded",
    "Deny",
    "EventStream",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "ToolCall",
    "ToolResult",
    "TurnResult",
    "TurnRun",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "block_pb2",
    "error_detail_pb2",
    "event_pb2",
    "profile_pb2",
    "profile_service_pb2",
    "profile_service_pb2_grpc",
    "secret_service_pb2",
    "secret_service_pb2_grpc",
    "session_pb2",
    "session_service_pb2",
    "session_service_pb2_grpc",
    "workspace_pb2",
    "workspace_service_pb2",
    "workspace_service_pb2_grpc",
]

__version__ = "0.1.0"


class _BearerKey(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <key>`` to the metadata of every call."""

    def __init__(self, api_key: str) -> None:
        self._header = ("authorization", f"Bearer {api_key}")

    def _with_key(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = [m for m in (details.metadata or ()) if m[0].lower() != "authorization"]
        metadata.append(self._header)
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation, client_call_details, request):
        return continuation(self._with_key(client_call_details), request)

    def intercept_unary_stream(self, continuation, client_call_details, request):
        return continuation(self._with_key(client_call_details), request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):
        return continuation(self._with_key(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):
        return continuation(self._with_key(client_call_details), request_iterator)


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, method, timeout, metadata, credentials, wait_for_ready, compression):
        self.method = method
        self.timeout = timeout
        self.metadata = metadata
        self.credentials = credentials
        self.wait_for_ready = wait_for_ready
        self.compression = compression


class Client:
    """The service stubs on one gRPC channel, sending the API key with every call.

    ``target`` is ``host:port`` (for example ``"127.0.0.1:8080"``). The channel is plaintext
    unless ``credentials`` (``grpc.ssl_channel_credentials()``) are given. An empty
    ``api_key`` sends no ``authorization`` metadata, for a server started without API keys.
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        target: str,
        api_key: str,
        *,
        credentials: Optional[grpc.ChannelCredentials] = None,
        options: Sequence[Tuple[str, object]] = (),
    ) -> None:
        if credentials is None:
            channel = grpc.insecure_channel(target, options=list(options))
        else:
            channel = grpc.secure_channel(target, credentials, options=list(options))
        self._raw_channel = channel
        if api_key:
            channel = grpc.intercept_channel(channel, _BearerKey(api_key))
        self.channel: grpc.Channel = channel
        self.profiles = profile_service_pb2_grpc.AgentProfileServiceStub(channel)
        self.sessions = session_service_pb2_grpc.SessionServiceStub(channel)
        self.workspace = workspace_service_pb2_grpc.WorkspaceServiceStub(channel)
        self.secrets = secret_service_pb2_grpc.SecretServiceStub(channel)

    def close(self) -> None:
        self._raw_channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
