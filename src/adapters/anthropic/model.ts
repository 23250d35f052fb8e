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

import Anthropic, { APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import type { MessageCreateParamsStreaming } from "@anthropic-ai/sdk/resources/messages";
import {
  ModelError,
  type ModelProvider,
  type ModelRequest,
  type ModelStepResult,
  type ModelStreamEvent,
} from "../../ports/model.js";
import { buildParams } from "./request.js";
import { StreamAccumulator } from "./stream.js";

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

    const accumulator = new StreamAccumulator((event) => {
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
