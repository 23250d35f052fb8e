import type { Block, Usage } from "../../domain/types.js";
import {
  type ModelContentBlock,
  ModelError,
  type ModelMessage,
  type ModelProvider,
  type ModelStreamEvent,
  type ModelTool,
} from "../../ports/model.js";
import type { EmitContext } from "../feed/event-feed.js";
import { costOf } from "../shared/pricing.js";
import { HeadTailBuffer } from "../tools/bash.js";
import type { Tool, ToolContext } from "../tools/types.js";
import { BlockWriter, type TurnSink } from "./blocks.js";

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
}

export interface LoopResult {
  outcome: "completed" | "max_turns";
  /** The last assistant text (a subagent's answer). */
  finalText: string;
}

/** Characters of a cancelled tool's output that go back to the model. */
const CANCELLED_OUTPUT_CHARS = 10_000;

function modelTools(tools: Tool[]): ModelTool[] {
  return tools.map((t) => ({
    name: t.name,
    description: t.description,
    inputSchema: t.inputSchema,
  }));
}

export function toUsage(
  model: string,
  u: {
    inputTokens: number;
    outputTokens: number;
    cacheReadInputTokens: number;
    cacheCreationInputTokens: number;
  },
): Usage {
  return { ...u, costMicroUsd: costOf(model, u) };
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
  try {
    for (let step = 1; step <= o.maxSteps; step++) {
      const open = new Map<number, Block>();
      partialText = "";
      const onEvent = (e: ModelStreamEvent) => {
        if (e.type === "block_start") {
          const content =
            e.block === "text"
              ? { type: "assistant_text" as const, text: "" }
              : e.block === "thinking"
                ? { type: "thinking" as const, thinking: "", signature: "" }
                : {
                    type: "tool_use" as const,
                    toolUseId: e.id,
                    toolName: e.name,
                    inputJson: "",
                    status: "pending" as const,
                  };
          open.set(e.index, blocks.start(content));
          return;
        }
        const block = open.get(e.index);
        if (!block) return;
        switch (e.type) {
          case "text_delta":
            partialText += e.text;
            blocks.delta(block, { kind: "text", value: e.text });
            break;
          case "thinking_delta":
            blocks.delta(block, { kind: "thinking", value: e.thinking });
            break;
          case "signature_delta":
            if (block.content.type === "thinking") block.content.signature += e.signature;
            break;
          case "input_json_delta":
            blocks.delta(block, { kind: "input_json", value: e.partialJson });
            break;
          case "block_stop":
            if (block.content.type !== "tool_use") blocks.complete(block);
            break;
        }
      };
      if (o.signal.aborted) throw new TurnAborted(abortNote(o.signal));
      let result: Awaited<ReturnType<ModelProvider["step"]>>;
      try {
        result = await o.model.step(
          {
            model: o.modelId,
            system: o.system,
            messages,
            tools: modelTools(o.tools),
            maxOutputTokens: o.maxOutputTokens,
            ...(o.thinkingBudget ? { thinking: { budgetTokens: o.thinkingBudget } } : {}),
            signal: o.signal,
          },
          onEvent,
        );
      } catch (err) {
        if (o.signal.aborted || (err instanceof ModelError && err.reason === "MODEL_CANCELLED")) {
          throw new TurnAborted(abortNote(o.signal));
        }
        throw err;
      }
      o.onUsage(toUsage(result.model, result.usage), result.model);
      messages.push(result.message);
      partialText = "";
      o.onMessages?.(messages);
      for (const c of result.message.content) if (c.type === "text") finalText = c.text;

      const calls = result.message.content.filter(
        (c): c is Extract<ModelContentBlock, { type: "tool_use" }> => c.type === "tool_use",
      );
      if (result.stopReason !== "tool_use" || calls.length === 0) {
        blocks.close();
        return { outcome: "completed", finalText };
      }

      const toolUseBlocks = new Map<string, Block>();
      for (const b of open.values()) {
        if (b.content.type === "tool_use") toolUseBlocks.set(b.content.toolUseId, b);
      }
      const results: ModelContentBlock[] = [];
      for (const call of calls) {
        const useBlock = toolUseBlocks.get(call.id);
        const tool = byName.get(call.name);
        if (useBlock?.content.type === "tool_use") {
          useBlock.content.status = "running";
          useBlock.content.inputJson = JSON.stringify(call.input ?? {});
          blocks.update(useBlock);
        }
        const resultBlock = blocks.start({
          type: "tool_result",
          toolUseId: call.id,
          output: "",
          isError: false,
          durationMs: 0,
        });
        const started = Date.now();
        // What the tool printed so far, to tell the model the truth if the turn is cancelled.
        const soFar = new HeadTailBuffer(CANCELLED_OUTPUT_CHARS);
        let output: string;
        let isError: boolean;
        if (!tool) {
          output = `Unknown tool ${call.name}. Available: ${[...byName.keys()].join(", ")}`;
          isError = true;
        } else {
          try {
            const r = await tool.run(call.input, {
              sandbox,
              signal: o.signal,
              toolUseId: call.id,
              onOutput: (chunk) => {
                soFar.push(chunk);
                blocks.delta(resultBlock, { kind: "output", value: chunk });
              },
            });
            output = r.output;
            isError = r.isError;
          } catch (err) {
            if (!o.signal.aborted) {
              output = `${call.name} failed: ${err instanceof Error ? err.message : String(err)}`;
              isError = true;
            } else {
              const seconds = ((Date.now() - started) / 1000).toFixed(1);
              const printed = soFar.toString();
              output = `${printed === "" ? "(no output)" : printed.replace(/\n$/, "")}\n\n${call.name} was stopped after ${seconds} s: ${abortNote(o.signal)}.`;
              isError = true;
            }
          }
        }
        if (resultBlock.content.type === "tool_result") {
          resultBlock.content.output = output;
          resultBlock.content.isError = isError;
          resultBlock.content.durationMs = Date.now() - started;
        }
        blocks.complete(resultBlock);
        if (useBlock?.content.type === "tool_use") {
          useBlock.content.status = o.signal.aborted
            ? "cancelled"
            : isError
              ? "failed"
              : "succeeded";
          blocks.complete(useBlock);
        }
        results.push({
          type: "tool_result",
          tool_use_id: call.id,
          content: output,
          is_error: isError,
        });
        if (sandboxFailure) throw sandboxFailure;
        if (o.signal.aborted) {
          // What ran is answered truthfully; the calls after it were never started.
          messages.push({ role: "user", content: results });
          throw new TurnAborted(abortNote(o.signal));
        }
        // Every tool call may change files: compare the workspace with what was saved.
        await o.sink.syncWorkspace(o.context).catch(() => {});
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

/** Why a turn was stopped, for the model and the tool result ("cancelled by the user"). */
export function abortNote(signal: AbortSignal): string {
  const why = signal.reason as unknown;
  return why instanceof Error ? why.message : typeof why === "string" ? why : "cancelled";
}
