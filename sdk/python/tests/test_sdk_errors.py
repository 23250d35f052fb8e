"""Typed errors: the code, reason, field and metadata of the server's errors as exception fields."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from conftest import API_KEY

from agentruntime_client import (
    AgentRuntime,
    AgentRuntimeError,
    AsyncAgentRuntime,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    Unavailable,
    errors,
)

UNKNOWN_SESSION_ID = "ses_00000000000000000000000000"


def test_not_found_carries_reason_field_and_metadata(rt):
    with pytest.raises(NotFound) as raised:
        rt.get_session(UNKNOWN_SESSION_ID)
    err = raised.value
    assert isinstance(err, AgentRuntimeError)
    assert err.code == "NOT_FOUND" and err.status_code == grpc.StatusCode.NOT_FOUND
    assert err.reason == "SESSION_NOT_FOUND"
    assert err.field == "session_id"
    assert err.metadata["id"] == UNKNOWN_SESSION_ID
    assert err.domain == "agentruntime.v1"
    assert err.message and not err.retryable
    assert str(err).startswith("[NOT_FOUND SESSION_NOT_FOUND field=session_id] ")


def test_invalid_argument_names_the_field(rt):
    with pytest.raises(InvalidArgument) as raised:
        rt.create_profile(name="", tools=["Read"])
    assert raised.value.reason == "INVALID_FIELD"
    assert raised.value.field == "profile.name"
    with pytest.raises(InvalidArgument) as raised:
        rt.get_session("bad")
    assert raised.value.field == "session_id"


def test_unauthenticated(server):
    with AgentRuntime(f"http://{server.target}", api_key="not-a-configured-key") as client:
        with pytest.raises(Unauthenticated) as raised:
            client.get_session(UNKNOWN_SESSION_ID)
    assert raised.value.code == "UNAUTHENTICATED" and raised.value.reason


def test_errors_of_the_feed_are_typed(rt):
    # The first read of the stream fails: raised from the iteration, not swallowed by resuming.
    with pytest.raises(NotFound) as raised:
        next(iter(rt.watch(UNKNOWN_SESSION_ID, timeout=30)))
    assert raised.value.field == "session_id"
    with pytest.raises(NotFound):
        rt.run_turn(UNKNOWN_SESSION_ID, "hello")


def test_an_unreachable_server_is_unavailable():
    with AgentRuntime("http://127.0.0.1:1", api_key=API_KEY, timeout=10) as client:
        with pytest.raises(Unavailable) as raised:
            client.get_session(UNKNOWN_SESSION_ID)
    assert raised.value.retryable and raised.value.reason == ""


def test_asyncio_errors_are_typed(server):
    async def main():
        async with AsyncAgentRuntime(f"http://{server.target}", api_key=API_KEY) as client:
            with pytest.raises(NotFound) as raised:
                await client.get_session(UNKNOWN_SESSION_ID)
            assert (raised.value.reason, raised.value.field) == ("SESSION_NOT_FOUND", "session_id")
            with pytest.raises(NotFound):
                async for _ in client.watch(UNKNOWN_SESSION_ID):
                    pass
            # A profile in use by a session cannot be deleted.
            demo = await client.find_profile("demo")
            await client.create_session(demo.id)
            with pytest.raises(FailedPrecondition) as raised:
                await client.delete_profile(demo.id)
            assert raised.value.reason
            with pytest.raises(NotFound) as raised:
                await client.find_profile("no such profile")
            assert raised.value.reason == "PROFILE_NOT_FOUND"

    asyncio.run(main())


def test_status_without_details_keeps_code_and_message():
    err = errors.from_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many", ())
    assert type(err) is errors.ResourceExhausted
    assert (err.code, err.message, err.reason, err.field, err.metadata) == (
        "RESOURCE_EXHAUSTED",
        "too many",
        "",
        "",
        {},
    )
    garbled = errors.from_status(
        grpc.StatusCode.INTERNAL, "", (("grpc-status-details-bin", b"\xff\x00garbage"),)
    )
    assert type(garbled) is errors.Internal and garbled.message == "INTERNAL"
    assert errors.error_class(grpc.StatusCode.OK) is AgentRuntimeError
