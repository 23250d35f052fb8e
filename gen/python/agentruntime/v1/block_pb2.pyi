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
TODO_STATUS_COMPLETED: TodoStatus
TODO_STATUS_IN_PROGRESS: TodoStatus
TODO_STATUS_PENDING: TodoStatus
TODO_STATUS_UNSPECIFIED: TodoStatus
TOOL_STATUS_CANCELLED: ToolStatus
TOOL_STATUS_DENIED: ToolStatus
TOOL_STATUS_FAILED: ToolStatus
TOOL_STATUS_PENDING: ToolStatus
TOOL_STATUS_RUNNING: ToolStatus
TOOL_STATUS_SUCCEEDED: ToolStatus
TOOL_STATUS_UNSPECIFIED: ToolStatus
TOOL_STATUS_WAITING: ToolStatus

class AssistantTextBlock(_message.Message):
    __slots__ = ["citations", "text"]
    CITATIONS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    citations: _containers.RepeatedCompositeFieldContainer[Citation]
    text: str
    def __init__(self, text: _Optional[str] = ..., citations: _Optional[_Iterable[_Union[Citation, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ["assistant_text", "compaction", "create_time", "error", "id", "subagent", "subagent_id", "system", "thinking", "todo_list", "tool_result", "tool_use", "turn_id", "user_message", "web_fetch_result", "web_search_result"]
    ASSISTANT_TEXT_FIELD_NUMBER: _ClassVar[int]
    COMPACTION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBAGENT_FIELD_NUMBER: _ClassVar[int]
    SUBAGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    THINKING_FIELD_NUMBER: _ClassVar[int]
    TODO_LIST_FIELD_NUMBER: _ClassVar[int]
    TOOL_RESULT_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_FIELD_NUMBER: _ClassVar[int]
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    USER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    WEB_FETCH_RESULT_FIELD_NUMBER: _ClassVar[int]
    WEB_SEARCH_RESULT_FIELD_NUMBER: _ClassVar[int]
    assistant_text: AssistantTextBlock
    compaction: CompactionBlock
    create_time: _timestamp_pb2.Timestamp
    error: ErrorBlock
    id: str
    subagent: SubagentBlock
    subagent_id: str
    system: SystemBlock
    thinking: ThinkingBlock
    todo_list: TodoListBlock
    tool_result: ToolResultBlock
    tool_use: ToolUseBlock
    turn_id: str
    user_message: UserMessageBlock
    web_fetch_result: WebFetchResultBlock
    web_search_result: WebSearchResultBlock
    def __init__(self, id: _Optional[str] = ..., turn_id: _Optional[str] = ..., subagent_id: _Optional[str] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., user_message: _Optional[_Union[UserMessageBlock, _Mapping]] = ..., assistant_text: _Optional[_Union[AssistantTextBlock, _Mapping]] = ..., thinking: _Optional[_Union[ThinkingBlock, _Mapping]] = ..., tool_use: _Optional[_Union[ToolUseBlock, _Mapping]] = ..., tool_result: _Optional[_Union[ToolResultBlock, _Mapping]] = ..., subagent: _Optional[_Union[SubagentBlock, _Mapping]] = ..., system: _Optional[_Union[SystemBlock, _Mapping]] = ..., error: _Optional[_Union[ErrorBlock, _Mapping]] = ..., todo_list: _Optional[_Union[TodoListBlock, _Mapping]] = ..., compaction: _Optional[_Union[CompactionBlock, _Mapping]] = ..., web_search_result: _Optional[_Union[WebSearchResultBlock, _Mapping]] = ..., web_fetch_result: _Optional[_Union[WebFetchResultBlock, _Mapping]] = ...) -> None: ...

class Citation(_message.Message):
    __slots__ = ["cited_text", "title", "url"]
    CITED_TEXT_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    cited_text: str
    title: str
    url: str
    def __init__(self, url: _Optional[str] = ..., title: _Optional[str] = ..., cited_text: _Optional[str] = ...) -> None: ...

class CompactionBlock(_message.Message):
    __slots__ = ["messages_compacted", "method", "summary", "tokens_before"]
    MESSAGES_COMPACTED_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TOKENS_BEFORE_FIELD_NUMBER: _ClassVar[int]
    messages_compacted: int
    method: str
    summary: str
    tokens_before: int
    def __init__(self, summary: _Optional[str] = ..., tokens_before: _Optional[int] = ..., messages_compacted: _Optional[int] = ..., method: _Optional[str] = ...) -> None: ...

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

class TodoItem(_message.Message):
    __slots__ = ["active_form", "content", "status"]
    ACTIVE_FORM_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    active_form: str
    content: str
    status: TodoStatus
    def __init__(self, content: _Optional[str] = ..., status: _Optional[_Union[TodoStatus, str]] = ..., active_form: _Optional[str] = ...) -> None: ...

class TodoListBlock(_message.Message):
    __slots__ = ["items", "tool_use_id"]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[TodoItem]
    tool_use_id: str
    def __init__(self, items: _Optional[_Iterable[_Union[TodoItem, _Mapping]]] = ..., tool_use_id: _Optional[str] = ...) -> None: ...

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
    __slots__ = ["input_json", "server_tool", "status", "tool_name", "tool_use_id"]
    INPUT_JSON_FIELD_NUMBER: _ClassVar[int]
    SERVER_TOOL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    input_json: str
    server_tool: bool
    status: ToolStatus
    tool_name: str
    tool_use_id: str
    def __init__(self, tool_use_id: _Optional[str] = ..., tool_name: _Optional[str] = ..., input_json: _Optional[str] = ..., status: _Optional[_Union[ToolStatus, str]] = ..., server_tool: bool = ...) -> None: ...

class UserMessageBlock(_message.Message):
    __slots__ = ["attachments", "command", "command_arguments", "expanded_text", "text"]
    ATTACHMENTS_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    EXPANDED_TEXT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    attachments: _containers.RepeatedCompositeFieldContainer[Attachment]
    command: str
    command_arguments: str
    expanded_text: str
    text: str
    def __init__(self, text: _Optional[str] = ..., attachments: _Optional[_Iterable[_Union[Attachment, _Mapping]]] = ..., command: _Optional[str] = ..., command_arguments: _Optional[str] = ..., expanded_text: _Optional[str] = ...) -> None: ...

class WebFetchResultBlock(_message.Message):
    __slots__ = ["content", "error_code", "title", "tool_use_id", "url"]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    content: str
    error_code: str
    title: str
    tool_use_id: str
    url: str
    def __init__(self, tool_use_id: _Optional[str] = ..., url: _Optional[str] = ..., title: _Optional[str] = ..., content: _Optional[str] = ..., error_code: _Optional[str] = ...) -> None: ...

class WebSearchResult(_message.Message):
    __slots__ = ["page_age", "title", "url"]
    PAGE_AGE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    page_age: str
    title: str
    url: str
    def __init__(self, url: _Optional[str] = ..., title: _Optional[str] = ..., page_age: _Optional[str] = ...) -> None: ...

class WebSearchResultBlock(_message.Message):
    __slots__ = ["error_code", "results", "tool_use_id"]
    ERROR_CODE_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    TOOL_USE_ID_FIELD_NUMBER: _ClassVar[int]
    error_code: str
    results: _containers.RepeatedCompositeFieldContainer[WebSearchResult]
    tool_use_id: str
    def __init__(self, tool_use_id: _Optional[str] = ..., results: _Optional[_Iterable[_Union[WebSearchResult, _Mapping]]] = ..., error_code: _Optional[str] = ...) -> None: ...

class ToolStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class SubagentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class TodoStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
