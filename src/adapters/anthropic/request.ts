// The Messages API request for a model step, with prompt caching.
//
// Prompt caching uses the API's limit of 4 `cache_control: {type: "ephemeral"}` breakpoints: the
// system prompt, the last tool definition, the last message and the user message before it.
// The last-message breakpoint writes the conversation so far; the one before it reads what the
// previous step wrote even when that step added more than the API's 20-block lookback.
//
// The request goes to the beta Messages endpoint (a superset of the GA one): server-side
// compaction (`compact_20260112`) and context editing (`clear_tool_uses_20250919`) are beta
// features, sent with their `anthropic-beta` values only when the request asks for them. Web
// search and web fetch (`web_search_20260318`, `web_fetch_20260318`) need no beta value.

import type {
  BetaBase64ImageSource as Base64ImageSource,
  BetaContextManagementConfig,
  BetaTextCitationParam,
  BetaToolUnion,
  BetaWebFetchToolResultBlockParam,
  BetaWebSearchToolResultBlockParam,
  BetaContentBlockParam as ContentBlockParam,
  MessageCreateParamsStreaming,
} from "@anthropic-ai/sdk/resources/beta/messages/messages";
import type {
  ModelContentBlock,
  ModelContextManagement,
  ModelMessage,
  ModelRequest,
  ServerToolName,
} from "../../ports/model.js";
import { thinkingFor } from "./thinking.js";

export const COMPACTION_BETA = "compact-2026-01-12";
export const CONTEXT_MANAGEMENT_BETA = "context-management-2025-06-27";

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
  const tools: BetaToolUnion[] = [
    ...request.tools.map(
      (tool): BetaToolUnion => ({
        name: tool.name,
        description: tool.description,
        input_schema: { type: "object", ...tool.inputSchema },
      }),
    ),
    ...[...new Set(request.serverTools ?? [])].map(serverTool),
  ];
  const lastTool = tools.at(-1);
  if (lastTool) {
    (lastTool as { cache_control?: typeof EPHEMERAL }).cache_control = EPHEMERAL;
    params.tools = tools;
  }
  const management = contextManagement(request.contextManagement);
  if (management) {
    params.context_management = management.config;
    params.betas = management.betas;
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

function serverTool(name: ServerToolName): BetaToolUnion {
  return name === "web_search"
    ? { type: "web_search_20260318", name: "web_search" }
    : { type: "web_fetch_20260318", name: "web_fetch" };
}

function contextManagement(
  m: ModelContextManagement | undefined,
): { config: BetaContextManagementConfig; betas: string[] } | undefined {
  const edits: NonNullable<BetaContextManagementConfig["edits"]> = [];
  const betas: string[] = [];
  if (m?.clearToolUses) {
    edits.push({
      type: "clear_tool_uses_20250919",
      trigger: { type: "input_tokens", value: m.clearToolUses.triggerTokens },
      keep: { type: "tool_uses", value: m.clearToolUses.keep },
    });
    betas.push(CONTEXT_MANAGEMENT_BETA);
  }
  if (m?.compactAtTokens) {
    edits.push({
      type: "compact_20260112",
      trigger: { type: "input_tokens", value: m.compactAtTokens },
    });
    betas.push(COMPACTION_BETA);
  }
  return edits.length > 0 ? { config: { edits }, betas } : undefined;
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
    if (
      !block ||
      block.type === "thinking" ||
      block.type === "compaction" ||
      (block.type === "text" && !block.text)
    ) {
      continue;
    }
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
      return block.citations?.length
        ? {
            type: "text",
            text: block.text,
            citations: block.citations as unknown as BetaTextCitationParam[],
          }
        : { type: "text", text: block.text };
    case "server_tool_use":
      return { type: "server_tool_use", id: block.id, name: block.name, input: block.input };
    case "web_search_tool_result":
      return {
        type: "web_search_tool_result",
        tool_use_id: block.tool_use_id,
        content: block.content as BetaWebSearchToolResultBlockParam["content"],
      };
    case "web_fetch_tool_result":
      return {
        type: "web_fetch_tool_result",
        tool_use_id: block.tool_use_id,
        content: block.content as BetaWebFetchToolResultBlockParam["content"],
      };
    case "compaction":
      return {
        type: "compaction",
        content: block.content,
        ...(block.encrypted_content != null ? { encrypted_content: block.encrypted_content } : {}),
        ...(block.signature != null ? { signature: block.signature } : {}),
      };
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
