"""The unary calls, written once for both clients.

Each method builds its request and hands it to ``self._unary(service, method, request, pick)``:
the sync client returns the picked result, the asyncio client a coroutine of it. ``Stubs`` adds
the API key to every call of the generated stubs.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Tuple, Union

from agentruntime.v1 import (
    block_pb2,
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

from .answers import Allow, Answer, Deny, ToolResult, answer_request

Metadata = Tuple[Tuple[str, str], ...]


def _safe_to_retry() -> set:
    """The methods the API marks NO_SIDE_EFFECTS or IDEMPOTENT: tried again when the connection
    dropped (UNAVAILABLE). Creates are too, with a ``request_id`` (the server answers a retry with
    what the first created)."""
    names = set()
    for module in (
        profile_service_pb2,
        secret_service_pb2,
        session_service_pb2,
        workspace_service_pb2,
    ):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                if method.GetOptions().idempotency_level in (1, 2):
                    names.add(method.name)
    return names | {"CreateAgentProfile", "CreateSession"}


SAFE_TO_RETRY = _safe_to_retry()
RETRY_DELAYS = (0.05, 0.25, 1.0)


def _request_id(request_id: str) -> str:
    return request_id or f"py-{uuid.uuid4().hex}"


class _KeyedStub:
    """A generated stub whose methods send ``metadata`` (the API key) with every call."""

    def __init__(self, stub: Any, metadata: Metadata) -> None:
        self._stub = stub
        self._metadata = metadata

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._stub, name)
        if not self._metadata:
            return method

        def call(request: Any, *args: Any, metadata: Optional[Sequence] = None, **kwargs: Any):
            extra = [m for m in (metadata or ()) if m[0].lower() != "authorization"]
            return method(request, *args, metadata=(*self._metadata, *extra), **kwargs)

        return call


class Stubs:
    """The generated stubs of the four services on one channel, sending the API key."""

    def __init__(self, channel: Any, metadata: Metadata) -> None:
        self.profiles = _KeyedStub(profile_service_pb2_grpc.AgentProfileServiceStub(channel), metadata)
        self.sessions = _KeyedStub(session_service_pb2_grpc.SessionServiceStub(channel), metadata)
        self.workspace = _KeyedStub(
            workspace_service_pb2_grpc.WorkspaceServiceStub(channel), metadata
        )
        self.secrets = _KeyedStub(secret_service_pb2_grpc.SecretServiceStub(channel), metadata)


def _send_policy(policy: Union[str, int, None]) -> int:
    if policy is None:
        return session_service_pb2.SEND_POLICY_UNSPECIFIED
    if isinstance(policy, str):
        return session_service_pb2.SendPolicy.Value("SEND_POLICY_" + policy.upper())
    return policy


class Api:
    """Profiles, sessions, messages, tool answers and workspace files, one call each."""

    stubs: Stubs

    def _unary(self, service: str, method: str, request: Any, pick: Callable[[Any], Any]) -> Any:
        raise NotImplementedError

    # ---- Profiles ----------------------------------------------------------------------------

    def create_profile(
        self, profile: Optional[profile_pb2.AgentProfile] = None, *, request_id: str = "", **fields
    ):
        """Creates a profile from an ``AgentProfile`` or its fields (``name=``, ``tools=``, ...);
        ``model_provider`` may be a name (``"demo"``). Returns the stored ``AgentProfile``."""
        if profile is None:
            provider = fields.get("model_provider")
            if isinstance(provider, str):
                fields["model_provider"] = profile_pb2.ModelProvider.Value(
                    "MODEL_PROVIDER_" + provider.upper()
                )
            profile = profile_pb2.AgentProfile(**fields)
        req = profile_service_pb2.CreateAgentProfileRequest(
            profile=profile, request_id=_request_id(request_id)
        )
        return self._unary("profiles", "CreateAgentProfile", req, lambda r: r.profile)

    def get_profile(self, profile_id: str):
        req = profile_service_pb2.GetAgentProfileRequest(agent_profile_id=profile_id)
        return self._unary("profiles", "GetAgentProfile", req, lambda r: r.profile)

    def list_profiles_page(self, page_token: str = "", page_size: int = 0):
        """One page: a ``ListAgentProfilesResponse`` (``profiles``, ``next_page_token``)."""
        req = profile_service_pb2.ListAgentProfilesRequest(page_token=page_token, page_size=page_size)
        return self._unary("profiles", "ListAgentProfiles", req, lambda r: r)

    def delete_profile(self, profile_id: str):
        req = profile_service_pb2.DeleteAgentProfileRequest(agent_profile_id=profile_id)
        return self._unary("profiles", "DeleteAgentProfile", req, lambda r: None)

    # ---- Sessions ----------------------------------------------------------------------------

    def create_session(
        self,
        profile_id: str,
        *,
        name: str = "",
        metadata: Optional[Mapping[str, str]] = None,
        initial_files: Optional[Mapping[str, Union[str, bytes]]] = None,
        options: Optional[session_pb2.SessionOptions] = None,
        request_id: str = "",
    ):
        """Creates a session of a profile; ``initial_files`` maps paths to contents."""
        files = [
            workspace_pb2.WorkspaceFile(
                path=path, content=content.encode() if isinstance(content, str) else content
            )
            for path, content in (initial_files or {}).items()
        ]
        req = session_service_pb2.CreateSessionRequest(
            agent_profile_id=profile_id,
            name=name,
            metadata=dict(metadata or {}),
            initial_files=files,
            options=options,
            request_id=_request_id(request_id),
        )
        return self._unary("sessions", "CreateSession", req, lambda r: r.session)

    def get_session(self, session_id: str):
        req = session_service_pb2.GetSessionRequest(session_id=session_id)
        return self._unary("sessions", "GetSession", req, lambda r: r.session)

    def list_sessions_page(self, page_token: str = "", page_size: int = 0, profile_id: str = ""):
        req = session_service_pb2.ListSessionsRequest(
            page_token=page_token, page_size=page_size, agent_profile_id=profile_id
        )
        return self._unary("sessions", "ListSessions", req, lambda r: r)

    def delete_session(self, session_id: str):
        req = session_service_pb2.DeleteSessionRequest(session_id=session_id)
        return self._unary("sessions", "DeleteSession", req, lambda r: None)

    def send_message(
        self,
        session_id: str,
        text: str,
        *,
        attachments: Iterable[block_pb2.Attachment] = (),
        policy: Union[str, int, None] = None,
    ):
        """Queues a message (``policy``: ``"queue"``, ``"reject"``, ``"interrupt"``, ``"steer"``);
        returns the ``SendMessageResponse`` (``turn_id``, ``queued``, ``steered``)."""
        req = session_service_pb2.SendMessageRequest(
            session_id=session_id,
            text=text,
            attachments=list(attachments),
            policy=_send_policy(policy),
        )
        return self._unary("sessions", "SendMessage", req, lambda r: r)

    def cancel_turn(self, session_id: str, turn_id: str = ""):
        """Ends the running turn (or ``turn_id``); returns whether there was one to cancel."""
        req = session_service_pb2.CancelTurnRequest(session_id=session_id, turn_id=turn_id)
        return self._unary("sessions", "CancelTurn", req, lambda r: r.cancelled)

    def list_messages_page(self, session_id: str, page_token: str = "", page_size: int = 0):
        req = session_service_pb2.ListMessagesRequest(
            session_id=session_id, page_token=page_token, page_size=page_size
        )
        return self._unary("sessions", "ListMessages", req, lambda r: r)

    # ---- Waiting tool calls ------------------------------------------------------------------

    def answer_tool_call(self, session_id: str, tool_use_id: str, answer: Answer):
        """Answers a waiting call with ``Allow``, ``Deny`` or ``ToolResult``; returns the
        recorded ``ToolDecision``. An answered call raises ``FailedPrecondition``."""
        req = answer_request(session_id, tool_use_id, answer)
        return self._unary("sessions", "AnswerToolCall", req, lambda r: r.decision)

    def approve(self, session_id: str, tool_use_id: str, message: str = "", **kwargs):
        """Allows a call waiting for approval (``updated_input=``, ``always_allow_rule=``)."""
        return self.answer_tool_call(session_id, tool_use_id, Allow(message=message, **kwargs))

    def deny(self, session_id: str, tool_use_id: str, message: str = ""):
        return self.answer_tool_call(session_id, tool_use_id, Deny(message=message))

    def submit_tool_result(
        self, session_id: str, tool_use_id: str, output: str, *, is_error: bool = False
    ):
        return self.answer_tool_call(session_id, tool_use_id, ToolResult(output, is_error))

    def list_tool_decisions_page(self, session_id: str, page_token: str = "", page_size: int = 0):
        req = session_service_pb2.ListToolDecisionsRequest(
            session_id=session_id, page_token=page_token, page_size=page_size
        )
        return self._unary("sessions", "ListToolDecisions", req, lambda r: r)

    # ---- Workspace ---------------------------------------------------------------------------

    def read_file(self, session_id: str, path: str):
        """The file's content as bytes."""
        req = workspace_service_pb2.ReadFileRequest(session_id=session_id, path=path)
        return self._unary("workspace", "ReadFile", req, lambda r: r.content)

    def write_file(self, session_id: str, path: str, content: Union[str, bytes]):
        data = content.encode() if isinstance(content, str) else content
        req = workspace_service_pb2.WriteFileRequest(session_id=session_id, path=path, content=data)
        return self._unary("workspace", "WriteFile", req, lambda r: r.file)

    def list_files_page(
        self, session_id: str, prefix: str = "", page_token: str = "", page_size: int = 0
    ):
        req = workspace_service_pb2.ListFilesRequest(
            session_id=session_id, prefix=prefix, page_token=page_token, page_size=page_size
        )
        return self._unary("workspace", "ListFiles", req, lambda r: r)

    def delete_file(self, session_id: str, path: str):
        req = workspace_service_pb2.DeleteFileRequest(session_id=session_id, path=path)
        return self._unary("workspace", "DeleteFile", req, lambda r: None)
