"""Typed errors: every failed call raises a subclass of :class:`AgentRuntimeError`.

The server attaches ``google.rpc.ErrorInfo`` and ``agentruntime.v1.ErrorDetail`` to the status of
every error; their reason, field and metadata become attributes here, so a caller writes::

    try:
        client.get_session("ses_...")
    except NotFound as err:
        print(err.reason, err.field)  # SESSION_NOT_FOUND session_id
"""

from __future__ import annotations

from typing import Dict, Mapping, Optional, Type

import grpc
from google.rpc import error_details_pb2, status_pb2

from agentruntime.v1 import error_detail_pb2

_STATUS_DETAILS_KEY = "grpc-status-details-bin"


class AgentRuntimeError(Exception):
    """A failed call.

    ``code`` is the canonical gRPC code name (``"NOT_FOUND"``), ``status_code`` the
    ``grpc.StatusCode``, ``reason`` the server's UPPER_SNAKE reason (``"SESSION_NOT_FOUND"``;
    empty for errors raised by the transport, such as a deadline), ``field`` the request field
    at fault (or ``""``), ``metadata`` the rest of the detail (``{"id": ...}``).
    """

    status_code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        reason: str = "",
        field: str = "",
        metadata: Optional[Mapping[str, str]] = None,
        domain: str = "",
        status_code: Optional[grpc.StatusCode] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.field = field
        self.metadata: Dict[str, str] = dict(metadata or {})
        self.domain = domain
        if status_code is not None:
            self.status_code = status_code

    @property
    def code(self) -> str:
        return self.status_code.name

    @property
    def retryable(self) -> bool:
        """Whether the same call may succeed later (the server or the network was unavailable)."""
        return self.status_code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)

    def __str__(self) -> str:
        parts = [self.code]
        if self.reason:
            parts.append(self.reason)
        if self.field:
            parts.append(f"field={self.field}")
        return f"[{' '.join(parts)}] {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, reason={self.reason!r}, "
            f"field={self.field!r}, message={self.message!r})"
        )


class Cancelled(AgentRuntimeError):
    status_code = grpc.StatusCode.CANCELLED


class Unknown(AgentRuntimeError):
    status_code = grpc.StatusCode.UNKNOWN


class InvalidArgument(AgentRuntimeError):
    status_code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceeded(AgentRuntimeError):
    status_code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFound(AgentRuntimeError):
    status_code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(AgentRuntimeError):
    status_code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDenied(AgentRuntimeError):
    status_code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(AgentRuntimeError):
    status_code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(AgentRuntimeError):
    status_code = grpc.StatusCode.FAILED_PRECONDITION


class Aborted(AgentRuntimeError):
    status_code = grpc.StatusCode.ABORTED


class OutOfRange(AgentRuntimeError):
    status_code = grpc.StatusCode.OUT_OF_RANGE


class Unimplemented(AgentRuntimeError):
    status_code = grpc.StatusCode.UNIMPLEMENTED


class Internal(AgentRuntimeError):
    status_code = grpc.StatusCode.INTERNAL


class Unavailable(AgentRuntimeError):
    status_code = grpc.StatusCode.UNAVAILABLE


class DataLoss(AgentRuntimeError):
    status_code = grpc.StatusCode.DATA_LOSS


class Unauthenticated(AgentRuntimeError):
    status_code = grpc.StatusCode.UNAUTHENTICATED


_BY_CODE: Dict[grpc.StatusCode, Type[AgentRuntimeError]] = {
    cls.status_code: cls
    for cls in (
        Cancelled,
        Unknown,
        InvalidArgument,
        DeadlineExceeded,
        NotFound,
        AlreadyExists,
        PermissionDenied,
        ResourceExhausted,
        FailedPrecondition,
        Aborted,
        OutOfRange,
        Unimplemented,
        Internal,
        Unavailable,
        DataLoss,
        Unauthenticated,
    )
}


def error_class(status_code: grpc.StatusCode) -> Type[AgentRuntimeError]:
    """The exception class raised for a gRPC status code."""
    return _BY_CODE.get(status_code, AgentRuntimeError)


def _trailer(metadata, key: str) -> Optional[bytes]:
    for item in metadata or ():
        k, v = (item.key, item.value) if hasattr(item, "key") else item
        if k == key:
            return v if isinstance(v, bytes) else None
    return None


def from_status(
    status_code: grpc.StatusCode, message: str, trailing_metadata=None
) -> AgentRuntimeError:
    """Builds the typed error from a status code, its message and the call's trailers."""
    reason, field, domain = "", "", ""
    metadata: Dict[str, str] = {}
    raw = _trailer(trailing_metadata, _STATUS_DETAILS_KEY)
    if raw:
        status = status_pb2.Status()
        try:
            status.ParseFromString(raw)
        except Exception:  # a malformed trailer: keep the code and message
            status = status_pb2.Status()
        for detail in status.details:
            if detail.Is(error_detail_pb2.ErrorDetail.DESCRIPTOR):
                ours = error_detail_pb2.ErrorDetail()
                detail.Unpack(ours)
                reason, field, domain = ours.reason, ours.field, ours.domain
                metadata = dict(ours.metadata)
                break
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR) and not reason:
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, domain = info.reason, info.domain
                metadata = dict(info.metadata)
                field = metadata.get("field", "")
    cls = error_class(status_code)
    return cls(
        message or status_code.name,
        reason=reason,
        field=field,
        metadata=metadata,
        domain=domain,
        status_code=status_code,
    )


def from_rpc_error(err: grpc.RpcError) -> AgentRuntimeError:
    """The typed error for a ``grpc.RpcError`` (sync) or ``grpc.aio.AioRpcError``."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    trailers = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    return from_status(code or grpc.StatusCode.UNKNOWN, details or "", trailers)


__all__ = [
    "AgentRuntimeError",
    "Aborted",
    "AlreadyExists",
    "Cancelled",
    "DataLoss",
    "DeadlineExceeded",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "error_class",
    "from_rpc_error",
    "from_status",
]
