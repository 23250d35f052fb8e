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
SANDBOX_PROVIDER_KIND_LOCAL: SandboxProviderKind
SANDBOX_PROVIDER_KIND_MODAL: SandboxProviderKind
SANDBOX_PROVIDER_KIND_UNSPECIFIED: SandboxProviderKind

class AgentProfile(_message.Message):
    __slots__ = ["create_time", "default_files", "description", "id", "max_output_tokens", "max_turns", "model", "model_provider", "name", "sandbox", "subagents", "system_prompt", "thinking", "tools", "update_time"]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FILES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_TURNS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    SUBAGENTS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_FIELD_NUMBER: _ClassVar[int]
    THINKING_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    create_time: _timestamp_pb2.Timestamp
    default_files: _containers.RepeatedCompositeFieldContainer[_workspace_pb2.WorkspaceFile]
    description: str
    id: str
    max_output_tokens: int
    max_turns: int
    model: str
    model_provider: ModelProvider
    name: str
    sandbox: SandboxSettings
    subagents: _containers.RepeatedCompositeFieldContainer[SubagentDefinition]
    system_prompt: str
    thinking: ThinkingSettings
    tools: _containers.RepeatedScalarFieldContainer[str]
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., system_prompt: _Optional[str] = ..., model_provider: _Optional[_Union[ModelProvider, str]] = ..., model: _Optional[str] = ..., tools: _Optional[_Iterable[str]] = ..., max_turns: _Optional[int] = ..., subagents: _Optional[_Iterable[_Union[SubagentDefinition, _Mapping]]] = ..., default_files: _Optional[_Iterable[_Union[_workspace_pb2.WorkspaceFile, _Mapping]]] = ..., sandbox: _Optional[_Union[SandboxSettings, _Mapping]] = ..., thinking: _Optional[_Union[ThinkingSettings, _Mapping]] = ..., max_output_tokens: _Optional[int] = ..., create_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SandboxSettings(_message.Message):
    __slots__ = ["cpu", "env", "image", "memory_mib", "network_allowed", "provider", "provider_options"]
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
    CPU_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    NETWORK_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    cpu: float
    env: _containers.ScalarMap[str, str]
    image: str
    memory_mib: int
    network_allowed: bool
    provider: SandboxProviderKind
    provider_options: _containers.ScalarMap[str, str]
    def __init__(self, provider: _Optional[_Union[SandboxProviderKind, str]] = ..., network_allowed: bool = ..., env: _Optional[_Mapping[str, str]] = ..., image: _Optional[str] = ..., cpu: _Optional[float] = ..., memory_mib: _Optional[int] = ..., provider_options: _Optional[_Mapping[str, str]] = ...) -> None: ...

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

class ModelProvider(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class SandboxProviderKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
