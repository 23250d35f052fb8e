// The Messages API request for a model step, with prompt caching.
//
// Prompt caching uses the API's limit of 4 `cache_control: {type: "ephemeral"}` breakpoints: the
// system prompt, the last tool definition, the last message and the user message before it.
// The last-message breakpoint writes the conversation so far; the one before it reads what the
// previous step wrote even when that step added more than the API's 20-block lookback.

import type {
  Base64ImageSource,
  ContentBlockParam,
  MessageCreateParamsStreaming,
  Tool,
} from "@anthropic-ai/sdk/resources/messages";
import type { ModelContentBlock, ModelMessage, ModelRequest } from "../../ports/model.js";
import { thinkingFor } from "./thinking.js";

const EPHEMERAL = { type: "ephemeral" } as const;

interface MessageParam {
  role: ModelMessage["role"];
  content: ContentBlockParam[];
}

export function buildParams(request: ModelRequest): MessageCreateParamsStreaming {
  const messages = request.messages.map(toMessageParam);
  markLatestMessages(messages);
  const params: MessageCreateParamsStreaming = {
    model: request.model,
    max_tokens: request.maxOutputTokens,
    messages,
    stream: true,
  };
  if (request.system) {
    params.system = [{ type: "text", text: request.system, cache_control: EPHEMERAL }];
  }
  if (request.tools.length > 0) {
    const last = request.tools.length - 1;
    params.tools = request.tools.map(
      (tool, i): Tool => ({
        name: tool.name,
        description: tool.description,
        input_schema: { type: "object", ...tool.inputSchema },
        ...(i === last ? { cache_control: EPHEMERAL } : {}),
      }),
    );
  }
  if (request.thinking) {
    const { thinking, maxTokens } = thinkingFor(
      request.model,
      request.thinking.budgetTokens,
      request.maxOutputTokens,
    );
    params.thinking = thinking;
    params.max_tokens = maxTokens;
  }
  return params;
}

/** Marks the last message that takes a breakpoint, then the user message before it. */
function markLatestMessages(messages: MessageParam[]): void {
  let marked = 0;
  for (let i = messages.length - 1; i >= 0 && marked < 2; i--) {
    const message = messages[i];
    if (!message || (marked > 0 && message.role !== "user")) continue;
    if (markLastCacheableBlock(message.content)) marked++;
  }
}

function markLastCacheableBlock(content: ContentBlockParam[]): boolean {
  for (let i = content.length - 1; i >= 0; i--) {
    const block = content[i];
    // Thinking blocks cannot carry cache_control, and an empty text block is rejected anyway.
    if (!block || block.type === "thinking" || (block.type === "text" && !block.text)) continue;
    (block as { cache_control?: typeof EPHEMERAL }).cache_control = EPHEMERAL;
    return true;
  }
  return false;
}

function toMessageParam(message: ModelMessage): MessageParam {
  return { role: message.role, content: message.content.map(toBlockParam) };
}

function toBlockParam(block: ModelContentBlock): ContentBlockParam {
  switch (block.type) {
    case "text":
      return { type: "text", text: block.text };
    case "thinking":
      return { type: "thinking", thinking: block.thinking, signature: block.signature };
    case "tool_use":
      return { type: "tool_use", id: block.id, name: block.name, input: block.input };
    case "tool_result":
      return {
        type: "tool_result",
        tool_use_id: block.tool_use_id,
        content: block.content,
        ...(block.is_error !== undefined ? { is_error: block.is_error } : {}),
      };
    case "image":
      return {
        type: "image",
        source: {
          type: "base64",
          media_type: block.source.media_type as Base64ImageSource["media_type"],
          data: block.source.data,
        },
      };
    case "document":
      return {
        type: "document",
        source:
          block.source.type === "text"
            ? { type: "text", media_type: "text/plain", data: block.source.data }
            : { type: "base64", media_type: "application/pdf", data: block.source.data },
      };
  }
}
