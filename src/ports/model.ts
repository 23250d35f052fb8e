// The model port: one streamed model step. Messages use the Anthropic Messages shape, which the
// Anthropic adapter passes through and the demo model reads. Server tool blocks (web search and
// fetch), citations and compaction blocks are kept as the API sent them: they go back unchanged.

import type { Citation } from "../domain/types.js";

/** A citation as the API sent it (`web_search_result_location`, `char_location`, ...). */
export type ModelCitation = { type: string; cited_text: string } & Record<string, unknown>;

/** The provider's own tools: the runtime offers them, the provider runs them. */
export type ServerToolName = "web_search" | "web_fetch";

export type ModelContentBlock =
  | { type: "text"; text: string; citations?: ModelCitation[] }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "tool_use"; id: string; name: string; input: unknown }
  | { type: "tool_result"; tool_use_id: string; content: string; is_error?: boolean }
  | { type: "image"; source: { type: "base64"; media_type: string; data: string } }
  | { type: "document"; source: { type: "base64" | "text"; media_type: string; data: string } }
  | { type: "server_tool_use"; id: string; name: ServerToolName; input: unknown }
  /** `content`: the API's result (a list of results or an error object), passed back as is. */
  | { type: "web_search_tool_result"; tool_use_id: string; content: unknown }
  | { type: "web_fetch_tool_result"; tool_use_id: string; content: unknown }
  /** The provider's summary of what came before it; the provider ignores what precedes it. */
  | {
      type: "compaction";
      content: string | null;
      encrypted_content?: string | null;
      signature?: string | null;
    };

export interface ModelMessage {
  role: "user" | "assistant";
  content: ModelContentBlock[];
}

export interface ModelTool {
  name: string;
  description: string;
  /** JSON Schema of the input. */
  inputSchema: Record<string, unknown>;
}

/** Context management the provider applies itself (only where `features` says it can). */
export interface ModelContextManagement {
  /** Compact (summarise) the conversation once the input passes this many tokens. */
  compactAtTokens?: number;
  /** Clear old tool results once the input passes `triggerTokens`, keeping the last `keep`. */
  clearToolUses?: { triggerTokens: number; keep: number };
}

export interface ModelRequest {
  model: string;
  system: string;
  messages: ModelMessage[];
  tools: ModelTool[];
  /** The provider's own tools to offer (a provider without them ignores them). */
  serverTools?: ServerToolName[];
  contextManagement?: ModelContextManagement;
  maxOutputTokens: number;
  thinking?: { budgetTokens: number };
  signal?: AbortSignal;
}

/** What a provider does itself for a model; what it does not, the runtime does. */
export interface ModelFeatures {
  serverCompaction: boolean;
  serverToolClearing: boolean;
}

/** Streamed as the model produces it; `index` is the content block's position in the step. */
export type ModelStreamEvent =
  | { type: "block_start"; index: number; block: "text" }
  | { type: "block_start"; index: number; block: "thinking" }
  | { type: "block_start"; index: number; block: "tool_use"; id: string; name: string }
  | { type: "block_start"; index: number; block: "server_tool_use"; id: string; name: string }
  | {
      type: "block_start";
      index: number;
      block: "web_search_result";
      toolUseId: string;
      results: { url: string; title: string; pageAge: string }[];
      errorCode: string;
    }
  | {
      type: "block_start";
      index: number;
      block: "web_fetch_result";
      toolUseId: string;
      url: string;
      title: string;
      content: string;
      errorCode: string;
    }
  | { type: "block_start"; index: number; block: "compaction" }
  | { type: "compaction_delta"; index: number; content: string }
  | { type: "citation"; index: number; citation: Citation }
  | { type: "text_delta"; index: number; text: string }
  | { type: "thinking_delta"; index: number; thinking: string }
  | { type: "signature_delta"; index: number; signature: string }
  | { type: "input_json_delta"; index: number; partialJson: string }
  | { type: "block_stop"; index: number };

export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
  /** Server tool calls the provider ran in the step (absent: none). */
  webSearchRequests?: number;
  webFetchRequests?: number;
}

export type StopReason =
  | "end_turn"
  | "tool_use"
  | "max_tokens"
  | "stop_sequence"
  | "refusal"
  | "pause_turn";

export interface ModelStepResult {
  /** The assistant message as it should go back into `messages` on the next step. */
  message: ModelMessage;
  stopReason: StopReason;
  usage: ModelUsage;
  model: string;
  /** Old tool results the provider cleared from its view of the conversation. */
  contextEdited?: { clearedToolUses: number; clearedInputTokens: number };
}

/** Why a step failed; `retryable` errors were already retried by the provider. */
export class ModelError extends Error {
  override readonly name = "ModelError";
  constructor(
    readonly reason:
      | "MODEL_AUTH_FAILED"
      | "MODEL_RATE_LIMITED"
      | "MODEL_OVERLOADED"
      | "MODEL_SERVER_ERROR"
      | "MODEL_BAD_REQUEST"
      | "MODEL_STREAM_FAILED"
      | "MODEL_NOT_CONFIGURED"
      | "MODEL_CANCELLED",
    message: string,
    readonly retryable = false,
  ) {
    super(message);
  }
}

export interface ModelProvider {
  /**
   * Runs one step: streams events to `onEvent` as they arrive and resolves with the final
   * message. Rejects with ModelError (MODEL_CANCELLED when `request.signal` aborts).
   */
  step(request: ModelRequest, onEvent: (event: ModelStreamEvent) => void): Promise<ModelStepResult>;
  /** What the provider does itself for `model`; absent: nothing (the runtime does it all). */
  features?(model: string): ModelFeatures;
}
