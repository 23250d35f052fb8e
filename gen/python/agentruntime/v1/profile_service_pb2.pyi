from agentruntime.v1 import profile_pb2 as _profile_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateAgentProfileRequest(_message.Message):
    __slots__ = ["profile", "request_id"]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    profile: _profile_pb2.AgentProfile
    request_id: str
    def __init__(self, profile: _Optional[_Union[_profile_pb2.AgentProfile, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateAgentProfileResponse(_message.Message):
    __slots__ = ["profile"]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: _profile_pb2.AgentProfile
    def __init__(self, profile: _Optional[_Union[_profile_pb2.AgentProfile, _Mapping]] = ...) -> None: ...

class DeleteAgentProfileRequest(_message.Message):
    __slots__ = ["agent_profile_id"]
    AGENT_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    agent_profile_id: str
    def __init__(self, agent_profile_id: _Optional[str] = ...) -> None: ...

class DeleteAgentProfileResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetAgentProfileRequest(_message.Message):
    __slots__ = ["agent_profile_id"]
    AGENT_PROFILE_ID_FIELD_NUMBER: _ClassVar[int]
    agent_profile_id: str
    def __init__(self, agent_profile_id: _Optional[str] = ...) -> None: ...

class GetAgentProfileResponse(_message.Message):
    __slots__ = ["profile"]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: _profile_pb2.AgentProfile
    def __init__(self, profile: _Optional[_Union[_profile_pb2.AgentProfile, _Mapping]] = ...) -> None: ...

class ListAgentProfilesRequest(_message.Message):
    __slots__ = ["page_size", "page_token"]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAgentProfilesResponse(_message.Message):
    __slots__ = ["next_page_token", "profiles"]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PROFILES_FIELD_NUMBER: _ClassVar[int]
    next_page_token: str
    profiles: _containers.RepeatedCompositeFieldContainer[_profile_pb2.AgentProfile]
    def __init__(self, profiles: _Optional[_Iterable[_Union[_profile_pb2.AgentProfile, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateAgentProfileRequest(_message.Message):
    __slots__ = ["profile", "update_mask"]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    profile: _profile_pb2.AgentProfile
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, profile: _Optional[_Union[_profile_pb2.AgentProfile, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateAgentProfileResponse(_message.Message):
    __slots__ = ["profile"]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: _profile_pb2.AgentProfile
    def __init__(self, profile: _Optional[_Union[_profile_pb2.AgentProfile, _Mapping]] = ...) -> None: ...
