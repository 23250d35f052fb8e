// Tool calls that wait for the application: what a call gets before it runs (permissions,
// custom tools), parking a turn whose calls wait, and applying the answers when it goes on.

import type {
  AgentProfile,
  Block,
  ParkedStep,
  PendingToolCall,
  ToolDecision,
  Turn,
} from "../../domain/types.js";
import type { ModelContentBlock, ModelMessage } from "../../ports/model.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import type { Sandbox } from "../../ports/sandbox.js";
import { evaluateCall } from "../permissions/rules.js";
import type { LoadedSession } from "../sessions/loaded-session.js";
import type { Tool } from "../tools/types.js";
import { abortNote, type Permit, TurnAborted, type WaitingCall } from "./agent-loop.js";
import { BlockWriter, type TurnSink } from "./blocks.js";
import { completeTurn } from "./complete-turn.js";
import { closeConversation, type Transcripts } from "./conversation.js";
import { type CallDeps, type CallOverride, runToolCall } from "./tool-calls.js";

/** The profile's custom tools as the model sees them; they never run here (they wait). */
export function customTools(profile: AgentProfile): Tool[] {
  return (profile.customTools ?? []).map((t) => ({
    name: t.name,
    description: t.description,
    inputSchema: JSON.parse(t.inputSchemaJson || '{"type":"object"}') as Record<string, unknown>,
    run: async () => ({ output: `${t.name} is run by the application`, isError: true }),
  }));
}

/** The permission check of a turn: the profile's rules and the session's always-allow rules. */
export function permitFor(profile: AgentProfile, session: LoadedSession): Permit {
  const custom = new Set((profile.customTools ?? []).map((t) => t.name));
  return (name, input) => {
    const v = evaluateCall(
      profile.permissions,
      session.record.sessionAllowRules ?? [],
      name,
      input,
    );
    if (v.kind === "deny") {
      const why =
        v.rule === "mode"
          ? `this agent may not use ${name} unless a rule allows it`
          : `the permission rule ${v.rule} refuses it`;
      return { kind: "deny", message: `Permission denied: ${why}. Do not retry this call.` };
    }
    if (custom.has(name)) return { kind: "wait", pending: "custom_tool", rule: "" };
    if (v.kind === "ask") return { kind: "wait", pending: "approval", rule: v.rule };
    return { kind: "allow" };
  };
}

/**
 * Parks a turn whose last step's calls wait: the waiting blocks are saved (ListMessages shows
 * them waiting), then ONE record write sets the pending calls and the parked step (the claim
 * stays), then `tool_call_waiting` is written for each call. The transcript is saved before.
 */
export async function parkTurn(
  session: LoadedSession,
  store: PersistenceAdapter,
  turn: Turn,
  waiting: WaitingCall[],
  storeTimeoutMs: number,
  onParked?: (calls: PendingToolCall[]) => void,
): Promise<void> {
  const profile = await store.loadAgentProfile(session.record.agentProfileId);
  const timeoutSeconds = profile?.permissions?.approvalTimeoutSeconds ?? 0;
  const ctx = { turnId: turn.id };
  for (const w of waiting) await store.saveBlock(session.id, w.block);
  await session.feed.flush(storeTimeoutMs);
  const now = new Date();
  const calls: PendingToolCall[] = waiting.map((w) => ({
    toolUseId: w.call.id,
    turnId: turn.id,
    toolName: w.call.name,
    inputJson: JSON.stringify(w.call.input ?? {}),
    kind: w.pending,
    matchedRule: w.rule,
    requestTime: now,
    ...(w.pending === "approval" && timeoutSeconds > 0
      ? { timeoutTime: new Date(now.getTime() + timeoutSeconds * 1000) }
      : {}),
  }));
  const parked: ParkedStep = {
    turnId: turn.id,
    toolUseBlocks: waiting.map((w) => structuredClone(w.block)),
    answers: [],
  };
  await session.update(
    () => ({ currentTurn: { ...turn }, pendingToolCalls: calls, parked, lastActivityTime: now }),
    ctx,
  );
  // Parked: the timeouts are armed before anything else can fail.
  onParked?.(calls);
  for (const call of calls) session.emit({ type: "tool_call_waiting", call }, ctx);
  await session.feed.flush(storeTimeoutMs);
}

/** How long ending a cancelled waiting turn waits for its events to be stored. */
const CANCEL_STORE_TIMEOUT_MS = 30_000;

function overrideOf(d: ToolDecision): CallOverride | undefined {
  if (d.kind === "deny") {
    const by = d.decidedBy === "timeout" ? "no answer came in time" : "the application denied it";
    return {
      kind: "deny",
      message: `Permission denied: ${by}${d.message ? `: ${d.message}` : "."} Do not retry this call.`,
    };
  }
  if (d.kind === "result") return { kind: "result", output: d.output, isError: d.isError };
  return undefined;
}

/**
 * Applies the answers of a parked step: allowed calls run (with the updated input), denied ones
 * get an error result with the answer's message, custom tools the given result. Results go to
 * the user message after the step's assistant message. A call whose result is already in the
 * conversation (the answers were applied before a crash) is skipped.
 */
export async function applyAnswers(
  messages: ModelMessage[],
  parked: ParkedStep,
  deps: CallDeps,
): Promise<void> {
  let last = messages.at(-1);
  if (last?.role !== "user") {
    last = { role: "user", content: [] };
    messages.push(last);
  }
  const target = last;
  const answered = new Set(
    target.content.flatMap((c) => (c.type === "tool_result" ? [c.tool_use_id] : [])),
  );
  const blocks = new Map<string, Block>();
  for (const b of parked.toolUseBlocks) {
    if (b.content.type !== "tool_use") continue;
    blocks.set(b.content.toolUseId, b);
    deps.blocks.adopt(b);
  }
  for (const d of parked.answers) {
    if (answered.has(d.toolUseId)) continue;
    const block = blocks.get(d.toolUseId);
    let input: unknown = {};
    if (block?.content.type === "tool_use") input = JSON.parse(block.content.inputJson || "{}");
    if (d.kind === "allow" && d.updatedInputJson) input = JSON.parse(d.updatedInputJson);
    const call = { id: d.toolUseId, name: d.toolName, input };
    const result: ModelContentBlock & { type: "tool_result" } = await runToolCall(
      call,
      block,
      deps,
      overrideOf(d),
    );
    if (d.kind === "allow" && d.message) {
      result.content = `${result.content}\n\n[Note from the application: ${d.message}]`;
    }
    target.content.push(result);
    if (deps.signal.aborted) break;
  }
  if (target.content.length === 0) messages.pop();
}

/**
 * Applies a parked step's answers, saves the conversation, then drops the parked step from the
 * record: from there on the turn is a running one (a crash interrupts it). A crash before the
 * record write applies them again: calls already answered in the conversation are skipped.
 */
export async function applyParkedAnswers(
  session: LoadedSession,
  parked: ParkedStep,
  messages: ModelMessage[],
  transcripts: Transcripts,
  o: { sink: TurnSink; tools: Tool[]; sandbox: () => Promise<Sandbox>; signal: AbortSignal },
): Promise<void> {
  const ctx = { turnId: parked.turnId };
  const blocks = new BlockWriter(o.sink, ctx);
  try {
    await applyAnswers(messages, parked, {
      blocks,
      tools: new Map(o.tools.map((t) => [t.name, t])),
      sandbox: o.sandbox,
      signal: o.signal,
      abortNote: () => abortNote(o.signal),
    });
  } finally {
    blocks.close();
    await blocks.saved();
  }
  await transcripts.save(session.id, messages);
  await session.sandbox.sync(ctx).catch(() => {});
  await session.update(() => ({ parked: undefined }), ctx);
  if (o.signal.aborted) throw new TurnAborted(abortNote(o.signal));
}

/**
 * CancelTurn on a parked turn: marks it cancelled and takes its calls off the pending list in
 * one record write; the turn engine then ends it (`endCancelledTurn`). False when the turn is
 * not parked (any more).
 */
export async function cancelParkedTurn(
  session: LoadedSession,
  turnId: string,
  kick: () => void,
  why = "cancelled by the user",
): Promise<boolean> {
  let marked = false;
  await session.update((r) => {
    marked = !!r.parked && r.parked.turnId === turnId && r.currentTurn?.id === turnId;
    if (!r.parked || !marked) return {};
    return {
      parked: { ...r.parked, cancelled: why },
      pendingToolCalls: [],
    };
  });
  if (marked) void Promise.resolve(session.draining).then(kick);
  return marked;
}

/**
 * Ends a parked turn that was cancelled: its waiting calls' blocks complete as cancelled, the
 * conversation is closed (the model is told the calls were not run), then turn_completed
 * (CANCELLED) and the release. A crash halfway leaves a claim that recovery settles.
 */
export async function endCancelledTurn(
  session: LoadedSession,
  claim: Turn,
  parked: ParkedStep,
  store: PersistenceAdapter,
  transcripts: Transcripts,
): Promise<void> {
  const ctx = { turnId: claim.id };
  const reason = parked.cancelled ?? "cancelled";
  const sink: TurnSink = {
    get nextSequence() {
      return session.feed.sequence + 1;
    },
    emit: session.emit,
    saveBlock: (b: Block) => store.saveBlock(session.id, b),
    syncWorkspace: async () => {},
  };
  const blocks = new BlockWriter(sink, ctx);
  for (const b of parked.toolUseBlocks) {
    blocks.adopt(b);
    if (b.content.type === "tool_use") b.content.status = "cancelled";
    blocks.complete(b);
  }
  await blocks.saved();
  const messages = await transcripts.get(session.id);
  closeConversation(messages, `Turn cancelled: ${reason}`);
  await transcripts.save(session.id, messages);
  await session.update(() => ({ parked: undefined }), ctx);
  await completeTurn(session, claim, {
    outcome: "cancelled",
    reason,
    storeTimeoutMs: CANCEL_STORE_TIMEOUT_MS,
  });
}
