"""Turns and watches through the idiomatic clients, sync and asyncio, against a real server; the
dropped connections are cut by a proxy in front of it."""

from __future__ import annotations

import asyncio

from conftest import API_KEY

from agentruntime_client import AgentRuntime, AsyncAgentRuntime

TIMEOUT = 60


def consecutive(sequences):
    return sequences == list(range(sequences[0], sequences[0] + len(sequences)))


def check_demo_turn(run, sequences):
    result = run.result
    assert result is not None and result.turn_id == run.turn_id
    assert result.outcome == "COMPLETED" and result.completed
    assert result.conversation is run.conversation
    conv = result.conversation
    assert conv.tool_names == ["Write", "Bash"]
    assert [c.status for c in conv.tool_calls] == ["SUCCEEDED", "SUCCEEDED"]
    assert conv.tool_calls[0].input["file_path"] == "notes/demo.md"
    assert "cat notes/demo.md" in conv.tool_calls[1].input["command"]
    assert "# Demo note" in conv.tool_calls[1].output
    assert "This answer came from the demo model" in result.text
    assert str(conv).startswith("user: hello\nassistant: ")
    assert consecutive(sequences), sequences
    assert result.last_sequence == sequences[-1]


def test_run_turn_sync(rt):
    session = rt.create_session(rt.find_profile("demo").id, name="sdk sync")
    run = rt.run_turn(session.id, "hello", timeout=TIMEOUT)
    assert run.turn_id.startswith("trn_") and not run.queued
    events = list(run)
    assert {e.turn_id for e in events} == {run.turn_id}
    assert events[-1].WhichOneof("payload") == "turn_completed"
    check_demo_turn(run, [e.sequence for e in events])
    assert run.reconnects == 0
    # What the fold assembled is what the server stored.
    stored = rt.conversation(session.id)
    assert [b.id for b in stored.blocks] == [b.id for b in run.conversation.blocks]
    assert stored.text == run.conversation.text
    assert run.wait() is run.result  # already at the end

    # A second turn starts after the first's events: none of them again.
    second = rt.run_turn(session.id, "again", timeout=TIMEOUT).wait()
    assert second.completed and second.turn_id != run.turn_id
    assert second.last_sequence > events[-1].sequence
    assert second.conversation.blocks[0].user_message.text == "again"


def test_run_turn_resumes_after_dropped_connections(proxy):
    with AgentRuntime(proxy.url, api_key=API_KEY) as client:
        session = client.create_session(client.find_profile("demo").id)
        run = client.run_turn(session.id, "hello", timeout=TIMEOUT)
        sequences, cut_at = [], []
        for event in run:
            sequences.append(event.sequence)
            # Three cuts: the second on the first event the new connection brings.
            if len(sequences) in (5, 60) or (len(cut_at) == 1 and run.reconnects >= 1):
                assert proxy.cut() >= 1
                cut_at.append(event.sequence)
        check_demo_turn(run, sequences)
        assert len(cut_at) == 3 and proxy.cuts == 3
        # A reconnect may meet the dropped connection before gRPC noticed: then it tries again.
        assert run.reconnects >= 3 and proxy.connections >= 4
        # Calls after a cut of the idle connection work: reads are tried again on a new one.
        for _ in range(3):
            proxy.cut()
            assert client.read_file(session.id, "notes/demo.md").startswith(b"# Demo note")
            assert client.get_session(session.id).last_sequence >= sequences[-1]


def test_watch_from_a_sequence_resumes(rt, proxy):
    session = rt.create_session(rt.find_profile("demo").id)
    done = rt.run_turn(session.id, "hello", timeout=TIMEOUT).wait()
    last = done.last_sequence
    with AgentRuntime(proxy.url, api_key=API_KEY) as client:
        watch = client.watch(session.id, after_sequence=10, timeout=TIMEOUT)
        got = []
        for event in watch:
            got.append(event.sequence)
            if event.sequence == 20:
                proxy.cut()
            if event.sequence == last:
                watch.close()
        assert got == list(range(11, last + 1))
        assert watch.reconnects >= 1 and watch.closed
        # Live: a watch from the end sees the next turn's events as they happen.
        with client.watch(session.id, after_sequence=last, timeout=TIMEOUT) as live:
            run = client.run_turn(session.id, "more", timeout=TIMEOUT)
            for event in live:
                assert event.sequence > last
                if event.WhichOneof("payload") == "turn_completed":
                    break
            assert event.turn_id == run.turn_id
            run.close()


def test_run_turn_and_watch_asyncio(server, proxy):
    async def main():
        async with AsyncAgentRuntime(proxy.url, api_key=API_KEY) as client:
            profile = await client.find_profile("demo")
            session = await client.create_session(profile.id)
            run = await client.run_turn(session.id, "hello", timeout=TIMEOUT)
            sequences = []
            async for event in run:
                sequences.append(event.sequence)
                if len(sequences) in (8, 40):
                    proxy.cut()
            check_demo_turn(run, sequences)
            assert run.reconnects >= 2
            assert (await run.wait()) is run.result

            watched = []
            watch = client.watch(session.id, after_sequence=sequences[-1] - 5, timeout=TIMEOUT)
            async for event in watch:
                watched.append(event.sequence)
                if event.sequence == sequences[-1]:
                    break
            await watch.close()
            assert watched == sequences[-5:]
            stored = await client.conversation(session.id)
            assert stored.text == run.conversation.text
            files = [f.path async for f in client.list_files(session.id)]
            assert "notes/demo.md" in files

    asyncio.run(main())
