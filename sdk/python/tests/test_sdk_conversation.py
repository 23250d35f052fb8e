"""The conversation fold, on events made by hand (no server)."""

from __future__ import annotations

from agentruntime_client import Conversation, block_pb2, event_pb2

seq = iter(range(1, 1000))


def ev(**payload) -> event_pb2.SessionEvent:
    return event_pb2.SessionEvent(session_id="ses_x", sequence=next(seq), turn_id="trn_x", **payload)


def started(block: block_pb2.Block) -> event_pb2.SessionEvent:
    return ev(block_started=event_pb2.BlockStarted(block=block))


def delta(block_id: str, **piece) -> event_pb2.SessionEvent:
    return ev(block_delta=event_pb2.BlockDelta(block_id=block_id, **piece))


def completed(block: block_pb2.Block) -> event_pb2.SessionEvent:
    return ev(block_completed=event_pb2.BlockCompleted(block=block))


def text_block(block_id: str, text: str, subagent: str = "") -> block_pb2.Block:
    return block_pb2.Block(
        id=block_id, subagent_id=subagent, assistant_text=block_pb2.AssistantTextBlock(text=text)
    )


def tool_use(status, input_json: str = "") -> block_pb2.Block:
    return block_pb2.Block(
        id="blk_tool",
        tool_use=block_pb2.ToolUseBlock(
            tool_use_id="toolu_1", tool_name="Write", input_json=input_json, status=status
        ),
    )


def test_deltas_fold_into_whole_blocks():
    conv = Conversation()
    user = block_pb2.Block(id="blk_user", user_message=block_pb2.UserMessageBlock(text="hi"))
    events = [
        started(user),
        completed(user),
        started(text_block("blk_a", "")),
        delta("blk_a", text="Hello "),
        delta("blk_a", text="there."),
        started(tool_use(block_pb2.TOOL_STATUS_PENDING)),
        delta("blk_tool", input_json='{"file_path": "a.md",'),
        delta("blk_tool", input_json=' "content": "x"}'),
        ev(usage_updated=event_pb2.UsageUpdated()),
    ]
    changed = [conv.apply(e) for e in events]
    assert changed == [True, True, True, True, True, True, True, True, False]
    # Mid-stream: the text so far, the input so far (parsed once whole).
    assert conv.text == "Hello there."
    [call] = conv.tool_calls
    assert (call.name, call.status, call.output) == ("Write", "PENDING", None)
    assert call.input == {"file_path": "a.md", "content": "x"}

    # An update replaces the block; the result streams in; completion is final.
    conv.apply(
        ev(
            block_updated=event_pb2.BlockUpdated(
                block=tool_use(block_pb2.TOOL_STATUS_RUNNING, '{"file_path": "a.md"}')
            )
        )
    )
    result = block_pb2.Block(
        id="blk_res", tool_result=block_pb2.ToolResultBlock(tool_use_id="toolu_1")
    )
    conv.apply(started(result))
    conv.apply(delta("blk_res", output="Created "))
    conv.apply(delta("blk_res", output="a.md"))
    [call] = conv.tool_calls
    assert (call.status, call.output, call.input) == ("RUNNING", "Created a.md", {"file_path": "a.md"})
    conv.apply(completed(tool_use(block_pb2.TOOL_STATUS_SUCCEEDED, '{"file_path": "a.md"}')))
    conv.apply(completed(text_block("blk_a", "Hello there.")))
    assert conv.is_complete("blk_a") and conv.is_complete("blk_tool")
    assert not conv.is_complete("blk_res")

    # Blocks keep the order they started in; a subagent's text is not the agent's answer.
    conv.apply(started(text_block("blk_sub", "from a subagent", subagent="sub_1")))
    conv.apply(started(text_block("blk_b", "Done.")))
    assert [b.id for b in conv.blocks] == ["blk_user", "blk_a", "blk_tool", "blk_res", "blk_sub", "blk_b"]
    assert conv.text == "Done."
    assert conv.texts == ["Hello there.", "Done."]
    assert conv.tool_names == ["Write"]
    assert str(conv).splitlines() == [
        "user: hi",
        "assistant: Hello there.",
        'tool Write {"file_path": "a.md"} [SUCCEEDED] -> Created a.md',
        "[sub_1] assistant: from a subagent",
        "assistant: Done.",
    ]


def test_late_and_stale_pieces_are_ignored():
    conv = Conversation()
    # A delta of a block started before the watch began: nothing to add it to.
    assert conv.apply(delta("blk_unknown", text="lost")) is False
    assert conv.blocks == []
    # After completion, a replayed start or delta does not undo the final block.
    conv.apply(completed(text_block("blk_a", "final")))
    assert conv.apply(started(text_block("blk_a", ""))) is False
    assert conv.apply(delta("blk_a", text=" more")) is False
    assert conv.text == "final"
    # A delta of the wrong kind for the block changes nothing.
    conv.apply(started(text_block("blk_b", "x")))
    assert conv.apply(delta("blk_b", input_json="{}")) is False
    assert conv.text == "x"


def test_from_blocks_reads_a_listed_conversation():
    conv = Conversation.from_blocks([text_block("blk_a", "one"), text_block("blk_b", "two")])
    assert conv.texts == ["one", "two"] and len(conv) == 2
    assert all(conv.is_complete(b.id) for b in conv.blocks)
    # The fold holds copies: changing it leaves the caller's blocks alone.
    original = text_block("blk_c", "orig")
    conv.add(original)
    conv.apply(delta("blk_c", text="+"))
    assert original.assistant_text.text == "orig" and conv.text == "orig+"
