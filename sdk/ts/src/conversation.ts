// The conversation assembled from events: block started / delta / updated / completed folded into
// whole blocks, tool calls joined with their results, plus the session's latest status, usage,
// to-do list, subagents and pending tool calls. Feed it every event (apply); read it any time.

import { clone } from "@bufbuild/protobuf";
import {
  type Block,
  BlockSchema,
  type SubagentStatus,
  type TodoItem,
  ToolStatus,
} from "../../../gen/ts/agentruntime/v1/block_pb.js";
import type { ErrorOccurred, SessionEvent } from "../../../gen/ts/agentruntime/v1/event_pb.js";
import {
  type PendingToolCall,
  SandboxStatus,
  SessionState,
  type Turn,
  type Usage,
} from "../../../gen/ts/agentruntime/v1/session_pb.js";

/** A tool call with its result, once there is one. */
export interface ToolCall {
  /** The model's id of the call. */
  id: string;
  name: string;
  /** The input as JSON text, complete once the block is. */
  inputJson: string;
  /** The input parsed, or undefined while it is incomplete or not JSON. */
  input: unknown;
  status: ToolStatus;
  result?: { output: string; isError: boolean };
  turnId: string;
  subagentId: string;
}

export interface Subagent {
  id: string;
  name: string;
  prompt: string;
  toolUseId: string;
  status: SubagentStatus;
  result: string;
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

export class Conversation {
  /** Sequence of the last event applied; events at or below it are ignored. */
  lastSequence = 0;
  state: SessionState = SessionState.UNSPECIFIED;
  sandboxStatus: SandboxStatus = SandboxStatus.UNSPECIFIED;
  statusMessage = "";
  todos: TodoItem[] = [];
  /** Usage as of the last model step: the step's, the turn's and the session's. */
  usage: { step?: Usage; turn?: Usage; session?: Usage; model: string } = { model: "" };
  /** Turns by id, as started and then completed. */
  readonly turns = new Map<string, Turn>();
  /** Tool calls waiting for an answer (AnswerToolCall), by tool use id. */
  readonly pendingToolCalls = new Map<string, PendingToolCall>();
  readonly subagents = new Map<string, Subagent>();
  readonly errors: ErrorOccurred[] = [];
  private readonly order: string[] = [];
  private readonly byId = new Map<string, Block>();
  private readonly completed = new Set<string>();

  /** Folds one event in; returns false when it was already applied (an older sequence). */
  apply(event: SessionEvent): boolean {
    const sequence = Number(event.sequence);
    if (sequence > 0 && sequence <= this.lastSequence) return false;
    if (sequence > 0) this.lastSequence = sequence;
    const p = event.payload;
    switch (p.case) {
      case "blockStarted":
      case "blockUpdated":
      case "blockCompleted":
        if (p.value.block) this.putBlock(p.value.block, p.case === "blockCompleted");
        break;
      case "blockDelta":
        this.applyDelta(p.value.blockId, p.value.delta);
        break;
      case "statusChanged":
        this.state = p.value.state || this.state;
        this.sandboxStatus = p.value.sandboxStatus || this.sandboxStatus;
        this.statusMessage = p.value.message;
        break;
      case "usageUpdated":
        this.usage = {
          ...(p.value.step ? { step: p.value.step } : {}),
          ...(p.value.turn ? { turn: p.value.turn } : {}),
          ...(p.value.session ? { session: p.value.session } : {}),
          model: p.value.model,
        };
        break;
      case "todosUpdated":
        this.todos = p.value.items;
        break;
      case "turnStarted":
      case "turnCompleted":
        if (p.value.turn && !event.subagentId) this.turns.set(p.value.turn.id, p.value.turn);
        break;
      case "toolCallWaiting":
        if (p.value.call) this.pendingToolCalls.set(p.value.call.toolUseId, p.value.call);
        break;
      case "toolCallAnswered":
        if (p.value.decision) this.pendingToolCalls.delete(p.value.decision.toolUseId);
        break;
      case "subagentDiscovered":
        this.subagents.set(p.value.subagentId, {
          id: p.value.subagentId,
          name: p.value.name,
          prompt: p.value.prompt,
          toolUseId: p.value.toolUseId,
          status: this.subagents.get(p.value.subagentId)?.status ?? 1,
          result: "",
        });
        break;
      case "subagentCompleted": {
        const known = this.subagents.get(p.value.subagentId);
        if (known) Object.assign(known, { status: p.value.status, result: p.value.result });
        break;
      }
      case "error":
        this.errors.push(p.value);
        break;
      default:
        break;
    }
    return true;
  }

  /** Folds many events in, in order. */
  applyAll(events: Iterable<SessionEvent>): this {
    for (const event of events) this.apply(event);
    return this;
  }

  /** Every block, whole as far as the events went, in the order they started. */
  get blocks(): Block[] {
    return this.order.map((id) => this.byId.get(id)!);
  }

  /** Whether the block with this id is final. */
  isComplete(blockId: string): boolean {
    return this.completed.has(blockId);
  }

  /** Every tool call (tool_use blocks), each with its result once it came. */
  get toolCalls(): ToolCall[] {
    const results = new Map<string, { output: string; isError: boolean }>();
    for (const b of this.blocks) {
      if (b.content.case === "toolResult") {
        const r = b.content.value;
        results.set(r.toolUseId, { output: r.output, isError: r.isError });
      }
    }
    return this.blocks.flatMap((b) => {
      if (b.content.case !== "toolUse") return [];
      const t = b.content.value;
      const result = results.get(t.toolUseId);
      return [
        {
          id: t.toolUseId,
          name: t.toolName,
          inputJson: t.inputJson,
          input: parseJson(t.inputJson),
          status: t.status,
          ...(result ? { result } : {}),
          turnId: b.turnId,
          subagentId: b.subagentId,
        },
      ];
    });
  }

  /** The text of the main agent's last assistant text block ("" when none). */
  get finalText(): string {
    const texts = this.blocks.filter((b) => b.content.case === "assistantText" && !b.subagentId);
    const last = texts.at(-1);
    return last?.content.case === "assistantText" ? last.content.value.text : "";
  }

  /** A readable transcript: one line per block ("assistant: ...", "tool Write(...) -> ..."). */
  transcript(): string {
    const calls = new Map(this.toolCalls.map((c) => [c.id, c]));
    const lines: string[] = [];
    for (const b of this.blocks) {
      const who = b.subagentId ? `[${b.subagentId}] ` : "";
      const c = b.content;
      if (c.case === "userMessage") lines.push(`${who}user: ${c.value.text}`);
      else if (c.case === "assistantText") lines.push(`${who}assistant: ${c.value.text}`);
      else if (c.case === "thinking") lines.push(`${who}thinking: ${c.value.thinking}`);
      else if (c.case === "toolUse") {
        const call = calls.get(c.value.toolUseId);
        const status = ToolStatus[c.value.status]?.toLowerCase() ?? "";
        const output = call?.result ? ` -> ${call.result.output.trim()}` : ` (${status})`;
        lines.push(`${who}tool ${c.value.toolName} ${c.value.inputJson}${output}`);
      } else if (c.case === "subagent") {
        lines.push(`${who}subagent ${c.value.name}: ${c.value.result}`);
      } else if (c.case === "todoList") {
        lines.push(`${who}todos: ${c.value.items.map((i) => i.content).join("; ")}`);
      } else if (c.case === "system") lines.push(`${who}system: ${c.value.text}`);
      else if (c.case === "error") lines.push(`${who}error ${c.value.reason}: ${c.value.message}`);
    }
    return lines.join("\n");
  }

  private putBlock(block: Block, complete: boolean): void {
    if (!this.byId.has(block.id)) this.order.push(block.id);
    this.byId.set(block.id, clone(BlockSchema, block));
    if (complete) this.completed.add(block.id);
    if (block.content.case === "subagent") {
      const s = block.content.value;
      this.subagents.set(s.subagentId, {
        id: s.subagentId,
        name: s.name,
        prompt: s.prompt,
        toolUseId: s.toolUseId,
        status: s.status,
        result: s.result,
      });
    }
  }

  private applyDelta(blockId: string, delta: { case: string | undefined; value?: unknown }): void {
    const block = this.byId.get(blockId);
    if (!block || typeof delta.value !== "string") return;
    const c = block.content;
    if (delta.case === "text" && c.case === "assistantText") c.value.text += delta.value;
    else if (delta.case === "thinking" && c.case === "thinking") c.value.thinking += delta.value;
    else if (delta.case === "inputJson" && c.case === "toolUse") c.value.inputJson += delta.value;
    else if (delta.case === "output" && c.case === "toolResult") c.value.output += delta.value;
  }
}
