from agentruntime.v1 import block_pb2 as _block_pb2
from agentruntime.v1 import session_pb2 as _session_pb2
from agentruntime.v1 import workspace_pb2 as _workspace_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
MCP_SERVER_STATE_CONNECTED: McpServerState
MCP_SERVER_STATE_FAILED: McpServerState
MCP_SERVER_STATE_UNSPECIFIED: McpServerState

class BlockCompleted(_message.Message):
    __slots__ = ["block"]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    block: _block_pb2.Block
    def __init__(self, block: _Optional[_Union[_block_pb2.Block, _Mapping]] = ...) -> None: ...

class BlockDelta(_message.Message):
    __slots__ = ["block_id", "input_json", "output", "text", "thinking"]
    BLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    THINKING_FIELD_NUMBER: _ClassVar[int]
    block_id: str
    input_json: str
    output: str
    text: str
    thinking: str
    def __init__(self, block_id: _Optional[str] = ..., text: _Optional[str] = ..., thinking: _Optional[str] = ..., input_json: _Optional[str] = ..., output: _Optional[str] = ...) -> None: ...

class BlockStarted(_message.Message):
    __slots__ = ["block"]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    block: _block_pb2.Block
    def __init__(self, block: _Optional[_Union[_block_pb2.Block, _Mapping]] = ...) -> None: ...

class BlockUpdated(_message.Message):
    __slots__ = ["block"]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    block: _block_pb2.Block
    def __init__(self, block: _Optional[_Union[_block_pb2.Block, _Mapping]] = ...) -> None: ...

class BudgetExceeded(_message.Message):
    __slots__ = ["limit", "limit_value", "scope", "used"]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_VALUE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    limit: str
    limit_value: float
    scope: str
    used: _session_pb2.Usage
    def __init__(self, scope: _Optional[str] = ..., limit: _Optional[str] = ..., limit_value: _Optional[float] = ..., used: _Optional[_Union[_session_pb2.Usage, _Mapping]] = ...) -> None: ...

class ContextCompacted(_message.Message):
    __slots__ = ["block_id", "messages_compacted", "tokens_before"]
    BLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_COMPACTED_FIELD_NUMBER: _ClassVar[int]
    TOKENS_BEFORE_FIELD_NUMBER: _ClassVar[int]
    block_id: str
    messages_compacted: int
    tokens_before: int
    def __init__(self, block_id: _Optional[str] = ..., tokens_before: _Optional[int] = ..., messages_compacted: _Optional[int] = ...) -> None: ...

class ContextEdited(_message.Message):
    __slots__ = ["cleared_input_tokens", "cleared_tool_results"]
    CLEARED_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CLEARED_TOOL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    cleared_input_tokens: int
    cleared_tool_results: int
    def __init__(self, cleared_tool_results: _Optional[int] = ..., cleared_input_tokens: _Optional[int] = ...) -> None: ...

class ErrorOccurred(_message.Message):
    __slots__ = ["message", "reason", "retryable"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    message: str
    reason: str
    retryable: bool
    def __init__(self, reason: _Optional[str] = ..., message: _Optional[str] = ..., retryable: bool = ...) -> None: ...

class FileCreated(_message.Message):
    __slots__ = ["file"]
    FILE_FIELD_NUMBER: _ClassVar[int]
    file: _workspace_pb2.FileInfo
    def __init__(self, file: _Optional[_Union[_workspace_pb2.FileInfo, _Mapping]] = ...) -> None: ...

class FileDeleted(_message.Message):
    __slots__ = ["path"]
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class FileModified(_message.Message):
    __slots__ = ["file"]
    FILE_FIELD_NUMBER: _ClassVar[int]
    file: _workspace_pb2.FileInfo
    def __init__(self, file: _Optional[_Union[_workspace_pb2.FileInfo, _Mapping]] = ...) -> None: ...

class McpServerStatus(_message.Message):
    __slots__ = ["message", "name", "state", "tools"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    message: str
    name: str
    state: McpServerState
    tools: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[McpServerState, str]] = ..., message: _Optional[str] = ..., tools: _Optional[_Iterable[str]] = ...) -> None: ...

class SessionEvent(_message.Message):
    __slots__ = ["block_completed", "block_delta", "block_started", "block_updated", "budget_exceeded", "context_compacted", "context_edited", "error", "file_created", "file_deleted", "file_modified", "mcp_server_status", "sequence", "session_id", "status_changed", "subagent_completed", "subagent_discovered", "subagent_id", "time", "todos_updated", "tool_call_answered", "tool_call_waiting", "turn_completed", "turn_id", "turn_started", "usage_updated"]
    BLOCK_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    BLOCK_DELTA_FIELD_NUMBER: _ClassVar[int]
    BLOCK_STARTED_FIELD_NUMBER: _ClassVar[int]
    BLOCK_UPDATED_FIELD_NUMBER: _ClassVar[int]
    BUDGET_EXCEEDED_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_COMPACTED_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_EDITED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FILE_CREATED_FIELD_NUMBER: _ClassVar[int]
    FILE_DELETED_FIELD_NUMBER: _ClassVar[int]
    FILE_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    MCP_SERVER_STATUS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    SUBAGENT_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    SUBAGENT_DISCOVERED_FIELD_NUMBER: _ClassVar[int]
    SUBAGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TODOS_UPDATED_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ANSWERED_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_WAITING_FIELD_NUMBER: _ClassVar[int]
    TURN_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    TURN_STARTED_FIELD_NUMBER: _ClassVar[int]
    USAGE_UPDATED_FIELD_NUMBER: _ClassVar[int]
    block_completed: BlockCompleted
    block_delta: BlockDelta
    block_started: BlockStarted
    block_updated: BlockUpdated
    budget_exceeded: BudgetExceeded
    context_compacted: ContextCompacted
    context_edited: ContextEdited
    error: ErrorOccurred
    file_created: FileCreated
    file_deleted: FileDeleted
    file_modified: FileModified
    mcp_server_status: McpServerStatus
    sequence: int
    session_id: str
    status_changed: StatusChanged
    subagent_completed: SubagentCompleted
    subagent_discovered: SubagentDiscovered
    subagent_id: str
    time: _timestamp_pb2.Timestamp
    todos_updated: TodosUpdated
    tool_call_answered: ToolCallAnswered
    tool_call_waiting: ToolCallWaiting
    turn_completed: TurnCompleted
    turn_id: str
    turn_started: TurnStarted
    usage_updated: UsageUpdated
    def __init__(self, session_id: _Optional[str] = ..., sequence: _Optional[int] = ..., time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., turn_id: _Optional[str] = ..., subagent_id: _Optional[str] = ..., block_started: _Optional[_Union[BlockStarted, _Mapping]] = ..., block_delta: _Optional[_Union[BlockDelta, _Mapping]] = ..., block_updated: _Optional[_Union[BlockUpdated, _Mapping]] = ..., block_completed: _Optional[_Union[BlockCompleted, _Mapping]] = ..., status_changed: _Optional[_Union[StatusChanged, _Mapping]] = ..., usage_updated: _Optional[_Union[UsageUpdated, _Mapping]] = ..., file_created: _Optional[_Union[FileCreated, _Mapping]] = ..., file_modified: _Optional[_Union[FileModified, _Mapping]] = ..., file_deleted: _Optional[_Union[FileDeleted, _Mapping]] = ..., subagent_discovered: _Optional[_Union[SubagentDiscovered, _Mapping]] = ..., subagent_completed: _Optional[_Union[SubagentCompleted, _Mapping]] = ..., turn_started: _Optional[_Union[TurnStarted, _Mapping]] = ..., turn_completed: _Optional[_Union[TurnCompleted, _Mapping]] = ..., error: _Optional[_Union[ErrorOccurred, _Mapping]] = ..., todos_updated: _Optional[_Union[TodosUpdated, _Mapping]] = ..., mcp_server_status: _Optional[_Union[McpServerStatus, _Mapping]] = ..., context_compacted: _Optional[_Union[ContextCompacted, _Mapping]] = ..., context_edited: _Optional[_Union[ContextEdited, _Mapping]] = ..., tool_call_waiting: _Optional[_Union[ToolCallWaiting, _Mapping]] = ..., tool_call_answered: _Optional[_Union[ToolCallAnswered, _Mapping]] = ..., budget_exceeded: _Optional[_Union[BudgetExceeded, _Mapping]] = ...) -> None: ...

class StatusChanged(_message.Message):
    __slots__ = ["message", "sandbox_status", "state"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_STATUS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    message: str
    sandbox_status: _session_pb2.SandboxStatus
    state: _session_pb2.SessionState
    def __init__(self, state: _Optional[_Union[_session_pb2.SessionState, str]] = ..., sandbox_status: _Optional[_Union[_session_pb2.SandboxStatus, str]] = ..., message: _Optional[str] = ...) -> None: ...

class SubagentCompleted(_message.Message):
    __slots__ = ["result", "status", "subagent_id"]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUBAGENT_ID_FIELD_NUMBER: _ClassVar[int]
    result: str
    status: _block_pb2.SubagentStatus
    subagent_id: str
    def __init__(self, subagent_id: _Optional[str] = ..., status: _Optional[_Union[_block_pb2.SubagentStatus, str]] = ..., result: _Optional[str] = ...) -> None: ...

class SubagentDiscovered(_message.Message):
    __slots__ = ["description", "name", "prompt", "subagent_id", "tool_use_id"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    SUBAGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    description: str
    name: str
    prompt: str
    subagent_id: str
    tool_use_id: str
    def __init__(self, subagent_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., prompt: _Optional[str] = ..., tool_use_id: _Optional[str] = ...) -> None: ...

class TodosUpdated(_message.Message):
    __slots__ = ["items"]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_block_pb2.TodoItem]
    def __init__(self, items: _Optional[_Iterable[_Union[_block_pb2.TodoItem, _Mapping]]] = ...) -> None: ...

class ToolCallAnswered(_message.Message):
    __slots__ = ["decision"]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: _session_pb2.ToolDecision
    def __init__(self, decision: _Optional[_Union[_session_pb2.ToolDecision, _Mapping]] = ...) -> None: ...

class ToolCallWaiting(_message.Message):
    __slots__ = ["call"]
    CALL_FIELD_NUMBER: _ClassVar[int]
    call: _session_pb2.PendingToolCall
    def __init__(self, call: _Optional[_Union[_session_pb2.PendingToolCall, _Mapping]] = ...) -> None: ...

class TurnCompleted(_message.Message):
    __slots__ = ["reason", "turn"]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    reason: str
    turn: _session_pb2.Turn
    def __init__(self, turn: _Optional[_Union[_session_pb2.Turn, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class TurnStarted(_message.Message):
    __slots__ = ["turn"]
    TURN_FIELD_NUMBER: _ClassVar[int]
    turn: _session_pb2.Turn
    def __init__(self, turn: _Optional[_Union[_session_pb2.Turn, _Mapping]] = ...) -> None: ...

class UsageUpdated(_message.Message):
    __slots__ = ["model", "session", "step", "turn"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    model: str
    session: _session_pb2.Usage
    step: _session_pb2.Usage
    turn: _session_pb2.Usage
    def __init__(self, step: _Optional[_Union[_session_pb2.Usage, _Mapping]] = ..., turn: _Optional[_Union[_session_pb2.Usage, _Mapping]] = ..., session: _Optional[_Union[_session_pb2.Usage, _Mapping]] = ..., model: _Optional[str] = ...) -> None: ...

class McpServerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
