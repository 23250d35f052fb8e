// The model port: one streamed model step. Messages use the Anthropic Messages shape, which the
// Anthropic adapter passes through and the demo model reads.

export type ModelContentBlock =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "tool_use"; id: string; name: string; input: unknown }
  | { type: "tool_result"; tool_use_id: string; content: string; is_error?: boolean }
  | { type: "image"; source: { type: "base64"; media_type: string; data: string } }
  | { type: "document"; source: { type: "base64" | "text"; media_type: string; data: string } };

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

export interface ModelRequest {
  model: string;
  system: string;
  messages: ModelMessage[];
  tools: ModelTool[];
  maxOutputTokens: number;
  thinking?: { budgetTokens: number };
  signal?: AbortSignal;
}

/** Streamed as the model produces it; `index` is the content block's position in the step. */
export type ModelStreamEvent =
  | { type: "block_start"; index: number; block: "text" }
  | { type: "block_start"; index: number; block: "thinking" }
  | { type: "block_start"; index: number; block: "tool_use"; id: string; name: string }
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
}
