import type { Block, ContextSettings, PendingKind, TodoItem, Usage } from "../../domain/types.js";
import {
  type ModelContentBlock,
  ModelError,
  type ModelMessage,
  type ModelProvider,
  type ModelTool,
  type ModelUsage,
  type ServerToolName,
} from "../../ports/model.js";
import type { EmitContext } from "../feed/event-feed.js";
import { costOf } from "../shared/pricing.js";
import type { Tool, ToolContext } from "../tools/types.js";
import { BlockWriter, type TurnSink } from "./blocks.js";
import {
  applyServerCompaction,
  clearOldToolResults,
  compactConversation,
  contextPlan,
  estimateTokens,
  requestContextManagement,
} from "./compaction.js";
import { notRun } from "./not-run.js";
import { StepBlocks } from "./step-blocks.js";
import { type ModelToolCall, runToolCall } from "./tool-calls.js";

/** Thrown when a turn is cancelled; `reason` says by whom (user, shutdown, unload). */
export class TurnAborted extends Error {
  override readonly name = "TurnAborted";
}

export interface LoopOptions {
  /** Where the loop writes its blocks, events and workspace changes. */
  sink: TurnSink;
  model: ModelProvider;
  modelId: string;
  system: string;
  tools: Tool[];
  /** The provider's own tools to offer (WebSearch, WebFetch). */
  serverTools?: ServerToolName[];
  /** How the conversation is kept within the context window (defaults when absent). */
  contextSettings?: ContextSettings;
  /** The session's to-do list, kept in a compacted conversation. */
  todos?: () => TodoItem[] | undefined;
  sandbox: ToolContext["sandbox"];
  maxSteps: number;
  maxOutputTokens: number;
  thinkingBudget?: number;
  context: EmitContext & { turnId: string };
  signal: AbortSignal;
  /** Called after each step's usage is known (the turn adds it to the session's). */
  onUsage: (step: Usage, model: string) => void;
  /** Called when the conversation changes, to save it. */
  onMessages?: (messages: ModelMessage[]) => void;
  /** Decides each call before it runs. */
  permit?: Permit;
  /**
   * Asked before each model call and after each step's usage: a reason ends the turn there
   * (a budget reached), the step's tool calls not run.
   */
  stopCheck?: () => Promise<string | undefined>;
  /** Before each model call after a step's tool results: adds messages steered into the turn. */
  steer?: (messages: ModelMessage[]) => Promise<void>;
}

/** What a call gets before it runs (tool permissions, custom tools); absent: every call runs. */
export type Permit = (
  name: string,
  input: unknown,
) =>
  | { kind: "allow" }
  | { kind: "deny"; message: string }
  | { kind: "wait"; pending: PendingKind; rule: string };

/** A call of the last step that waits for the application's answer. */
export interface WaitingCall {
  call: ModelToolCall;
  block: Block;
  pending: PendingKind;
  rule: string;
}

export interface LoopResult {
  /**
   * waiting: the last step's `waiting` calls wait for answers; the turn is parked. stopped:
   * `stopCheck` ended the turn (`stopReason`).
   */
  outcome: "completed" | "max_turns" | "waiting" | "stopped";
  waiting?: WaitingCall[];
  /** Why `stopCheck` stopped the turn. */
  stopReason?: string;
  /** The last assistant text (a subagent's answer). */
  finalText: string;
}

function modelTools(tools: Tool[]): ModelTool[] {
  return tools.map((t) => ({
    name: t.name,
    description: t.description,
    inputSchema: t.inputSchema,
  }));
}

export function toUsage(model: string, u: ModelUsage): Usage {
  const { webSearchRequests, webFetchRequests, ...tokens } = u;
  return {
    ...tokens,
    costMicroUsd: costOf(model, u),
    ...(webSearchRequests ? { webSearchRequests } : {}),
    ...(webFetchRequests ? { webFetchRequests } : {}),
  };
}

/**
 * The agent loop: model step, tool calls, results back to the model, until the model stops or
 * `maxSteps` is reached. Streams every block as events. Rejects with TurnAborted on cancel and
 * with ModelError when the model fails; `messages` then holds what completed so far.
 */
export async function runAgentLoop(messages: ModelMessage[], o: LoopOptions): Promise<LoopResult> {
  const blocks = new BlockWriter(o.sink, o.context);
  const byName = new Map(o.tools.map((t) => [t.name, t]));
  // A sandbox that cannot start ends the turn (after the tool's result shows why).
  let sandboxFailure: unknown;
  const sandbox: ToolContext["sandbox"] = () =>
    o.sandbox().catch((err: unknown) => {
      sandboxFailure ??= err;
      throw err;
    });
  let finalText = "";
  // What the current step streamed, for a partial assistant message if it is cut short.
  let partialText = "";
  const plan = contextPlan(o.contextSettings, o.modelId, o.model.features?.(o.modelId));
  const contextManagement = requestContextManagement(plan);
  // Provider tool calls whose result has not come yet (it may come after a pause_turn).
  const serverCalls = new Map<string, Block>();
  // The last step's whole size: the next request is at least that big.
  let lastStepTokens = 0;
  try {
    for (let step = 1; step <= o.maxSteps; step++) {
      partialText = "";
      if (o.signal.aborted) throw new TurnAborted(abortNote(o.signal));
      const stopBefore = await o.stopCheck?.();
      if (stopBefore) {
        blocks.close();
        return { outcome: "stopped", stopReason: stopBefore, finalText };
      }
      if (messages.at(-1)?.role === "user") await o.steer?.(messages);
      let tokensBefore = Math.max(lastStepTokens, estimateTokens(messages, o.system));
      if (await manageContext(messages, tokensBefore, plan, blocks, o)) {
        lastStepTokens = 0;
        tokensBefore = estimateTokens(messages, o.system);
      }
      const view = new StepBlocks(blocks, serverCalls, tokensBefore);
      const onEvent = view.onEvent;
      let result: Awaited<ReturnType<ModelProvider["step"]>>;
      try {
        result = await o.model.step(
          {
            model: o.modelId,
            system: o.system,
            messages,
            tools: modelTools(o.tools),
            ...(o.serverTools?.length ? { serverTools: o.serverTools } : {}),
            ...(contextManagement ? { contextManagement } : {}),
            maxOutputTokens: o.maxOutputTokens,
            ...(o.thinkingBudget ? { thinking: { budgetTokens: o.thinkingBudget } } : {}),
            signal: o.signal,
          },
          (e) => {
            onEvent(e);
            partialText = view.partialText;
          },
        );
      } catch (err) {
        if (o.signal.aborted || (err instanceof ModelError && err.reason === "MODEL_CANCELLED")) {
          throw new TurnAborted(abortNote(o.signal));
        }
        throw err;
      }
      const open = view.open;
      o.onUsage(toUsage(result.model, result.usage), result.model);
      const u = result.usage;
      lastStepTokens =
        u.inputTokens + u.cacheReadInputTokens + u.cacheCreationInputTokens + u.outputTokens;
      messages.push(result.message);
      partialText = "";
      if (result.contextEdited) {
        o.sink.emit(
          {
            type: "context_edited",
            clearedToolResults: result.contextEdited.clearedToolUses,
            clearedInputTokens: result.contextEdited.clearedInputTokens,
          },
          o.context,
        );
      }
      if (view.compaction) {
        const c = view.compaction.content;
        // A compaction without a summary failed: the provider treats it as a no-op.
        if (c.type === "compaction" && c.summary) {
          c.messagesCompacted = applyServerCompaction(messages);
          lastStepTokens = 0;
        }
        completeCompaction(blocks, view.compaction, o);
      }
      o.onMessages?.(messages);
      for (const c of result.message.content) if (c.type === "text") finalText = c.text;
      // The provider paused its own tool loop: the step goes on from the assistant message.
      if (result.stopReason === "pause_turn") continue;

      const calls = result.message.content.filter(
        (c): c is Extract<ModelContentBlock, { type: "tool_use" }> => c.type === "tool_use",
      );
      const stopAfter = await o.stopCheck?.();
      if (stopAfter) {
        if (result.stopReason === "tool_use") notRun(calls, open, blocks, messages, stopAfter);
        blocks.close();
        return { outcome: "stopped", stopReason: stopAfter, finalText };
      }
      if (result.stopReason !== "tool_use" || calls.length === 0) {
        blocks.close();
        return { outcome: "completed", finalText };
      }

      const toolUseBlocks = new Map<string, Block>();
      for (const b of open.values()) {
        if (b.content.type === "tool_use") toolUseBlocks.set(b.content.toolUseId, b);
      }
      const results: ModelContentBlock[] = [];
      const waiting: WaitingCall[] = [];
      const deps = {
        blocks,
        tools: byName,
        sandbox,
        signal: o.signal,
        abortNote: () => abortNote(o.signal),
      };
      for (const call of calls) {
        const useBlock = toolUseBlocks.get(call.id);
        const verdict = o.permit?.(call.name, call.input) ?? { kind: "allow" };
        if (verdict.kind === "wait" && useBlock?.content.type === "tool_use") {
          // Parked for an answer; its block stays open until the turn goes on.
          useBlock.content.status = "waiting";
          useBlock.content.inputJson = JSON.stringify(call.input ?? {});
          blocks.update(useBlock);
          waiting.push({ call, block: useBlock, pending: verdict.pending, rule: verdict.rule });
          continue;
        }
        const override =
          verdict.kind === "deny" ? { kind: "deny" as const, message: verdict.message } : undefined;
        results.push(await runToolCall(call, useBlock, deps, override));
        if (sandboxFailure) throw sandboxFailure;
        if (o.signal.aborted) {
          // What ran is answered truthfully; the calls after it were never started.
          messages.push({ role: "user", content: results });
          throw new TurnAborted(abortNote(o.signal));
        }
        // Every tool call may change files: compare the workspace with what was saved.
        await o.sink.syncWorkspace(o.context).catch(() => {});
      }
      if (waiting.length > 0) {
        // The results so far are kept; the waiting calls' results come with their answers.
        if (results.length > 0) messages.push({ role: "user", content: results });
        o.onMessages?.(messages);
        for (const w of waiting) blocks.release(w.block);
        blocks.close();
        return { outcome: "waiting", finalText, waiting };
      }
      messages.push({ role: "user", content: results });
      o.onMessages?.(messages);
    }
    blocks.close();
    return { outcome: "max_turns", finalText };
  } catch (err) {
    // Keep what was produced: the text streamed so far becomes the assistant's message.
    if (partialText)
      messages.push({ role: "assistant", content: [{ type: "text", text: partialText }] });
    blocks.close();
    throw err;
  } finally {
    await blocks.saved();
  }
}

/**
 * Before a step, what the runtime does itself (where the provider does not): clears old tool
 * results, then compacts. Returns whether the conversation changed.
 */
async function manageContext(
  messages: ModelMessage[],
  tokens: number,
  plan: ReturnType<typeof contextPlan>,
  blocks: BlockWriter,
  o: LoopOptions,
): Promise<boolean> {
  let changed = false;
  if (plan.clear && !plan.serverClearing && tokens > plan.clear.triggerTokens) {
    const { cleared, clearedTokens } = clearOldToolResults(messages, plan.clear.keep);
    if (cleared > 0) {
      changed = true;
      tokens -= clearedTokens;
      o.onMessages?.(messages);
      o.sink.emit(
        { type: "context_edited", clearedToolResults: cleared, clearedInputTokens: clearedTokens },
        o.context,
      );
    }
  }
  if (plan.compactAtTokens > 0 && !plan.serverCompaction && tokens > plan.compactAtTokens) {
    let compacted: Awaited<ReturnType<typeof compactConversation>>;
    try {
      compacted = await compactConversation(messages, {
        model: o.model,
        modelId: o.modelId,
        todos: o.todos?.(),
        signal: o.signal,
        onUsage: (u, model) => o.onUsage(toUsage(model, u), model),
      });
    } catch (err) {
      if (o.signal.aborted || (err instanceof ModelError && err.reason === "MODEL_CANCELLED")) {
        throw new TurnAborted(abortNote(o.signal));
      }
      throw err;
    }
    if (compacted) {
      changed = true;
      o.onMessages?.(messages);
      const block = blocks.start({
        type: "compaction",
        summary: compacted.summary,
        tokensBefore: tokens,
        messagesCompacted: compacted.messagesCompacted,
        method: "runtime",
      });
      completeCompaction(blocks, block, o);
    }
  }
  return changed;
}

function completeCompaction(blocks: BlockWriter, block: Block, o: LoopOptions): void {
  blocks.complete(block);
  const c = block.content;
  if (c.type !== "compaction" || !c.summary) return;
  o.sink.emit(
    {
      type: "context_compacted",
      blockId: block.id,
      tokensBefore: c.tokensBefore,
      messagesCompacted: c.messagesCompacted,
    },
    o.context,
  );
}

/** Why a turn was stopped, for the model and the tool result ("cancelled by the user"). */
export function abortNote(signal: AbortSignal): string {
  const why = signal.reason as unknown;
  return why instanceof Error ? why.message : typeof why === "string" ? why : "cancelled";
}
