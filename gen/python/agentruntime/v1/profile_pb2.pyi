from agentruntime.v1 import workspace_pb2 as _workspace_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
MODEL_PROVIDER_ANTHROPIC: ModelProvider
MODEL_PROVIDER_DEMO: ModelProvider
MODEL_PROVIDER_UNSPECIFIED: ModelProvider
PERMISSION_MODE_ALLOW: PermissionMode
PERMISSION_MODE_ASK: PermissionMode
PERMISSION_MODE_DENY: PermissionMode
PERMISSION_MODE_UNSPECIFIED: PermissionMode
SANDBOX_PROVIDER_KIND_LOCAL: SandboxProviderKind
SANDBOX_PROVIDER_KIND_MODAL: SandboxProviderKind
SANDBOX_PROVIDER_KIND_UNSPECIFIED: SandboxProviderKind

class AgentProfile(_message.Message):
    __slots__ = ["budget", "commands", "context", "create_time", "custom_tools", "default_files", "dependencies", "description", "id", "instructions", "max_output_tokens", "max_turns", "mcp_servers", "model", "model_provider", "name", "permissions", "sandbox", "skills", "subagents", "system_prompt", "thinking", "tools", "update_time"]
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_TOOLS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FILES_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_TURNS_FIELD_NUMBER: _ClassVar[int]
    MCP_SERVERS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    SUBAGENTS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_FIELD_NUMBER: _ClassVar[int]
    THINKING_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    budget: Budget
    commands: _containers.RepeatedCompositeFieldContainer[Command]
    context: ContextSettings
    create_time: _timestamp_pb2.Timestamp
    custom_tools: _containers.RepeatedCompositeFieldContainer[CustomTool]
    default_files: _containers.RepeatedCompositeFieldContainer[_workspace_pb2.WorkspaceFile]
    dependencies: Dependencies
    description: str
    id: str
    instructions: InstructionsSettings
    max_output_tokens: int
    max_turns: int
    mcp_servers: _containers.RepeatedCompositeFieldContainer[McpServer]
    model: str
    model_provider: ModelProvider
    name: str
    permissions: PermissionSettings
    sandbox: SandboxSettings
    skills: _containers.RepeatedCompositeFieldContainer[Skill]
    subagents: _containers.RepeatedCompositeFieldContainer[SubagentDefinition]
    system_prompt: str
    thinking: ThinkingSettings
    tools: _containers.RepeatedScalarFieldContainer[str]
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., system_prompt: _Optional[str] = ..., model_provider: _Optional[_Union[ModelProvider, str]] = ..., model: _Optional[str] = ..., tools: _Optional[_Iterable[str]] = ..., max_turns: _Optional[int] = ..., subagents: _Optional[_Iterable[_Union[SubagentDefinition, _Mapping]]] = ..., default_files: _Optional[_Iterable[_Union[_workspace_pb2.WorkspaceFile, _Mapping]]] = ..., sandbox: _Optional[_Union[SandboxSettings, _Mapping]] = ..., thinking: _Optional[_Union[ThinkingSettings, _Mapping]] = ..., max_output_tokens: _Optional[int] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., instructions: _Optional[_Union[InstructionsSettings, _Mapping]] = ..., skills: _Optional[_Iterable[_Union[Skill, _Mapping]]] = ..., commands: _Optional[_Iterable[_Union[Command, _Mapping]]] = ..., mcp_servers: _Optional[_Iterable[_Union[McpServer, _Mapping]]] = ..., dependencies: _Optional[_Union[Dependencies, _Mapping]] = ..., context: _Optional[_Union[ContextSettings, _Mapping]] = ..., permissions: _Optional[_Union[PermissionSettings, _Mapping]] = ..., custom_tools: _Optional[_Iterable[_Union[CustomTool, _Mapping]]] = ..., budget: _Optional[_Union[Budget, _Mapping]] = ...) -> None: ...

class Budget(_message.Message):
    __slots__ = ["max_session_cost_usd", "max_session_tokens", "max_turn_cost_usd", "max_turn_tokens"]
    MAX_SESSION_COST_USD_FIELD_NUMBER: _ClassVar[int]
    MAX_SESSION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_TURN_COST_USD_FIELD_NUMBER: _ClassVar[int]
    MAX_TURN_TOKENS_FIELD_NUMBER: _ClassVar[int]
    max_session_cost_usd: float
    max_session_tokens: int
    max_turn_cost_usd: float
    max_turn_tokens: int
    def __init__(self, max_turn_cost_usd: _Optional[float] = ..., max_turn_tokens: _Optional[int] = ..., max_session_cost_usd: _Optional[float] = ..., max_session_tokens: _Optional[int] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ["description", "name", "prompt"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    description: str
    name: str
    prompt: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., prompt: _Optional[str] = ...) -> None: ...

class ContextSettings(_message.Message):
    __slots__ = ["clear_tool_results_keep", "clear_tool_results_threshold_tokens", "compaction_disabled", "compaction_threshold_tokens"]
    CLEAR_TOOL_RESULTS_KEEP_FIELD_NUMBER: _ClassVar[int]
    CLEAR_TOOL_RESULTS_THRESHOLD_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPACTION_DISABLED_FIELD_NUMBER: _ClassVar[int]
    COMPACTION_THRESHOLD_TOKENS_FIELD_NUMBER: _ClassVar[int]
    clear_tool_results_keep: int
    clear_tool_results_threshold_tokens: int
    compaction_disabled: bool
    compaction_threshold_tokens: int
    def __init__(self, compaction_threshold_tokens: _Optional[int] = ..., compaction_disabled: bool = ..., clear_tool_results_threshold_tokens: _Optional[int] = ..., clear_tool_results_keep: _Optional[int] = ...) -> None: ...

class CustomTool(_message.Message):
    __slots__ = ["description", "input_schema_json", "name"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_JSON_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    description: str
    input_schema_json: str
    name: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., input_schema_json: _Optional[str] = ...) -> None: ...

class Dependencies(_message.Message):
    __slots__ = ["npm", "pip"]
    NPM_FIELD_NUMBER: _ClassVar[int]
    PIP_FIELD_NUMBER: _ClassVar[int]
    npm: _containers.RepeatedScalarFieldContainer[str]
    pip: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, npm: _Optional[_Iterable[str]] = ..., pip: _Optional[_Iterable[str]] = ...) -> None: ...

class InstructionsSettings(_message.Message):
    __slots__ = ["content", "file_name"]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    content: str
    file_name: str
    def __init__(self, file_name: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class McpHttpServer(_message.Message):
    __slots__ = ["headers", "secret_headers", "url"]
    class HeadersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class SecretHeadersEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    SECRET_HEADERS_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    headers: _containers.ScalarMap[str, str]
    secret_headers: _containers.ScalarMap[str, str]
    url: str
    def __init__(self, url: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., secret_headers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class McpServer(_message.Message):
    __slots__ = ["allowed_tools", "http", "name", "stdio"]
    ALLOWED_TOOLS_FIELD_NUMBER: _ClassVar[int]
    HTTP_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STDIO_FIELD_NUMBER: _ClassVar[int]
    allowed_tools: _containers.RepeatedScalarFieldContainer[str]
    http: McpHttpServer
    name: str
    stdio: McpStdioServer
    def __init__(self, name: _Optional[str] = ..., http: _Optional[_Union[McpHttpServer, _Mapping]] = ..., stdio: _Optional[_Union[McpStdioServer, _Mapping]] = ..., allowed_tools: _Optional[_Iterable[str]] = ...) -> None: ...

class McpStdioServer(_message.Message):
    __slots__ = ["args", "command", "env", "secret_env"]
    class EnvEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class SecretEnvEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ARGS_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    SECRET_ENV_FIELD_NUMBER: _ClassVar[int]
    args: _containers.RepeatedScalarFieldContainer[str]
    command: str
    env: _containers.ScalarMap[str, str]
    secret_env: _containers.ScalarMap[str, str]
    def __init__(self, command: _Optional[str] = ..., args: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., secret_env: _Optional[_Mapping[str, str]] = ...) -> None: ...

class PermissionSettings(_message.Message):
    __slots__ = ["allow", "allow_on_timeout", "approval_timeout_seconds", "ask", "deny", "mode"]
    ALLOW_FIELD_NUMBER: _ClassVar[int]
    ALLOW_ON_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ASK_FIELD_NUMBER: _ClassVar[int]
    DENY_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    allow: _containers.RepeatedScalarFieldContainer[str]
    allow_on_timeout: bool
    approval_timeout_seconds: int
    ask: _containers.RepeatedScalarFieldContainer[str]
    deny: _containers.RepeatedScalarFieldContainer[str]
    mode: PermissionMode
    def __init__(self, mode: _Optional[_Union[PermissionMode, str]] = ..., allow: _Optional[_Iterable[str]] = ..., ask: _Optional[_Iterable[str]] = ..., deny: _Optional[_Iterable[str]] = ..., approval_timeout_seconds: _Optional[int] = ..., allow_on_timeout: bool = ...) -> None: ...

class SandboxSettings(_message.Message):
    __slots__ = ["cpu", "env", "image", "memory_mib", "network_allowed", "provider", "provider_options", "secret_env"]
    class EnvEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ProviderOptionsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class SecretEnvEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CPU_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    SECRET_ENV_FIELD_NUMBER: _ClassVar[int]
    cpu: float
    env: _containers.ScalarMap[str, str]
    image: str
    memory_mib: int
    network_allowed: bool
    provider: SandboxProviderKind
    provider_options: _containers.ScalarMap[str, str]
    secret_env: _containers.ScalarMap[str, str]
    def __init__(self, provider: _Optional[_Union[SandboxProviderKind, str]] = ..., network_allowed: bool = ..., env: _Optional[_Mapping[str, str]] = ..., image: _Optional[str] = ..., cpu: _Optional[float] = ..., memory_mib: _Optional[int] = ..., provider_options: _Optional[_Mapping[str, str]] = ..., secret_env: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Skill(_message.Message):
    __slots__ = ["body", "dependencies", "description", "files", "name"]
    BODY_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    body: str
    dependencies: Dependencies
    description: str
    files: _containers.RepeatedCompositeFieldContainer[_workspace_pb2.WorkspaceFile]
    name: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., body: _Optional[str] = ..., files: _Optional[_Iterable[_Union[_workspace_pb2.WorkspaceFile, _Mapping]]] = ..., dependencies: _Optional[_Union[Dependencies, _Mapping]] = ...) -> None: ...

class SubagentDefinition(_message.Message):
    __slots__ = ["description", "model", "name", "prompt", "tools"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    description: str
    model: str
    name: str
    prompt: str
    tools: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., prompt: _Optional[str] = ..., tools: _Optional[_Iterable[str]] = ..., model: _Optional[str] = ...) -> None: ...

class ThinkingSettings(_message.Message):
    __slots__ = ["budget_tokens", "enabled"]
    BUDGET_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    budget_tokens: int
    enabled: bool
    def __init__(self, enabled: bool = ..., budget_tokens: _Optional[int] = ...) -> None: ...

class PermissionMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ModelProvider(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class SandboxProviderKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
