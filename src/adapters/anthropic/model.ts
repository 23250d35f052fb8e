// The model port on the Anthropic Messages API, through @anthropic-ai/sdk with streaming.
//
// Retries:
// - The SDK retries the request (client.ts): 408/409/429/5xx/529 and connection failures, with
//   backoff and `retry-after`, up to `maxRetries` times.
// - The SDK does not retry a stream that has started. A stream that breaks before its first
//   content event (cut, silent, an `overloaded_error` event) is retried here, once.
// - A stream that breaks after content has been passed to `onEvent` is never retried: the caller
//   has shown it live. The step rejects with MODEL_STREAM_FAILED (retryable: the turn may be
//   tried again).
// - Never retried: 401/402/403 (MODEL_AUTH_FAILED), other 4xx (MODEL_BAD_REQUEST), cancellation,
//   an exception thrown by `onEvent` (passed through as it is).

import type Anthropic from "@anthropic-ai/sdk";
import type { MessageCreateParamsStreaming } from "@anthropic-ai/sdk/resources/beta/messages/messages";
import {
  ModelError,
  type ModelFeatures,
  type ModelProvider,
  type ModelRequest,
  type ModelStepResult,
  type ModelStreamEvent,
} from "../../ports/model.js";
import { createClient } from "./client.js";
import { cancelled, toModelError } from "./errors.js";
import { anthropicFeatures } from "./features.js";
import { buildParams } from "./request.js";
import { StreamAccumulator } from "./stream.js";

/** The SDK's retries after the first attempt of a request. */
export const MAX_RETRIES = 4;
/** A `retry-after` longer than this is not waited for: the step fails at once. */
export const MAX_RETRY_AFTER_MS = 60_000;
/** A stream that sends nothing for this long is treated as broken (the API pings while idle). */
export const STREAM_IDLE_TIMEOUT_MS = 10 * 60_000;
/** Pause before the one retry of a stream that broke before its first content. */
export const STREAM_RETRY_DELAY_MS = 1_000;

export interface AnthropicModelProviderOptions {
  /** Default: the ANTHROPIC_API_KEY environment variable. */
  apiKey?: string;
  /** Default: unset, so the SDK uses ANTHROPIC_BASE_URL or https://api.anthropic.com. */
  baseURL?: string;
  /** The SDK's retries after the first attempt; default MAX_RETRIES. */
  maxRetries?: number;
  maxRetryAfterMs?: number;
  /** Also the SDK's timeout for the response headers of each attempt. */
  streamIdleTimeoutMs?: number;
  streamRetryDelayMs?: number;
}

/** A stream that broke before its first content event: retried once. */
class BrokeBeforeContent extends Error {
  constructor(readonly error: ModelError) {
    super(error.message);
  }
}

export class AnthropicModelProvider implements ModelProvider {
  private readonly client: Anthropic | string;
  private readonly streamIdleTimeoutMs: number;
  private readonly streamRetryDelayMs: number;

  constructor(options: AnthropicModelProviderOptions = {}) {
    this.streamIdleTimeoutMs = options.streamIdleTimeoutMs ?? STREAM_IDLE_TIMEOUT_MS;
    this.streamRetryDelayMs = options.streamRetryDelayMs ?? STREAM_RETRY_DELAY_MS;
    this.client = createClient({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      maxRetries: options.maxRetries ?? MAX_RETRIES,
      timeoutMs: this.streamIdleTimeoutMs,
      maxRetryAfterMs: options.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS,
    });
  }

  features(model: string): ModelFeatures {
    return anthropicFeatures(model);
  }

  async step(
    request: ModelRequest,
    onEvent: (event: ModelStreamEvent) => void,
  ): Promise<ModelStepResult> {
    const { client } = this;
    if (typeof client === "string") throw new ModelError("MODEL_NOT_CONFIGURED", client);
    const params = buildParams(request);
    try {
      return await this.attempt(client, params, request.signal, onEvent);
    } catch (error) {
      if (!(error instanceof BrokeBeforeContent)) throw error;
    }
    await sleep(this.streamRetryDelayMs, request.signal);
    try {
      return await this.attempt(client, params, request.signal, onEvent);
    } catch (error) {
      if (!(error instanceof BrokeBeforeContent)) throw error;
      throw new ModelError(error.error.reason, `${error.message} (also on the retry)`, true);
    }
  }

  private async attempt(
    client: Anthropic,
    params: MessageCreateParamsStreaming,
    signal: AbortSignal | undefined,
    onEvent: (event: ModelStreamEvent) => void,
  ): Promise<ModelStepResult> {
    if (signal?.aborted) throw cancelled();
    // The caller's signal and the idle timer both abort this controller, and aborting it makes
    // the SDK abort the HTTP request.
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal?.addEventListener("abort", abort, { once: true });
    let idle = false;
    let timer: NodeJS.Timeout | undefined;
    const armIdleTimer = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        abort();
      }, this.streamIdleTimeoutMs);
    };
    let started = false;
    let emitted = false;
    let consumerFailed = false;
    const accumulator = new StreamAccumulator((event) => {
      emitted = true;
      try {
        onEvent(event);
      } catch (error) {
        consumerFailed = true;
        throw error;
      }
    });

    try {
      const stream = await client.beta.messages.create(params, { signal: controller.signal });
      started = true;
      armIdleTimer();
      for await (const event of stream) {
        armIdleTimer();
        accumulator.handle(event);
      }
      // The SDK ends the iteration quietly when its request is aborted; the catch below says why.
      if (signal?.aborted || idle) throw cancelled();
      return accumulator.result(params.model);
    } catch (caught) {
      if (consumerFailed) throw caught;
      const error = idle
        ? new ModelError(
            "MODEL_STREAM_FAILED",
            `The model API sent nothing for ${this.streamIdleTimeoutMs} ms`,
            true,
          )
        : toModelError(caught, signal);
      // Before the stream started, the SDK has done its retries.
      if (!started || error.reason === "MODEL_CANCELLED") throw error;
      if (emitted) {
        throw new ModelError(
          "MODEL_STREAM_FAILED",
          `${error.message} (after content had been streamed, so not retried)`,
          true,
        );
      }
      throw error.retryable ? new BrokeBeforeContent(error) : error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
      controller.abort();
    }
  }
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
