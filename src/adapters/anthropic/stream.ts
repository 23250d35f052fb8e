// Turns the Messages API's stream events into the port's events and the step's final result.
// Server tool blocks (server_tool_use, web_search_tool_result, web_fetch_tool_result), text
// citations and compaction blocks are kept as the API sent them, so they go back unchanged.

import type {
  BetaContextManagementResponse,
  BetaRawContentBlockStartEvent as ContentBlockStartEvent,
  BetaRawContentBlockDelta as RawContentBlockDelta,
  BetaRawMessageStreamEvent as RawMessageStreamEvent,
} from "@anthropic-ai/sdk/resources/beta/messages/messages";
import {
  type ModelCitation,
  type ModelContentBlock,
  ModelError,
  type ModelStepResult,
  type ModelStreamEvent,
  type ModelUsage,
  type StopReason,
} from "../../ports/model.js";

type Building =
  | { type: "text"; text: string; citations: ModelCitation[] }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "tool_use" | "server_tool_use"; id: string; name: string; json: string }
  | Extract<
      ModelContentBlock,
      { type: "web_search_tool_result" | "web_fetch_tool_result" | "compaction" }
    >;

interface ApiUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  server_tool_use?: { web_search_requests?: number; web_fetch_requests?: number } | null;
}

export class StreamAccumulator {
  private readonly blocks: Building[] = [];
  /** API block index -> our index; blocks the port has no shape for are left out. */
  private readonly indexes = new Map<number, number>();
  private model: string | undefined;
  private stopReason: StopReason = "end_turn";
  private stopped = false;
  private contextEdited: ModelStepResult["contextEdited"];
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
        this.takeContextManagement(event.context_management);
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
    const content = this.blocks.map((block): ModelContentBlock => {
      switch (block.type) {
        case "tool_use":
          return { type: "tool_use", id: block.id, name: block.name, input: parseInput(block) };
        case "server_tool_use":
          return {
            type: "server_tool_use",
            id: block.id,
            name: block.name as "web_search" | "web_fetch",
            input: parseInput(block),
          };
        case "text":
          return block.citations.length > 0
            ? { type: "text", text: block.text, citations: block.citations }
            : { type: "text", text: block.text };
        default:
          return block;
      }
    });
    return {
      message: { role: "assistant", content },
      stopReason: this.stopReason,
      usage: { ...this.usage },
      model: this.model || requestedModel,
      ...(this.contextEdited ? { contextEdited: this.contextEdited } : {}),
    };
  }

  private takeContextManagement(cm: BetaContextManagementResponse | null | undefined): void {
    let clearedToolUses = 0;
    let clearedInputTokens = 0;
    for (const edit of cm?.applied_edits ?? []) {
      if (edit.type !== "clear_tool_uses_20250919") continue;
      clearedToolUses += edit.cleared_tool_uses;
      clearedInputTokens += edit.cleared_input_tokens;
    }
    if (clearedToolUses > 0) this.contextEdited = { clearedToolUses, clearedInputTokens };
  }

  private start(apiIndex: number, block: ContentBlockStartEvent["content_block"]): void {
    const index = this.blocks.length;
    if (block.type === "text") {
      this.blocks.push({ type: "text", text: "", citations: [] });
      this.emit({ type: "block_start", index, block: "text" });
    } else if (block.type === "thinking") {
      this.blocks.push({ type: "thinking", thinking: "", signature: "" });
      this.emit({ type: "block_start", index, block: "thinking" });
    } else if (block.type === "tool_use") {
      this.blocks.push({ type: "tool_use", id: block.id, name: block.name, json: "" });
      this.emit({ type: "block_start", index, block: "tool_use", id: block.id, name: block.name });
    } else if (
      block.type === "server_tool_use" &&
      (block.name === "web_search" || block.name === "web_fetch")
    ) {
      this.blocks.push({ type: "server_tool_use", id: block.id, name: block.name, json: "" });
      this.emit({
        type: "block_start",
        index,
        block: "server_tool_use",
        id: block.id,
        name: block.name,
      });
      // The input may come whole with the start rather than as deltas.
      if (block.input && Object.keys(block.input).length > 0) {
        this.delta(index, { type: "input_json_delta", partial_json: JSON.stringify(block.input) });
      }
    } else if (block.type === "web_search_tool_result") {
      this.blocks.push({
        type: "web_search_tool_result",
        tool_use_id: block.tool_use_id,
        content: block.content,
      });
      const results = Array.isArray(block.content) ? block.content : [];
      this.emit({
        type: "block_start",
        index,
        block: "web_search_result",
        toolUseId: block.tool_use_id,
        results: results.map((r) => ({ url: r.url, title: r.title, pageAge: r.page_age ?? "" })),
        errorCode: Array.isArray(block.content) ? "" : block.content.error_code,
      });
    } else if (block.type === "web_fetch_tool_result") {
      this.blocks.push({
        type: "web_fetch_tool_result",
        tool_use_id: block.tool_use_id,
        content: block.content,
      });
      const c = block.content;
      const fetched = c.type === "web_fetch_result" ? c : undefined;
      const source = fetched?.content.source;
      this.emit({
        type: "block_start",
        index,
        block: "web_fetch_result",
        toolUseId: block.tool_use_id,
        url: fetched?.url ?? "",
        title: fetched?.content.title ?? "",
        content: source?.type === "text" ? source.data : "",
        errorCode: c.type === "web_fetch_tool_result_error" ? c.error_code : "",
      });
    } else if (block.type === "compaction") {
      this.blocks.push({
        type: "compaction",
        content: block.content,
        encrypted_content: block.encrypted_content,
        ...(block.signature != null ? { signature: block.signature } : {}),
      });
      this.emit({ type: "block_start", index, block: "compaction" });
      if (block.content) this.emit({ type: "compaction_delta", index, content: block.content });
    } else {
      return;
    }
    this.indexes.set(apiIndex, index);
    // A block may start with content; it is streamed like the deltas that follow.
    if (block.type === "text" && block.text)
      this.delta(index, { type: "text_delta", text: block.text });
    if (block.type === "text") {
      for (const citation of block.citations ?? []) {
        this.delta(index, { type: "citations_delta", citation });
      }
    }
    if (block.type === "thinking") {
      if (block.thinking)
        this.delta(index, {
          type: "thinking_delta",
          thinking: block.thinking,
          estimated_tokens: null,
        });
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
    } else if (
      (block?.type === "tool_use" || block?.type === "server_tool_use") &&
      delta.type === "input_json_delta"
    ) {
      block.json += delta.partial_json;
      this.emit({ type: "input_json_delta", index, partialJson: delta.partial_json });
    } else if (block?.type === "text" && delta.type === "citations_delta") {
      const c = delta.citation as unknown as ModelCitation;
      block.citations.push(c);
      this.emit({ type: "citation", index, citation: toCitation(c) });
    } else if (block?.type === "compaction" && delta.type === "compaction_delta") {
      // The API sends the summary whole in one delta; later deltas replace it.
      if (delta.content != null) {
        block.content = delta.content;
        this.emit({ type: "compaction_delta", index, content: delta.content });
      }
      if (delta.encrypted_content != null) block.encrypted_content = delta.encrypted_content;
    }
  }

  /** Fields the API leaves out (or null) keep their value. */
  private takeUsage(usage: ApiUsage): void {
    const u = this.usage;
    u.inputTokens = usage.input_tokens ?? u.inputTokens;
    u.outputTokens = usage.output_tokens ?? u.outputTokens;
    u.cacheReadInputTokens = usage.cache_read_input_tokens ?? u.cacheReadInputTokens;
    u.cacheCreationInputTokens = usage.cache_creation_input_tokens ?? u.cacheCreationInputTokens;
    const server = usage.server_tool_use;
    if (server?.web_search_requests) u.webSearchRequests = server.web_search_requests;
    if (server?.web_fetch_requests) u.webFetchRequests = server.web_fetch_requests;
  }
}

function toCitation(c: ModelCitation): { url: string; title: string; citedText: string } {
  const url = typeof c.url === "string" ? c.url : "";
  const title =
    typeof c.title === "string"
      ? c.title
      : typeof c.document_title === "string"
        ? c.document_title
        : "";
  return { url, title, citedText: c.cited_text };
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
