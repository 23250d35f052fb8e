// The SDK client, with its own retries: 408, 409, 429, 5xx (529 overloaded included) and
// connection failures, with exponential backoff and jitter, honouring `retry-after-ms` /
// `retry-after` and `x-should-retry`. It does not retry a stream that has started; the provider
// handles that case (model.ts).

import Anthropic, { type ClientOptions } from "@anthropic-ai/sdk";
import { errorText, retryAfterMs } from "./errors.js";

export interface ClientSettings {
  apiKey: string | undefined;
  baseURL: string | undefined;
  maxRetries: number;
  /** Per HTTP attempt, until the response headers arrive. */
  timeoutMs: number;
  /** A `retry-after` longer than this is not waited for: the step fails at once. */
  maxRetryAfterMs: number;
}

/** The client, or why there is none. */
export function createClient(settings: ClientSettings): Anthropic | string {
  const apiKey = settings.apiKey || process.env.ANTHROPIC_API_KEY || undefined;
  if (!apiKey) {
    return "No Anthropic API key: set ANTHROPIC_API_KEY (or pass apiKey) to use the anthropic model provider";
  }
  try {
    // The key is passed explicitly, so the SDK reads no other credential from the environment
    // or from a profile. baseURL stays undefined unless given: the SDK then honours
    // ANTHROPIC_BASE_URL itself.
    return new Anthropic({
      apiKey,
      maxRetries: settings.maxRetries,
      timeout: settings.timeoutMs,
      fetch: refuseLongWaits(settings.maxRetryAfterMs),
      ...(settings.baseURL ? { baseURL: settings.baseURL } : {}),
    });
  } catch (error) {
    return `The Anthropic client could not be created: ${errorText(error)}`;
  }
}

/**
 * The SDK waits however long `retry-after` says. An error response asking for more than
 * `maxMs` is marked `x-should-retry: false`, so the SDK gives up on it at once.
 */
function refuseLongWaits(maxMs: number): NonNullable<ClientOptions["fetch"]> {
  return async (input, init) => {
    const response = await fetch(input, init);
    const wait = retryAfterMs(response.headers);
    if (response.ok || wait === undefined || wait <= maxMs) return response;
    const headers = new Headers(response.headers);
    headers.set("x-should-retry", "false");
    return new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  };
}
