"""The conversation assembled from events: whole blocks, not a stream of pieces.

Feed it events (``apply``) or blocks (``add``, e.g. from ``ListMessages``) and read what the
agent said and did::

    conv = Conversation()
    for event in run:
        conv.apply(event)
    conv.text          # the assistant's last text
    conv.tool_calls    # [ToolCall(name="Write", input={...}, output="Created ...", ...), ...]
    print(conv)        # user: ... / assistant: ... / tool Write -> ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

from agentruntime.v1 import block_pb2, event_pb2

_STATUS_PREFIX = "TOOL_STATUS_"


@dataclass
class ToolCall:
    """A tool call with its result, when it has one."""

    tool_use_id: str
    name: str
    input_json: str
    status: str  # PENDING, RUNNING, WAITING, SUCCEEDED, FAILED, DENIED, CANCELLED
    output: Optional[str] = None
    is_error: bool = False
    subagent_id: str = ""

    @property
    def input(self) -> Dict[str, Any]:
        """The input as a dict (``{}`` while it is still streaming or not valid JSON)."""
        try:
            value = json.loads(self.input_json or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass
class Conversation:
    """Blocks in the order they started, folded from ``block_*`` events."""

    _blocks: Dict[str, block_pb2.Block] = field(default_factory=dict)
    _completed: set = field(default_factory=set)

    @classmethod
    def from_blocks(cls, blocks: Iterable[block_pb2.Block]) -> "Conversation":
        conv = cls()
        for block in blocks:
            conv.add(block, completed=True)
        return conv

    @classmethod
    def from_events(cls, events: Iterable[event_pb2.SessionEvent]) -> "Conversation":
        conv = cls()
        for event in events:
            conv.apply(event)
        return conv

    def add(self, block: block_pb2.Block, completed: bool = False) -> None:
        """Puts a whole block in (replacing the one with its id, keeping its place)."""
        copy = block_pb2.Block()
        copy.CopyFrom(block)
        self._blocks[block.id] = copy
        if completed:
            self._completed.add(block.id)

    def apply(self, event: event_pb2.SessionEvent) -> bool:
        """Folds one event in; returns whether it changed a block. Other events are ignored."""
        kind = event.WhichOneof("payload")
        if kind in ("block_started", "block_updated"):
            if event.HasField(kind) and getattr(event, kind).block.id not in self._completed:
                self.add(getattr(event, kind).block)
                return True
            return False
        if kind == "block_completed":
            self.add(event.block_completed.block, completed=True)
            return True
        if kind == "block_delta":
            return self._delta(event.block_delta)
        return False

    def _delta(self, delta: event_pb2.BlockDelta) -> bool:
        block = self._blocks.get(delta.block_id)
        if block is None or delta.block_id in self._completed:
            return False  # a delta of a block started before we watched: its completion follows
        piece = delta.WhichOneof("delta")
        content = block.WhichOneof("content")
        if piece == "text" and content == "assistant_text":
            block.assistant_text.text += delta.text
        elif piece == "thinking" and content == "thinking":
            block.thinking.thinking += delta.thinking
        elif piece == "input_json" and content == "tool_use":
            block.tool_use.input_json += delta.input_json
        elif piece == "output" and content == "tool_result":
            block.tool_result.output += delta.output
        else:
            return False
        return True

    # ---- Reading -----------------------------------------------------------------------------

    @property
    def blocks(self) -> List[block_pb2.Block]:
        """Every block, oldest first (each a copy kept up to date by the fold)."""
        return list(self._blocks.values())

    def is_complete(self, block_id: str) -> bool:
        return block_id in self._completed

    def _main(self, content: str) -> List[block_pb2.Block]:
        return [
            b for b in self._blocks.values() if b.WhichOneof("content") == content and not b.subagent_id
        ]

    @property
    def text(self) -> str:
        """The main agent's last assistant text ("" when it wrote none)."""
        texts = self._main("assistant_text")
        return texts[-1].assistant_text.text if texts else ""

    @property
    def texts(self) -> List[str]:
        """Every assistant text of the main agent, oldest first."""
        return [b.assistant_text.text for b in self._main("assistant_text")]

    @property
    def tool_calls(self) -> List[ToolCall]:
        """Every tool call (subagents' included), oldest first, with its result when it has one."""
        results = {
            b.tool_result.tool_use_id: b.tool_result
            for b in self._blocks.values()
            if b.WhichOneof("content") == "tool_result"
        }
        calls = []
        for b in self._blocks.values():
            if b.WhichOneof("content") != "tool_use":
                continue
            use = b.tool_use
            result = results.get(use.tool_use_id)
            calls.append(
                ToolCall(
                    tool_use_id=use.tool_use_id,
                    name=use.tool_name,
                    input_json=use.input_json,
                    status=block_pb2.ToolStatus.Name(use.status).replace(_STATUS_PREFIX, ""),
                    output=result.output if result is not None else None,
                    is_error=result.is_error if result is not None else False,
                    subagent_id=b.subagent_id,
                )
            )
        return calls

    @property
    def tool_names(self) -> List[str]:
        return [c.name for c in self.tool_calls]

    def lines(self) -> List[str]:
        """One line per block: ``user: ...``, ``assistant: ...``, ``tool Write {...} -> ...``."""
        calls = {c.tool_use_id: c for c in self.tool_calls}
        out = []
        for b in self._blocks.values():
            kind = b.WhichOneof("content")
            prefix = f"[{b.subagent_id}] " if b.subagent_id else ""
            if kind == "user_message":
                out.append(f"{prefix}user: {b.user_message.text}")
            elif kind == "assistant_text":
                out.append(f"{prefix}assistant: {b.assistant_text.text}")
            elif kind == "thinking":
                out.append(f"{prefix}thinking: {b.thinking.thinking}")
            elif kind == "tool_use":
                call = calls[b.tool_use.tool_use_id]
                result = "" if call.output is None else f" -> {call.output}"
                out.append(f"{prefix}tool {call.name} {call.input_json} [{call.status}]{result}")
            elif kind == "error":
                out.append(f"{prefix}error: {b.error.reason}: {b.error.message}")
            elif kind == "system":
                out.append(f"{prefix}system: {b.system.text}")
            elif kind == "subagent":
                out.append(f"{prefix}subagent {b.subagent.name}: {b.subagent.result}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __len__(self) -> int:
        return len(self._blocks)
