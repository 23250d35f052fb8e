from agentruntime.v1 import block_pb2 as _block_pb2
from agentruntime.v1 import event_pb2 as _event_pb2
from agentruntime.v1 import session_pb2 as _session_pb2
from agentruntime.v1 import workspace_pb2 as _workspace_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
SEND_POLICY_INTERRUPT: SendPolicy
SEND_POLICY_QUEUE: SendPolicy
SEND_POLICY_REJECT: SendPolicy
SEND_POLICY_STEER: SendPolicy
SEND_POLICY_UNSPECIFIED: SendPolicy

class AnswerToolCallRequest(_message.Message):
    __slots__ = ["approval", "result", "session_id", "tool_use_id"]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    approval: ApprovalAnswer
    result: CustomToolResult
    session_id: str
    tool_use_id: str
    def __init__(self, session_id: _Optional[str] = ..., tool_use_id: _Optional[str] = ..., approval: _Optional[_Union[ApprovalAnswer, _Mapping]] = ..., result: _Optional[_Union[CustomToolResult, _Mapping]] = ...) -> None: ...

class AnswerToolCallResponse(_message.Message):
    __slots__ = ["decision"]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: _session_pb2.ToolDecision
    def __init__(self, decision: _Optional[_Union[_session_pb2.ToolDecision, _Mapping]] = ...) -> None: ...

class ApprovalAnswer(_message.Message):
    __slots__ = ["allow", "always_allow_rule", "message", "updated_input_json"]
    ALLOW_FIELD_NUMBER: _ClassVar[int]
    ALWAYS_ALLOW_RULE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_INPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    allow: bool
    always_allow_rule: str
    message: str
    updated_input_json: str
    def __init__(self, allow: bool = ..., message: _Optional[str] = ..., updated_input_json: _Optional[str] = ..., always_allow_rule: _Optional[str] = ...) -> None: ...

class CancelTurnRequest(_message.Message):
    __slots__ = ["session_id", "turn_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    turn_id: str
    def __init__(self, session_id: _Optional[str] = ..., turn_id: _Optional[str] = ...) -> None: ...

class CancelTurnResponse(_message.Message):
    __slots__ = ["cancelled"]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    cancelled: bool
    def __init__(self, cancelled: bool = ...) -> None: ...

class CreateSessionRequest(_message.Message):
    __slots__ = ["agent_profile_id", "initial_files", "metadata", "name", "options", "request_id"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    INITIAL_FILES_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    agent_profile_id: str
    initial_files: _containers.RepeatedCompositeFieldContainer[_workspace_pb2.WorkspaceFile]
    metadata: _containers.ScalarMap[str, str]
    name: str
    options: _session_pb2.SessionOptions
    request_id: str
    def __init__(self, agent_profile_id: _Optional[str] = ..., name: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., initial_files: _Optional[_Iterable[_Union[_workspace_pb2.WorkspaceFile, _Mapping]]] = ..., options: _Optional[_Union[_session_pb2.SessionOptions, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateSessionResponse(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class CustomToolResult(_message.Message):
    __slots__ = ["is_error", "output"]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    is_error: bool
    output: str
    def __init__(self, output: _Optional[str] = ..., is_error: bool = ...) -> None: ...

class DeleteSessionRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class DeleteSessionResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetSessionRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetSessionResponse(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class ListMessagesRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "session_id"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMessagesResponse(_message.Message):
    __slots__ = ["blocks", "next_page_token"]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    blocks: _containers.RepeatedCompositeFieldContainer[_block_pb2.Block]
    next_page_token: str
    def __init__(self, blocks: _Optional[_Iterable[_Union[_block_pb2.Block, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ["agent_profile_id", "page_size", "page_token", "state"]
    AGENT_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    agent_profile_id: str
    page_size: int
    page_token: str
    state: _session_pb2.SessionState
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., agent_profile_id: _Optional[str] = ..., state: _Optional[_Union[_session_pb2.SessionState, str]] = ...) -> None: ...

class ListSessionsResponse(_message.Message):
    __slots__ = ["next_page_token", "sessions"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    sessions: _containers.RepeatedCompositeFieldContainer[_session_pb2.Session]
    def __init__(self, sessions: _Optional[_Iterable[_Union[_session_pb2.Session, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListToolDecisionsRequest(_message.Message):
    __slots__ = ["page_size", "page_token", "session_id"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListToolDecisionsResponse(_message.Message):
    __slots__ = ["decisions", "next_page_token"]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    decisions: _containers.RepeatedCompositeFieldContainer[_session_pb2.ToolDecision]
    next_page_token: str
    def __init__(self, decisions: _Optional[_Iterable[_Union[_session_pb2.ToolDecision, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SendMessageRequest(_message.Message):
    __slots__ = ["attachments", "policy", "session_id", "text"]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    attachments: _containers.RepeatedCompositeFieldContainer[_block_pb2.Attachment]
    policy: SendPolicy
    session_id: str
    text: str
    def __init__(self, session_id: _Optional[str] = ..., text: _Optional[str] = ..., attachments: _Optional[_Iterable[_Union[_block_pb2.Attachment, _Mapping]]] = ..., policy: _Optional[_Union[SendPolicy, str]] = ...) -> None: ...

class SendMessageResponse(_message.Message):
    __slots__ = ["queued", "steered", "turn_id"]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    STEERED_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    queued: bool
    steered: bool
    turn_id: str
    def __init__(self, turn_id: _Optional[str] = ..., queued: bool = ..., steered: bool = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ["after_sequence", "session_id"]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class StreamEventsResponse(_message.Message):
    __slots__ = ["event"]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _event_pb2.SessionEvent
    def __init__(self, event: _Optional[_Union[_event_pb2.SessionEvent, _Mapping]] = ...) -> None: ...

class UpdateSessionRequest(_message.Message):
    __slots__ = ["session", "update_mask"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateSessionResponse(_message.Message):
    __slots__ = ["session"]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: _session_pb2.Session
    def __init__(self, session: _Optional[_Union[_session_pb2.Session, _Mapping]] = ...) -> None: ...

class SendPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
