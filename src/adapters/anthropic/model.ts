// The model port on the Anthropic Messages API, through @anthropic-ai/sdk with streaming.
//
// Retry policy (the SDK's own retries are off: `maxRetries: 0`):
// - Retried: 429 (rate limited), 529 and `overloaded_error` (overloaded), 408/409 and 5xx (server
//   error), connection failures and broken streams - but only while the attempt has not yet
//   produced a content event. Once a block has been streamed to `onEvent` the caller has shown it
//   live, so a failure after that point is never retried here: the step rejects with
//   MODEL_STREAM_FAILED (retryable=true: the turn may be tried again).
// - Up to MAX_RETRIES retries, exponential backoff from BASE_DELAY_MS doubling to MAX_DELAY_MS,
//   with "equal jitter" (half fixed, half random). A `retry-after-ms` / `retry-after` header wins
//   over the backoff; one asking for more than MAX_RETRY_AFTER_MS is not waited for. A response
//   saying `x-should-retry: false` is not retried.
// - Never retried: 401/402/403 (MODEL_AUTH_FAILED), other 4xx (MODEL_BAD_REQUEST), cancellation.
//
// Prompt caching: at most 4 `cache_control: {type: "ephemeral"}` breakpoints (the API's limit):
// the system prompt, the last tool definition, the last message and the user message before it.
// The last-message breakpoint writes the conversation so far; the one before it reads what the
// previous step wrote even when that step added more than the API's 20-block lookback.

import Anthropic, { APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import type {
  ContentBlockParam,
  MessageCreateParamsStreaming,
  MessageParam,
  RawMessageStreamEvent,
  ThinkingConfigParam,
  Tool,
} from "@anthropic-ai/sdk/resources/messages";
import {
  type ModelContentBlock,
  ModelError,
  type ModelMessage,
  type ModelProvider,
  type ModelRequest,
  type ModelStepResult,
  type ModelStreamEvent,
  type ModelUsage,
  type StopReason,
} from "../../ports/model.js";

/** Retries after the first attempt. */
export const MAX_RETRIES = 4;
/** First backoff; doubles per retry. */
export const BASE_DELAY_MS = 1_000;
/** Backoff ceiling. */
export const MAX_DELAY_MS = 30_000;
/** A `retry-after` longer than this is not waited for: the step fails at once. */
export const MAX_RETRY_AFTER_MS = 60_000;
/** A stream that sends nothing for this long is treated as broken (the API pings while idle). */
export const STREAM_IDLE_TIMEOUT_MS = 10 * 60_000;
/** The API allows at most this many cache_control breakpoints per request. */
export const MAX_CACHE_BREAKPOINTS = 4;

export interface RetryInfo {
  /** 1 for the first retry. */
  retry: number;
  delayMs: number;
  error: ModelError;
}

export interface AnthropicModelProviderOptions {
  /** Default: the ANTHROPIC_API_KEY environment variable. */
  apiKey?: string;
  /** Default: unset, so the SDK uses ANTHROPIC_BASE_URL or https://api.anthropic.com. */
  baseURL?: string;
  /** Retries after the first attempt; default MAX_RETRIES. */
  maxRetries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxRetryAfterMs?: number;
  streamIdleTimeoutMs?: number;
  /** Called before each wait between attempts (logging, tests). */
  onRetry?: (info: RetryInfo) => void;
  /** Jitter source in [0, 1); default Math.random. */
  random?: () => number;
}

export class AnthropicModelProvider implements ModelProvider {
  private readonly client: Anthropic | undefined;
  private readonly notConfigured: string | undefined;
  private readonly maxRetries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly streamIdleTimeoutMs: number;
  private readonly onRetry: ((info: RetryInfo) => void) | undefined;
  private readonly random: () => number;

  constructor(options: AnthropicModelProviderOptions = {}) {
    this.maxRetries = options.maxRetries ?? MAX_RETRIES;
    this.baseDelayMs = options.baseDelayMs ?? BASE_DELAY_MS;
    this.maxDelayMs = options.maxDelayMs ?? MAX_DELAY_MS;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS;
    this.streamIdleTimeoutMs = options.streamIdleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS;
    this.onRetry = options.onRetry;
    this.random = options.random ?? Math.random;

    const apiKey = options.apiKey || process.env.ANTHROPIC_API_KEY || undefined;
    if (!apiKey) {
      this.notConfigured =
        "No Anthropic API key: set ANTHROPIC_API_KEY (or pass apiKey) to use the anthropic model provider";
      return;
    }
    try {
      // The key is passed explicitly, so the SDK reads no other credential from the environment
      // or from a profile. baseURL stays undefined unless given: the SDK then honours
      // ANTHROPIC_BASE_URL itself.
      this.client = new Anthropic({
        apiKey,
        maxRetries: 0,
        ...(options.baseURL ? { baseURL: options.baseURL } : {}),
      });
    } catch (error) {
      this.notConfigured = `The Anthropic client could not be created: ${errorText(error)}`;
    }
  }

  async step(
    request: ModelRequest,
    onEvent: (event: ModelStreamEvent) => void,
  ): Promise<ModelStepResult> {
    const { signal } = request;
    if (!this.client) throw new ModelError("MODEL_NOT_CONFIGURED", this.notConfigured ?? "");
    const params = buildParams(request);

    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw cancelled();
      const progress = { emitted: false };
      try {
        return await this.attempt(this.client, params, signal, progress, onEvent);
      } catch (caught) {
        if (caught instanceof ConsumerError) throw caught.cause;
        const error = classify(caught, signal);
        if (error.reason === "MODEL_CANCELLED") throw error;
        if (progress.emitted) {
          throw error.reason === "MODEL_STREAM_FAILED"
            ? error
            : new ModelError(
                "MODEL_STREAM_FAILED",
                `The model stream failed after content had been streamed: ${error.message}`,
                true,
              );
        }
        const tried = attempt + 1;
        if (!error.retryable || headerOf(caught, "x-should-retry") === "false") throw error;
        if (attempt >= this.maxRetries) throw withAttempts(error, tried);
        const retryAfterMs = retryAfterOf(caught);
        if (retryAfterMs !== undefined && retryAfterMs > this.maxRetryAfterMs) {
          throw new ModelError(
            error.reason,
            `${error.message} (the API asked to wait ${Math.ceil(retryAfterMs / 1000)} s; not retried)`,
            true,
          );
        }
        const delayMs = retryAfterMs ?? this.backoff(attempt);
        this.onRetry?.({ retry: tried, delayMs, error });
        await sleep(delayMs, signal);
      }
    }
  }

  private backoff(attempt: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt);
    return ceiling / 2 + this.random() * (ceiling / 2);
  }

  private async attempt(
    client: Anthropic,
    params: MessageCreateParamsStreaming,
    signal: AbortSignal | undefined,
    progress: { emitted: boolean },
    onEvent: (event: ModelStreamEvent) => void,
  ): Promise<ModelStepResult> {
    // One controller per attempt: the caller's signal and the idle timer both abort it, and
    // aborting it makes the SDK abort the HTTP request.
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal?.addEventListener("abort", abort, { once: true });
    let idle = false;
    let timer: NodeJS.Timeout | undefined;
    const armIdleTimer = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        controller.abort();
      }, this.streamIdleTimeoutMs);
    };
    const idleError = () =>
      new ModelError(
        "MODEL_STREAM_FAILED",
        `The model API sent nothing for ${this.streamIdleTimeoutMs} ms`,
        true,
      );

    const accumulator = new StepAccumulator((event) => {
      progress.emitted = true;
      try {
        onEvent(event);
      } catch (error) {
        controller.abort();
        throw new ConsumerError(error);
      }
    });
    try {
      armIdleTimer();
      const stream = await client.messages.create(params, { signal: controller.signal });
      for await (const event of stream) {
        armIdleTimer();
        accumulator.handle(event);
      }
      // The SDK ends the iteration quietly when its request is aborted.
      if (signal?.aborted) throw cancelled();
      if (idle) throw idleError();
      return accumulator.result(params.model);
    } catch (error) {
      if (error instanceof ConsumerError) throw error;
      if (signal?.aborted) throw cancelled();
      if (idle) throw idleError();
      throw error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
      if (!controller.signal.aborted) controller.abort();
    }
  }
}

// ---- Request building -------------------------------------------------------------------------

const EPHEMERAL = { type: "ephemeral" } as const;

export function buildParams(request: ModelRequest): MessageCreateParamsStreaming {
  let breakpoints = 0;
  const params: MessageCreateParamsStreaming = {
    model: request.model,
    max_tokens: request.maxOutputTokens,
    messages: request.messages.map(toMessageParam),
    stream: true,
  };
  if (request.system) {
    params.system = [{ type: "text", text: request.system, cache_control: EPHEMERAL }];
    breakpoints++;
  }
  if (request.tools.length > 0) {
    params.tools = request.tools.map(
      (tool, i): Tool => ({
        name: tool.name,
        description: tool.description,
        input_schema: { type: "object", ...tool.inputSchema },
        ...(i === request.tools.length - 1 ? { cache_control: EPHEMERAL } : {}),
      }),
    );
    breakpoints++;
  }
  // The last message, then the user message before it.
  let messageBreakpoints = 0;
  for (let i = params.messages.length - 1; i >= 0; i--) {
    if (breakpoints >= MAX_CACHE_BREAKPOINTS || messageBreakpoints >= 2) break;
    const message = params.messages[i];
    if (!message || (messageBreakpoints > 0 && message.role !== "user")) continue;
    if (markLastCacheableBlock(message)) {
      breakpoints++;
      messageBreakpoints++;
    }
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

function markLastCacheableBlock(message: MessageParam): boolean {
  if (typeof message.content === "string" || !Array.isArray(message.content)) return false;
  for (let i = message.content.length - 1; i >= 0; i--) {
    const block = message.content[i];
    if (!block) continue;
    // Thinking blocks cannot carry cache_control, and an empty text block is rejected anyway.
    if (block.type === "thinking" || block.type === "redacted_thinking") continue;
    if (block.type === "text" && !block.text) continue;
    if (isCacheable(block)) {
      (block as { cache_control?: typeof EPHEMERAL }).cache_control = EPHEMERAL;
      return true;
    }
  }
  return false;
}

function isCacheable(block: ContentBlockParam): boolean {
  return ["text", "image", "document", "tool_use", "tool_result"].includes(block.type);
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
          media_type: block.source.media_type as "image/png",
          data: block.source.data,
        },
      };
    case "document":
      return block.source.type === "text"
        ? {
            type: "document",
            source: { type: "text", media_type: "text/plain", data: block.source.data },
          }
        : {
            type: "document",
            source: { type: "base64", media_type: "application/pdf", data: block.source.data },
          };
  }
}

/**
 * Claude 4.6 and later think "adaptively": Opus 4.7, the Mythos models and the Claude 5 family
 * reject `{type: "enabled", budget_tokens}` with a 400, and it is deprecated on Opus/Sonnet 4.6
 * (the SDK warns). Those get `{type: "adaptive", display: "summarized"}` (newer models omit the
 * thinking text by default) and the budget is not sent. Older or unrecognised ids get the budget
 * form, whose max_tokens must exceed the budget: when it would not, the budget is added on top
 * of maxOutputTokens so the answer keeps its own allowance.
 */
export function thinkingFor(
  model: string,
  budgetTokens: number,
  maxOutputTokens: number,
): { thinking: ThinkingConfigParam; maxTokens: number } {
  if (usesAdaptiveThinking(model)) {
    return { thinking: { type: "adaptive", display: "summarized" }, maxTokens: maxOutputTokens };
  }
  return {
    thinking: { type: "enabled", budget_tokens: budgetTokens },
    maxTokens: maxOutputTokens > budgetTokens ? maxOutputTokens : budgetTokens + maxOutputTokens,
  };
}

export function usesAdaptiveThinking(model: string): boolean {
  if (model.startsWith("claude-mythos")) return true;
  const match = /^claude-(?:opus|sonnet|haiku|fable)-(\d+)(?:-(\d{1,2}))?(?:[-@]\d{8})?$/.exec(
    model,
  );
  if (!match) return false;
  const major = Number(match[1]);
  const minor = match[2] === undefined ? 0 : Number(match[2]);
  return major > 4 || (major === 4 && minor >= 6);
}

// ---- Stream accumulation ----------------------------------------------------------------------

type Building =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "tool_use"; id: string; name: string; json: string };

/** Turns SDK stream events into port events and the final message. */
class StepAccumulator {
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
      case "message_start": {
        this.model = event.message.model;
        const usage = event.message.usage;
        this.usage.inputTokens = usage.input_tokens ?? 0;
        this.usage.outputTokens = usage.output_tokens ?? 0;
        this.usage.cacheReadInputTokens = usage.cache_read_input_tokens ?? 0;
        this.usage.cacheCreationInputTokens = usage.cache_creation_input_tokens ?? 0;
        return;
      }
      case "content_block_start": {
        const block = event.content_block;
        const index = this.blocks.length;
        if (block.type === "text") {
          this.indexes.set(event.index, index);
          this.blocks.push({ type: "text", text: "" });
          this.emit({ type: "block_start", index, block: "text" });
          if (block.text) this.text(index, block.text);
        } else if (block.type === "thinking") {
          this.indexes.set(event.index, index);
          this.blocks.push({ type: "thinking", thinking: "", signature: "" });
          this.emit({ type: "block_start", index, block: "thinking" });
          if (block.thinking) this.thinking(index, block.thinking);
          if (block.signature) this.signature(index, block.signature);
        } else if (block.type === "tool_use") {
          this.indexes.set(event.index, index);
          this.blocks.push({ type: "tool_use", id: block.id, name: block.name, json: "" });
          this.emit({
            type: "block_start",
            index,
            block: "tool_use",
            id: block.id,
            name: block.name,
          });
        }
        return;
      }
      case "content_block_delta": {
        const index = this.indexes.get(event.index);
        if (index === undefined) return;
        const delta = event.delta;
        if (delta.type === "text_delta") this.text(index, delta.text);
        else if (delta.type === "thinking_delta") this.thinking(index, delta.thinking);
        else if (delta.type === "signature_delta") this.signature(index, delta.signature);
        else if (delta.type === "input_json_delta") {
          const block = this.blocks[index];
          if (block?.type === "tool_use") {
            block.json += delta.partial_json;
            this.emit({ type: "input_json_delta", index, partialJson: delta.partial_json });
          }
        }
        return;
      }
      case "content_block_stop": {
        const index = this.indexes.get(event.index);
        if (index !== undefined) this.emit({ type: "block_stop", index });
        return;
      }
      case "message_delta": {
        if (event.delta.stop_reason) this.stopReason = toStopReason(event.delta.stop_reason);
        const usage = event.usage;
        this.usage.outputTokens = usage.output_tokens ?? this.usage.outputTokens;
        if (usage.input_tokens != null) this.usage.inputTokens = usage.input_tokens;
        if (usage.cache_read_input_tokens != null) {
          this.usage.cacheReadInputTokens = usage.cache_read_input_tokens;
        }
        if (usage.cache_creation_input_tokens != null) {
          this.usage.cacheCreationInputTokens = usage.cache_creation_input_tokens;
        }
        return;
      }
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
      if (block.type !== "tool_use") return block;
      return { type: "tool_use", id: block.id, name: block.name, input: parseInput(block) };
    });
    return {
      message: { role: "assistant", content },
      stopReason: this.stopReason,
      usage: { ...this.usage },
      model: this.model || requestedModel,
    };
  }

  private text(index: number, text: string): void {
    const block = this.blocks[index];
    if (block?.type !== "text") return;
    block.text += text;
    this.emit({ type: "text_delta", index, text });
  }

  private thinking(index: number, thinking: string): void {
    const block = this.blocks[index];
    if (block?.type !== "thinking") return;
    block.thinking += thinking;
    this.emit({ type: "thinking_delta", index, thinking });
  }

  private signature(index: number, signature: string): void {
    const block = this.blocks[index];
    if (block?.type !== "thinking") return;
    block.signature += signature;
    this.emit({ type: "signature_delta", index, signature });
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

// ---- Errors -----------------------------------------------------------------------------------

/** An exception thrown by the caller's onEvent: passed through untouched, never retried. */
class ConsumerError extends Error {
  constructor(override readonly cause: unknown) {
    super("onEvent threw");
  }
}

function cancelled(): ModelError {
  return new ModelError("MODEL_CANCELLED", "The model step was cancelled");
}

/** Maps anything a step attempt threw to a ModelError; `retryable` says whether to try again. */
function classify(error: unknown, signal: AbortSignal | undefined): ModelError {
  if (error instanceof ModelError) return error;
  if (signal?.aborted || error instanceof APIUserAbortError) return cancelled();
  if (error instanceof APIError) {
    const detail = apiErrorText(error);
    const status = error.status;
    if (status === undefined) {
      // An `error` event inside the stream, or a connection failure.
      switch (error.type) {
        case "overloaded_error":
          return new ModelError("MODEL_OVERLOADED", `The model API is overloaded: ${detail}`, true);
        case "rate_limit_error":
          return new ModelError("MODEL_RATE_LIMITED", `Rate limited: ${detail}`, true);
        case "authentication_error":
        case "permission_error":
          return new ModelError("MODEL_AUTH_FAILED", `Authentication failed: ${detail}`);
        case "invalid_request_error":
          return new ModelError("MODEL_BAD_REQUEST", `The model API refused: ${detail}`);
        case null:
        case undefined:
          return new ModelError(
            "MODEL_SERVER_ERROR",
            `Could not reach the model API: ${detail}`,
            true,
          );
        default:
          return new ModelError("MODEL_STREAM_FAILED", `The model stream failed: ${detail}`, true);
      }
    }
    if (status === 401 || status === 402 || status === 403) {
      return new ModelError("MODEL_AUTH_FAILED", `Authentication failed (${status}): ${detail}`);
    }
    if (status === 429) {
      return new ModelError("MODEL_RATE_LIMITED", `Rate limited (429): ${detail}`, true);
    }
    if (status === 529 || error.type === "overloaded_error") {
      return new ModelError(
        "MODEL_OVERLOADED",
        `The model API is overloaded (${status}): ${detail}`,
        true,
      );
    }
    if (status >= 500 || status === 408 || status === 409) {
      return new ModelError("MODEL_SERVER_ERROR", `Model API error (${status}): ${detail}`, true);
    }
    return new ModelError(
      "MODEL_BAD_REQUEST",
      `The model API refused the request (${status}): ${detail}`,
    );
  }
  // The body broke off (undici: "terminated"), unparsable data, and the like.
  return new ModelError(
    "MODEL_STREAM_FAILED",
    `The model stream failed: ${errorText(error)}`,
    true,
  );
}

function withAttempts(error: ModelError, attempts: number): ModelError {
  if (attempts <= 1) return error;
  return new ModelError(
    error.reason,
    `${error.message} (gave up after ${attempts} attempts)`,
    true,
  );
}

function apiErrorText(error: APIError): string {
  const requestId = error.requestID ? ` [request-id ${error.requestID}]` : "";
  const cause = error.cause ? ` (${errorText(error.cause)})` : "";
  return `${error.apiMessage ?? error.message}${cause}${requestId}`;
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}

function headerOf(error: unknown, name: string): string | undefined {
  if (!(error instanceof APIError)) return undefined;
  return error.headers?.get(name) ?? undefined;
}

/** The wait the API asked for, in ms: `retry-after-ms`, else `retry-after` (seconds or a date). */
function retryAfterOf(error: unknown): number | undefined {
  const ms = Number.parseFloat(headerOf(error, "retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const header = headerOf(error, "retry-after");
  if (!header) return undefined;
  const seconds = Number.parseFloat(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
