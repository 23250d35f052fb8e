// One tool call of a step, from its tool_use block to its tool_result: run by the agent loop,
// and by a turn that goes on after its calls waited for answers.

import type { Block } from "../../domain/types.js";
import type { ModelContentBlock } from "../../ports/model.js";
import { annotate, inSpan } from "../observe/tracing.js";
import { HeadTailBuffer } from "../tools/bash.js";
import type { Tool, ToolContext } from "../tools/types.js";
import type { BlockWriter } from "./blocks.js";

/** Characters of a cancelled tool's output that go back to the model. */
const CANCELLED_OUTPUT_CHARS = 10_000;

export interface ModelToolCall {
  id: string;
  name: string;
  input: unknown;
}

export interface CallDeps {
  blocks: BlockWriter;
  tools: ReadonlyMap<string, Tool>;
  sandbox: ToolContext["sandbox"];
  signal: AbortSignal;
  /** Why the turn was stopped, for a call cut short. */
  abortNote(): string;
}

/** What a call gets instead of running: refused (the message says why), or a given result. */
export type CallOverride =
  | { kind: "deny"; message: string }
  | { kind: "result"; output: string; isError: boolean };

/**
 * Runs one call (or applies `override`): its tool_use block goes running, its tool_result block
 * streams the output, both complete. Returns the result for the model.
 */
export async function runToolCall(
  call: ModelToolCall,
  useBlock: Block | undefined,
  d: CallDeps,
  override?: CallOverride,
): Promise<Extract<ModelContentBlock, { type: "tool_result" }>> {
  const { blocks } = d;
  const tool = d.tools.get(call.name);
  if (useBlock?.content.type === "tool_use") {
    useBlock.content.status = override?.kind === "deny" ? "denied" : "running";
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
  if (override?.kind === "deny") {
    output = override.message;
    isError = true;
  } else if (override?.kind === "result") {
    output = override.output;
    isError = override.isError;
  } else if (!tool) {
    output = `Unknown tool ${call.name}. Available: ${[...d.tools.keys()].join(", ")}`;
    isError = true;
  } else {
    try {
      const r = await inSpan(`execute_tool ${call.name}`, toolSpan(call), () =>
        tool.run(call.input, {
          sandbox: d.sandbox,
          signal: d.signal,
          toolUseId: call.id,
          onOutput: (chunk) => {
            soFar.push(chunk);
            blocks.delta(resultBlock, { kind: "output", value: chunk });
          },
        }),
      );
      annotateResult(r.isError);
      output = r.output;
      isError = r.isError;
    } catch (err) {
      if (!d.signal.aborted) {
        output = `${call.name} failed: ${err instanceof Error ? err.message : String(err)}`;
        isError = true;
      } else {
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        const printed = soFar.toString();
        output = `${printed === "" ? "(no output)" : printed.replace(/\n$/, "")}\n\n${call.name} was stopped after ${seconds} s: ${d.abortNote()}.`;
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
    useBlock.content.status =
      override?.kind === "deny"
        ? "denied"
        : d.signal.aborted
          ? "cancelled"
          : isError
            ? "failed"
            : "succeeded";
    blocks.complete(useBlock);
  }
  return { type: "tool_result", tool_use_id: call.id, content: output, is_error: isError };
}

/** A tool call's span attributes (OpenTelemetry GenAI conventions). */
function toolSpan(call: ModelToolCall) {
  return {
    "gen_ai.operation.name": "execute_tool",
    "gen_ai.tool.name": call.name,
    "gen_ai.tool.call.id": call.id,
  };
}

/** Marks the active tool span with the result's kind. */
function annotateResult(isError: boolean): void {
  annotate({ "agentruntime.tool.is_error": isError });
}
