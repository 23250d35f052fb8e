from agentruntime.v1 import block_pb2 as _block_pb2
from agentruntime.v1 import profile_pb2 as _profile_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
PENDING_KIND_APPROVAL: PendingKind
PENDING_KIND_CUSTOM_TOOL: PendingKind
PENDING_KIND_UNSPECIFIED: PendingKind
SANDBOX_STATUS_FAILED: SandboxStatus
SANDBOX_STATUS_NONE: SandboxStatus
SANDBOX_STATUS_READY: SandboxStatus
SANDBOX_STATUS_STARTING: SandboxStatus
SANDBOX_STATUS_TERMINATED: SandboxStatus
SANDBOX_STATUS_UNSPECIFIED: SandboxStatus
SESSION_STATE_IDLE: SessionState
SESSION_STATE_RUNNING: SessionState
SESSION_STATE_UNSPECIFIED: SessionState
SESSION_STATE_WAITING: SessionState
TOOL_DECISION_KIND_ALLOW: ToolDecisionKind
TOOL_DECISION_KIND_DENY: ToolDecisionKind
TOOL_DECISION_KIND_RESULT: ToolDecisionKind
TOOL_DECISION_KIND_UNSPECIFIED: ToolDecisionKind
TURN_OUTCOME_BUDGET_EXCEEDED: TurnOutcome
TURN_OUTCOME_CANCELLED: TurnOutcome
TURN_OUTCOME_COMPLETED: TurnOutcome
TURN_OUTCOME_FAILED: TurnOutcome
TURN_OUTCOME_INTERRUPTED: TurnOutcome
TURN_OUTCOME_MAX_TURNS: TurnOutcome
TURN_OUTCOME_UNSPECIFIED: TurnOutcome

class PendingToolCall(_message.Message):
    __slots__ = ["input_json", "kind", "matched_rule", "request_time", "timeout_time", "tool_name", "tool_use_id", "turn_id"]
    INPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MATCHED_RULE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TIME_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_TIME_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    input_json: str
    kind: PendingKind
    matched_rule: str
    request_time: _timestamp_pb2.Timestamp
    timeout_time: _timestamp_pb2.Timestamp
    tool_name: str
    tool_use_id: str
    turn_id: str
    def __init__(self, tool_use_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., input_json: _Optional[str] = ..., kind: _Optional[_Union[PendingKind, str]] = ..., matched_rule: _Optional[str] = ..., request_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., timeout_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class QueuedMessage(_message.Message):
    __slots__ = ["enqueue_time", "text", "turn_id"]
    ENQUEUE_TIME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    enqueue_time: _timestamp_pb2.Timestamp
    text: str
    turn_id: str
    def __init__(self, turn_id: _Optional[str] = ..., text: _Optional[str] = ..., enqueue_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Session(_message.Message):
    __slots__ = ["agent_profile_id", "create_time", "id", "last_activity_time", "last_sequence", "metadata", "name", "options", "runtime", "state", "todos", "update_time", "usage"]
    class MetadataEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TODOS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    agent_profile_id: str
    create_time: _timestamp_pb2.Timestamp
    id: str
    last_activity_time: _timestamp_pb2.Timestamp
    last_sequence: int
    metadata: _containers.ScalarMap[str, str]
    name: str
    options: SessionOptions
    runtime: SessionRuntime
    state: SessionState
    todos: _containers.RepeatedCompositeFieldContainer[_block_pb2.TodoItem]
    update_time: _timestamp_pb2.Timestamp
    usage: Usage
    def __init__(self, id: _Optional[str] = ..., agent_profile_id: _Optional[str] = ..., name: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., options: _Optional[_Union[SessionOptions, _Mapping]] = ..., state: _Optional[_Union[SessionState, str]] = ..., runtime: _Optional[_Union[SessionRuntime, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., last_sequence: _Optional[int] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., last_activity_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., todos: _Optional[_Iterable[_Union[_block_pb2.TodoItem, _Mapping]]] = ...) -> None: ...

class SessionOptions(_message.Message):
    __slots__ = ["budget", "model"]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    budget: _profile_pb2.Budget
    model: str
    def __init__(self, model: _Optional[str] = ..., budget: _Optional[_Union[_profile_pb2.Budget, _Mapping]] = ...) -> None: ...

class SessionRuntime(_message.Message):
    __slots__ = ["current_turn", "loaded", "pending_tool_calls", "queued_messages", "sandbox_id", "sandbox_status", "waiting_reason"]
    CURRENT_TURN_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    PENDING_TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_ID_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_STATUS_FIELD_NUMBER: _ClassVar[int]
    WAITING_REASON_FIELD_NUMBER: _ClassVar[int]
    current_turn: Turn
    loaded: bool
    pending_tool_calls: _containers.RepeatedCompositeFieldContainer[PendingToolCall]
    queued_messages: _containers.RepeatedCompositeFieldContainer[QueuedMessage]
    sandbox_id: str
    sandbox_status: SandboxStatus
    waiting_reason: str
    def __init__(self, loaded: bool = ..., sandbox_status: _Optional[_Union[SandboxStatus, str]] = ..., sandbox_id: _Optional[str] = ..., current_turn: _Optional[_Union[Turn, _Mapping]] = ..., queued_messages: _Optional[_Iterable[_Union[QueuedMessage, _Mapping]]] = ..., pending_tool_calls: _Optional[_Iterable[_Union[PendingToolCall, _Mapping]]] = ..., waiting_reason: _Optional[str] = ...) -> None: ...

class ToolDecision(_message.Message):
    __slots__ = ["always_allow_rule", "decide_time", "decided_by", "is_error", "kind", "message", "output", "tool_name", "tool_use_id", "turn_id", "updated_input_json"]
    ALWAYS_ALLOW_RULE_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    DECIDE_TIME_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATED_INPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    always_allow_rule: str
    decide_time: _timestamp_pb2.Timestamp
    decided_by: str
    is_error: bool
    kind: ToolDecisionKind
    message: str
    output: str
    tool_name: str
    tool_use_id: str
    turn_id: str
    updated_input_json: str
    def __init__(self, tool_use_id: _Optional[str] = ..., turn_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., kind: _Optional[_Union[ToolDecisionKind, str]] = ..., message: _Optional[str] = ..., updated_input_json: _Optional[str] = ..., always_allow_rule: _Optional[str] = ..., output: _Optional[str] = ..., is_error: bool = ..., decided_by: _Optional[str] = ..., decide_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Turn(_message.Message):
    __slots__ = ["end_time", "id", "outcome", "start_time", "usage", "user_block_id"]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    USER_BLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    end_time: _timestamp_pb2.Timestamp
    id: str
    outcome: TurnOutcome
    start_time: _timestamp_pb2.Timestamp
    usage: Usage
    user_block_id: str
    def __init__(self, id: _Optional[str] = ..., user_block_id: _Optional[str] = ..., start_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[_Union[TurnOutcome, str]] = ..., end_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ["cache_creation_input_tokens", "cache_read_input_tokens", "cost_micro_usd", "cost_usd", "input_tokens", "output_tokens", "web_fetch_requests", "web_search_requests"]
    CACHE_CREATION_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHE_READ_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_MICRO_USD_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    WEB_FETCH_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    WEB_SEARCH_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    cost_micro_usd: int
    cost_usd: float
    input_tokens: int
    output_tokens: int
    web_fetch_requests: int
    web_search_requests: int
    def __init__(self, input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cache_read_input_tokens: _Optional[int] = ..., cache_creation_input_tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., cost_micro_usd: _Optional[int] = ..., web_search_requests: _Optional[int] = ..., web_fetch_requests: _Optional[int] = ...) -> None: ...

class SessionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class SandboxStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class PendingKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ToolDecisionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class TurnOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
