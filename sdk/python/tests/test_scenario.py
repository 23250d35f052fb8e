"""The client scenario against a real server, through grpcio and the generated stubs."""

from __future__ import annotations

import hashlib

import grpc
import pytest
from conftest import API_KEY, OTHER_API_KEY

from agentruntime_client import (
    Client,
    profile_pb2,
    profile_service_pb2,
    session_service_pb2,
    workspace_service_pb2,
)

UNKNOWN_SESSION_ID = "ses_00000000000000000000000000"
TIMEOUT = 30


@pytest.fixture()
def client(server):
    with Client(server.target, API_KEY) as c:
        yield c


def expect_code(call, code: grpc.StatusCode) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == code, f"got {info.value.code()} ({info.value.details()}), want {code}"
    return info.value


def test_scenario(client, server):
    # A profile.
    profile = client.profiles.CreateAgentProfile(
        profile_service_pb2.CreateAgentProfileRequest(
            profile=profile_pb2.AgentProfile(
                name="scenario profile",
                system_prompt="You are a careful test agent.",
                tools=["Read", "Write"],
            )
        ),
        timeout=TIMEOUT,
    ).profile
    assert profile.id.startswith("prf_") and len(profile.id) == 30
    assert list(profile.tools) == ["Read", "Write"]
    assert profile.system_prompt == "You are a careful test agent."

    # A session, read back.
    session = client.sessions.CreateSession(
        session_service_pb2.CreateSessionRequest(
            agent_profile_id=profile.id,
            name="first session",
            metadata={"team": "sdk", "suite": "python"},
        ),
        timeout=TIMEOUT,
    ).session
    assert session.id.startswith("ses_") and len(session.id) == 30
    got = client.sessions.GetSession(
        session_service_pb2.GetSessionRequest(session_id=session.id), timeout=TIMEOUT
    ).session
    assert got.id == session.id
    assert got.name == "first session"
    assert got.agent_profile_id == profile.id
    assert dict(got.metadata) == {"team": "sdk", "suite": "python"}

    # Two more sessions, listed two per page.
    ids = {session.id}
    for i in range(2):
        more = client.sessions.CreateSession(
            session_service_pb2.CreateSessionRequest(
                agent_profile_id=profile.id, name=f"extra session {i}"
            ),
            timeout=TIMEOUT,
        ).session
        ids.add(more.id)
    listed = []
    page_token = ""
    pages = 0
    while True:
        page = client.sessions.ListSessions(
            session_service_pb2.ListSessionsRequest(
                page_size=2, page_token=page_token, agent_profile_id=profile.id
            ),
            timeout=TIMEOUT,
        )
        pages += 1
        assert len(page.sessions) <= 2
        listed.extend(s.id for s in page.sessions)
        page_token = page.next_page_token
        if not page_token or pages > 10:
            break
    assert pages == 2
    assert len(listed) == len(set(listed)), f"duplicates in {listed}"
    assert set(listed) == ids
    assert page_token == ""

    # A binary file with every byte value.
    content = bytes(range(256))
    sha = hashlib.sha256(content).hexdigest()
    written = client.workspace.WriteFile(
        workspace_service_pb2.WriteFileRequest(
            session_id=session.id, path="data/bytes.bin", content=content
        ),
        timeout=TIMEOUT,
    ).file
    assert (written.path, written.size, written.sha256) == ("data/bytes.bin", 256, sha)
    read = client.workspace.ReadFile(
        workspace_service_pb2.ReadFileRequest(session_id=session.id, path="data/bytes.bin"),
        timeout=TIMEOUT,
    )
    assert read.content == content
    files = client.workspace.ListFiles(
        workspace_service_pb2.ListFilesRequest(session_id=session.id), timeout=TIMEOUT
    ).files
    entry = [f for f in files if f.path == "data/bytes.bin"]
    assert len(entry) == 1, f"ListFiles returned {[f.path for f in files]}"
    assert (entry[0].size, entry[0].sha256) == (256, sha)

    # Another tenant cannot see the session.
    with Client(server.target, OTHER_API_KEY) as other:
        expect_code(
            lambda: other.sessions.GetSession(
                session_service_pb2.GetSessionRequest(session_id=session.id), timeout=TIMEOUT
            ),
            grpc.StatusCode.NOT_FOUND,
        )

    # Delete the sessions, then the profile (which fails while sessions use it).
    for session_id in ids:
        client.sessions.DeleteSession(
            session_service_pb2.DeleteSessionRequest(session_id=session_id), timeout=TIMEOUT
        )
    expect_code(
        lambda: client.sessions.GetSession(
            session_service_pb2.GetSessionRequest(session_id=session.id), timeout=TIMEOUT
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    client.profiles.DeleteAgentProfile(
        profile_service_pb2.DeleteAgentProfileRequest(agent_profile_id=profile.id),
        timeout=TIMEOUT,
    )


def test_unknown_session_is_not_found(client):
    expect_code(
        lambda: client.sessions.GetSession(
            session_service_pb2.GetSessionRequest(session_id=UNKNOWN_SESSION_ID), timeout=TIMEOUT
        ),
        grpc.StatusCode.NOT_FOUND,
    )


def test_malformed_session_id_is_invalid_argument(client):
    expect_code(
        lambda: client.sessions.GetSession(
            session_service_pb2.GetSessionRequest(session_id="bad"), timeout=TIMEOUT
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


@pytest.mark.parametrize("api_key", ["", "not-a-configured-key"], ids=["missing", "wrong"])
def test_bad_api_key_is_unauthenticated(server, api_key):
    with Client(server.target, api_key) as c:
        expect_code(
            lambda: c.sessions.GetSession(
                session_service_pb2.GetSessionRequest(session_id=UNKNOWN_SESSION_ID),
                timeout=TIMEOUT,
            ),
            grpc.StatusCode.UNAUTHENTICATED,
        )
