from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
SUBAGENT_STATUS_CANCELLED: SubagentStatus
SUBAGENT_STATUS_COMPLETED: SubagentStatus
SUBAGENT_STATUS_FAILED: SubagentStatus
SUBAGENT_STATUS_RUNNING: SubagentStatus
SUBAGENT_STATUS_UNSPECIFIED: SubagentStatus
TOOL_STATUS_CANCELLED: ToolStatus
TOOL_STATUS_FAILED: ToolStatus
TOOL_STATUS_PENDING: ToolStatus
TOOL_STATUS_RUNNING: ToolStatus
TOOL_STATUS_SUCCEEDED: ToolStatus
TOOL_STATUS_UNSPECIFIED: ToolStatus

class AssistantTextBlock(_message.Message):
    __slots__ = ["text"]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class Attachment(_message.Message):
    __slots__ = ["data", "media_type", "name"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    media_type: str
    name: str
    def __init__(self, name: _Optional[str] = ..., media_type: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class Block(_message.Message):
    __slots__ = ["assistant_text", "create_time", "error", "id", "subagent", "subagent_id", "system", "thinking", "tool_result", "tool_use", "turn_id", "user_message"]
    ASSISTANT_TEXT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBAGENT_FIELD_NUMBER: _ClassVar[int]
    SUBAGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    THINKING_FIELD_NUMBER: _ClassVar[int]
    TOOL_RESULT_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    USER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    assistant_text: AssistantTextBlock
    create_time: _timestamp_pb2.Timestamp
    error: ErrorBlock
    id: str
    subagent: SubagentBlock
    subagent_id: str
    system: SystemBlock
    thinking: ThinkingBlock
    tool_result: ToolResultBlock
    tool_use: ToolUseBlock
    turn_id: str
    user_message: UserMessageBlock
    def __init__(self, id: _Optional[str] = ..., turn_id: _Optional[str] = ..., subagent_id: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., user_message: _Optional[_Union[UserMessageBlock, _Mapping]] = ..., assistant_text: _Optional[_Union[AssistantTextBlock, _Mapping]] = ..., thinking: _Optional[_Union[ThinkingBlock, _Mapping]] = ..., tool_use: _Optional[_Union[ToolUseBlock, _Mapping]] = ..., tool_result: _Optional[_Union[ToolResultBlock, _Mapping]] = ..., subagent: _Optional[_Union[SubagentBlock, _Mapping]] = ..., system: _Optional[_Union[SystemBlock, _Mapping]] = ..., error: _Optional[_Union[ErrorBlock, _Mapping]] = ...) -> None: ...

class ErrorBlock(_message.Message):
    __slots__ = ["message", "reason"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    message: str
    reason: str
    def __init__(self, reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class SubagentBlock(_message.Message):
    __slots__ = ["name", "prompt", "result", "status", "subagent_id", "tool_use_id"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUBAGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    prompt: str
    result: str
    status: SubagentStatus
    subagent_id: str
    tool_use_id: str
    def __init__(self, subagent_id: _Optional[str] = ..., name: _Optional[str] = ..., prompt: _Optional[str] = ..., status: _Optional[_Union[SubagentStatus, str]] = ..., result: _Optional[str] = ..., tool_use_id: _Optional[str] = ...) -> None: ...

class SystemBlock(_message.Message):
    __slots__ = ["text"]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class ThinkingBlock(_message.Message):
    __slots__ = ["signature", "thinking"]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    THINKING_FIELD_NUMBER: _ClassVar[int]
    signature: str
    thinking: str
    def __init__(self, thinking: _Optional[str] = ..., signature: _Optional[str] = ...) -> None: ...

class ToolResultBlock(_message.Message):
    __slots__ = ["duration", "is_error", "output", "tool_use_id"]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    duration: _duration_pb2.Duration
    is_error: bool
    output: str
    tool_use_id: str
    def __init__(self, tool_use_id: _Optional[str] = ..., output: _Optional[str] = ..., is_error: bool = ..., duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ToolUseBlock(_message.Message):
    __slots__ = ["input_json", "status", "tool_name", "tool_use_id"]
    INPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    input_json: str
    status: ToolStatus
    tool_name: str
    tool_use_id: str
    def __init__(self, tool_use_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., input_json: _Optional[str] = ..., status: _Optional[_Union[ToolStatus, str]] = ...) -> None: ...

class UserMessageBlock(_message.Message):
    __slots__ = ["attachments", "text"]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    attachments: _containers.RepeatedCompositeFieldContainer[Attachment]
    text: str
    def __init__(self, text: _Optional[str] = ..., attachments: _Optional[_Iterable[_Union[Attachment, _Mapping]]] = ...) -> None: ...

class ToolStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class SubagentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
