"""Error details decode with the stock libraries: grpcio-status and googleapis-common-protos."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import grpc
import pytest
from conftest import API_KEY
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from agentruntime_client import (
    Client,
    error_detail_pb2,
    profile_pb2,
    profile_service_pb2,
    session_pb2,
    session_service_pb2,
)

UNKNOWN_SESSION_ID = "ses_00000000000000000000000000"
TIMEOUT = 30


@dataclass
class Decoded:
    code: grpc.StatusCode
    info: error_details_pb2.ErrorInfo
    bad_request: Optional[error_details_pb2.BadRequest]
    detail: Optional[error_detail_pb2.ErrorDetail]


def decode(call) -> Decoded:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    status = rpc_status.from_call(raised.value)
    assert status is not None, f"no google.rpc.Status in the trailers of {raised.value}"
    info, bad_request, detail = None, None, None
    for any_detail in status.details:
        if any_detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            any_detail.Unpack(info)
        elif any_detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            any_detail.Unpack(bad_request)
        elif any_detail.Is(error_detail_pb2.ErrorDetail.DESCRIPTOR):
            detail = error_detail_pb2.ErrorDetail()
            any_detail.Unpack(detail)
    assert info is not None, f"no google.rpc.ErrorInfo in {status.details}"
    assert info.domain == "agentruntime.v1"
    return Decoded(raised.value.code(), info, bad_request, detail)


@pytest.fixture()
def client(server):
    with Client(server.target, API_KEY) as c:
        yield c


@pytest.mark.parametrize(
    "make_call, field",
    [
        (
            lambda c: c.sessions.GetSession(
                session_service_pb2.GetSessionRequest(session_id="bad"), timeout=TIMEOUT
            ),
            "session_id",
        ),
        (
            lambda c: c.profiles.CreateAgentProfile(
                profile_service_pb2.CreateAgentProfileRequest(
                    profile=profile_pb2.AgentProfile(name="", tools=["Read"])
                ),
                timeout=TIMEOUT,
            ),
            "profile.name",
        ),
    ],
    ids=["session_id", "profile.name"],
)
def test_invalid_argument_names_the_field(client, make_call, field):
    d = decode(lambda: make_call(client))
    assert d.code == grpc.StatusCode.INVALID_ARGUMENT
    assert d.info.reason == "INVALID_FIELD"
    assert d.info.metadata["field"] == field
    assert d.bad_request is not None, "no google.rpc.BadRequest"
    assert [v.field for v in d.bad_request.field_violations] == [field]
    assert d.bad_request.field_violations[0].description
    assert d.detail is not None and d.detail.field == field


def test_not_found_names_the_field(client):
    d = decode(
        lambda: client.sessions.GetSession(
            session_service_pb2.GetSessionRequest(session_id=UNKNOWN_SESSION_ID), timeout=TIMEOUT
        )
    )
    assert d.code == grpc.StatusCode.NOT_FOUND
    assert d.info.reason == "SESSION_NOT_FOUND"
    assert dict(d.info.metadata) == {"field": "session_id", "id": UNKNOWN_SESSION_ID}
    assert d.detail is not None and d.detail.field == "session_id"
    assert d.bad_request is None

    # An id inside a message: the path to it.
    d = decode(
        lambda: client.sessions.UpdateSession(
            session_service_pb2.UpdateSessionRequest(
                session=session_pb2.Session(id=UNKNOWN_SESSION_ID, name="renamed"),
                update_mask=field_mask_pb2.FieldMask(paths=["name"]),
            ),
            timeout=TIMEOUT,
        )
    )
    assert d.code == grpc.StatusCode.NOT_FOUND
    assert d.info.metadata["field"] == "session.id"
