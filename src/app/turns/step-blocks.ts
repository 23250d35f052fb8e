// One model step's stream as blocks: text, thinking, tool calls, the provider's own tool calls
// (WebSearch, WebFetch) with their results, citations, and a compaction the provider made.

import type { Block, BlockContent } from "../../domain/types.js";
import type { ModelStreamEvent, ServerToolName } from "../../ports/model.js";
import type { BlockWriter } from "./blocks.js";

/** The profile's tool names for the provider's tools. */
export const SERVER_TOOL_NAMES: Record<ServerToolName, string> = {
  web_search: "WebSearch",
  web_fetch: "WebFetch",
};

/** The provider's tools a profile's `tools` switch on. */
export function serverToolsOf(toolNames: readonly string[]): ServerToolName[] {
  return (Object.keys(SERVER_TOOL_NAMES) as ServerToolName[]).filter((n) =>
    toolNames.includes(SERVER_TOOL_NAMES[n]),
  );
}

export class StepBlocks {
  /** The step's blocks by the step's content index. */
  readonly open = new Map<number, Block>();
  /** What the step streamed as text, for a partial assistant message if it is cut short. */
  partialText = "";
  /** A compaction block the provider streamed; the loop completes it once it is applied. */
  compaction: Block | undefined;

  /**
   * `serverCalls` outlives the step: a provider tool call whose result comes in a later step
   * (after pause_turn) is completed then.
   */
  constructor(
    private readonly blocks: BlockWriter,
    private readonly serverCalls: Map<string, Block>,
    private readonly tokensBefore: number,
  ) {}

  readonly onEvent = (e: ModelStreamEvent): void => {
    if (e.type === "block_start") {
      const block = this.start(e);
      this.open.set(e.index, block);
      return;
    }
    const block = this.open.get(e.index);
    if (!block) return;
    const c = block.content;
    switch (e.type) {
      case "text_delta":
        this.partialText += e.text;
        this.blocks.delta(block, { kind: "text", value: e.text });
        break;
      case "thinking_delta":
        this.blocks.delta(block, { kind: "thinking", value: e.thinking });
        break;
      case "signature_delta":
        if (c.type === "thinking") c.signature += e.signature;
        break;
      case "input_json_delta":
        this.blocks.delta(block, { kind: "input_json", value: e.partialJson });
        break;
      case "citation":
        if (c.type === "assistant_text") {
          c.citations = [...(c.citations ?? []), e.citation];
          this.blocks.update(block);
        }
        break;
      case "compaction_delta":
        if (c.type === "compaction") c.summary = e.content;
        break;
      case "block_stop":
        // Tool calls complete with their results; a compaction once it is applied.
        if (c.type !== "tool_use" && c.type !== "compaction") this.blocks.complete(block);
        break;
    }
  };

  private start(e: Extract<ModelStreamEvent, { type: "block_start" }>): Block {
    switch (e.block) {
      case "text":
        return this.blocks.start({ type: "assistant_text", text: "" });
      case "thinking":
        return this.blocks.start({ type: "thinking", thinking: "", signature: "" });
      case "tool_use":
        return this.blocks.start({
          type: "tool_use",
          toolUseId: e.id,
          toolName: e.name,
          inputJson: "",
          status: "pending",
        });
      case "server_tool_use": {
        const block = this.blocks.start({
          type: "tool_use",
          toolUseId: e.id,
          toolName: SERVER_TOOL_NAMES[e.name as ServerToolName] ?? e.name,
          inputJson: "",
          status: "running",
          serverTool: true,
        });
        this.serverCalls.set(e.id, block);
        return block;
      }
      case "web_search_result":
        this.answer(e.toolUseId, e.errorCode);
        return this.blocks.start({
          type: "web_search_result",
          toolUseId: e.toolUseId,
          results: e.results,
          errorCode: e.errorCode,
        });
      case "web_fetch_result":
        this.answer(e.toolUseId, e.errorCode);
        return this.blocks.start({
          type: "web_fetch_result",
          toolUseId: e.toolUseId,
          url: e.url,
          title: e.title,
          content: e.content,
          errorCode: e.errorCode,
        });
      case "compaction": {
        const content: BlockContent = {
          type: "compaction",
          summary: "",
          tokensBefore: this.tokensBefore,
          messagesCompacted: 0,
          method: "server",
        };
        this.compaction = this.blocks.start(content);
        return this.compaction;
      }
    }
  }

  /** The provider ran a call: its tool_use block completes before its result block starts. */
  private answer(toolUseId: string, errorCode: string): void {
    const call = this.serverCalls.get(toolUseId);
    if (call?.content.type !== "tool_use") return;
    this.serverCalls.delete(toolUseId);
    call.content.status = errorCode ? "failed" : "succeeded";
    this.blocks.complete(call);
  }
}
