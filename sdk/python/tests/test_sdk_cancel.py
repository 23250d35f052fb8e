"""Stopping: a sync timeout, close() from another thread, cancelling the turn; asyncio task
cancellation and timeouts."""

from __future__ import annotations

import asyncio
import threading

import pytest
from conftest import API_KEY

from agentruntime_client import AsyncAgentRuntime, Cancelled, DeadlineExceeded

TIMEOUT = 60


def demo_session(rt):
    return rt.create_session(rt.find_profile("demo").id)


def test_sync_timeout_raises_deadline_exceeded(rt):
    session = demo_session(rt)
    run = rt.run_turn(session.id, "hello", timeout=0.3)  # the demo turn takes seconds
    with pytest.raises(DeadlineExceeded):
        run.wait()
    # The turn itself went on and ends by itself.
    after = rt.watch(session.id, timeout=TIMEOUT)
    for event in after:
        if event.WhichOneof("payload") == "turn_completed":
            break
    after.close()
    assert event.turn_id == run.turn_id


def test_close_from_another_thread_stops_the_iteration(rt):
    session = demo_session(rt)
    run = rt.run_turn(session.id, "hello", timeout=TIMEOUT)
    seen = []
    first = threading.Event()

    def consume():
        for event in run:
            seen.append(event)
            first.set()

    worker = threading.Thread(target=consume)
    worker.start()
    assert first.wait(TIMEOUT)
    run.close()
    worker.join(TIMEOUT)
    assert not worker.is_alive()
    assert run.result is None and seen
    with pytest.raises(Cancelled):
        run.wait()


def test_cancel_ends_the_turn_on_the_server(rt):
    session = demo_session(rt)
    run = rt.run_turn(session.id, "hello", timeout=TIMEOUT)
    cancelled = []
    for event in run:
        if event.WhichOneof("payload") == "block_delta" and not cancelled:
            cancelled.append(run.cancel())
    assert cancelled == [True]
    assert run.result.outcome == "CANCELLED"
    assert rt.cancel_turn(session.id) is False  # nothing runs any more


def test_asyncio_cancellation_and_timeout(server):
    async def main():
        async with AsyncAgentRuntime(f"http://{server.target}", api_key=API_KEY) as client:
            profile = await client.find_profile("demo")
            session = await client.create_session(profile.id)
            run = await client.run_turn(session.id, "hello")
            started = asyncio.Event()

            async def consume():
                async for _ in run:
                    started.set()

            task = asyncio.create_task(consume())
            await asyncio.wait_for(started.wait(), TIMEOUT)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert run.result is None

            # asyncio's own timeout on the whole turn.
            session2 = await client.create_session(profile.id)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(
                    (await client.run_turn(session2.id, "hello")).wait(), timeout=0.3
                )

            # close() from another task ends the iteration without an error.
            session3 = await client.create_session(profile.id)
            run3 = await client.run_turn(session3.id, "hello")
            count = 0
            async for _ in run3:
                count += 1
                if count == 3:
                    asyncio.get_running_loop().call_soon(asyncio.ensure_future, run3.close())
            assert run3.result is None and count >= 3
            with pytest.raises(Cancelled):
                await run3.wait()

            # Cancelling the turn: it ends CANCELLED and the run says so.
            session4 = await client.create_session(profile.id)
            run4 = await client.run_turn(session4.id, "hello", timeout=TIMEOUT)
            cancelled = []
            async for event in run4:
                if event.WhichOneof("payload") == "block_delta" and not cancelled:
                    cancelled.append(await run4.cancel())
            assert cancelled == [True]
            assert run4.result.outcome == "CANCELLED"

    asyncio.run(main())
