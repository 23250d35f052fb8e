// Turns the Messages API's stream events into the port's events and the step's final result.

import type {
  ContentBlockStartEvent,
  RawContentBlockDelta,
  RawMessageStreamEvent,
} from "@anthropic-ai/sdk/resources/messages";
import {
  type ModelContentBlock,
  ModelError,
  type ModelStepResult,
  type ModelStreamEvent,
  type ModelUsage,
  type StopReason,
} from "../../ports/model.js";

type Building =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "tool_use"; id: string; name: string; json: string };

interface ApiUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

export class StreamAccumulator {
  private readonly blocks: Building[] = [];
  /** API block index -> our index; blocks the port has no shape for are left out. */
  private readonly indexes = new Map<number, number>();
  private model: string | undefined;
  private stopReason: StopReason = "end_turn";
  private stopped = false;
  private readonly usage: ModelUsage = {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadInputTokens: 0,
    cacheCreationInputTokens: 0,
  };

  constructor(private readonly emit: (event: ModelStreamEvent) => void) {}

  handle(event: RawMessageStreamEvent): void {
    switch (event.type) {
      case "message_start":
        this.model = event.message.model;
        this.takeUsage(event.message.usage);
        return;
      case "content_block_start":
        this.start(event.index, event.content_block);
        return;
      case "content_block_delta": {
        const index = this.indexes.get(event.index);
        if (index !== undefined) this.delta(index, event.delta);
        return;
      }
      case "content_block_stop": {
        const index = this.indexes.get(event.index);
        if (index !== undefined) this.emit({ type: "block_stop", index });
        return;
      }
      case "message_delta":
        if (event.delta.stop_reason) this.stopReason = toStopReason(event.delta.stop_reason);
        this.takeUsage(event.usage);
        return;
      case "message_stop":
        this.stopped = true;
        return;
    }
  }

  result(requestedModel: string): ModelStepResult {
    if (!this.stopped) {
      throw new ModelError(
        "MODEL_STREAM_FAILED",
        "The model stream ended before message_stop",
        true,
      );
    }
    const content = this.blocks.map(
      (block): ModelContentBlock =>
        block.type === "tool_use"
          ? { type: "tool_use", id: block.id, name: block.name, input: parseInput(block) }
          : block,
    );
    return {
      message: { role: "assistant", content },
      stopReason: this.stopReason,
      usage: { ...this.usage },
      model: this.model || requestedModel,
    };
  }

  private start(apiIndex: number, block: ContentBlockStartEvent["content_block"]): void {
    const index = this.blocks.length;
    if (block.type === "text") {
      this.blocks.push({ type: "text", text: "" });
      this.emit({ type: "block_start", index, block: "text" });
    } else if (block.type === "thinking") {
      this.blocks.push({ type: "thinking", thinking: "", signature: "" });
      this.emit({ type: "block_start", index, block: "thinking" });
    } else if (block.type === "tool_use") {
      this.blocks.push({ type: "tool_use", id: block.id, name: block.name, json: "" });
      this.emit({ type: "block_start", index, block: "tool_use", id: block.id, name: block.name });
    } else {
      return;
    }
    this.indexes.set(apiIndex, index);
    // A block may start with content; it is streamed like the deltas that follow.
    if (block.type === "text" && block.text)
      this.delta(index, { type: "text_delta", text: block.text });
    if (block.type === "thinking") {
      if (block.thinking) this.delta(index, { type: "thinking_delta", thinking: block.thinking });
      if (block.signature) {
        this.delta(index, { type: "signature_delta", signature: block.signature });
      }
    }
  }

  private delta(index: number, delta: RawContentBlockDelta): void {
    const block = this.blocks[index];
    if (block?.type === "text" && delta.type === "text_delta") {
      block.text += delta.text;
      this.emit({ type: "text_delta", index, text: delta.text });
    } else if (block?.type === "thinking" && delta.type === "thinking_delta") {
      block.thinking += delta.thinking;
      this.emit({ type: "thinking_delta", index, thinking: delta.thinking });
    } else if (block?.type === "thinking" && delta.type === "signature_delta") {
      block.signature += delta.signature;
      this.emit({ type: "signature_delta", index, signature: delta.signature });
    } else if (block?.type === "tool_use" && delta.type === "input_json_delta") {
      block.json += delta.partial_json;
      this.emit({ type: "input_json_delta", index, partialJson: delta.partial_json });
    }
  }

  /** Fields the API leaves out (or null) keep their value. */
  private takeUsage(usage: ApiUsage): void {
    const u = this.usage;
    u.inputTokens = usage.input_tokens ?? u.inputTokens;
    u.outputTokens = usage.output_tokens ?? u.outputTokens;
    u.cacheReadInputTokens = usage.cache_read_input_tokens ?? u.cacheReadInputTokens;
    u.cacheCreationInputTokens = usage.cache_creation_input_tokens ?? u.cacheCreationInputTokens;
  }
}

function parseInput(block: { name: string; json: string }): unknown {
  if (!block.json.trim()) return {};
  try {
    return JSON.parse(block.json);
  } catch {
    throw new ModelError(
      "MODEL_STREAM_FAILED",
      `The input the model streamed for tool ${block.name} is not valid JSON`,
      true,
    );
  }
}

function toStopReason(reason: string): StopReason {
  switch (reason) {
    case "end_turn":
    case "tool_use":
    case "max_tokens":
    case "stop_sequence":
    case "refusal":
    case "pause_turn":
      return reason;
    case "model_context_window_exceeded":
      return "max_tokens";
    default:
      return "end_turn";
  }
}
