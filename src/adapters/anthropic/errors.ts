// Maps what the SDK throws to the port's ModelError; `retryable` says whether the turn may be
// tried again.

import { APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import { ModelError } from "../../ports/model.js";

export function cancelled(): ModelError {
  return new ModelError("MODEL_CANCELLED", "The model step was cancelled");
}

export function toModelError(error: unknown, signal?: AbortSignal): ModelError {
  if (error instanceof ModelError) return error;
  if (signal?.aborted || error instanceof APIUserAbortError) return cancelled();
  if (!(error instanceof APIError)) {
    // The body broke off (undici: "terminated"), unparsable data, and the like.
    return new ModelError(
      "MODEL_STREAM_FAILED",
      `The model stream failed: ${errorText(error)}`,
      true,
    );
  }
  // No status: an `error` event inside the stream (its type says what), or no connection.
  const { status, type } = error;
  const code = status === undefined ? "" : ` (${status})`;
  const detail = apiErrorText(error);
  if (
    status === 401 ||
    status === 402 ||
    status === 403 ||
    (status === undefined && (type === "authentication_error" || type === "permission_error"))
  ) {
    return new ModelError("MODEL_AUTH_FAILED", `Authentication failed${code}: ${detail}`);
  }
  if (status === 429 || (status === undefined && type === "rate_limit_error")) {
    return new ModelError("MODEL_RATE_LIMITED", `Rate limited${code}: ${detail}`, true);
  }
  if (status === 529 || type === "overloaded_error") {
    return new ModelError(
      "MODEL_OVERLOADED",
      `The model API is overloaded${code}: ${detail}`,
      true,
    );
  }
  if (status === undefined) {
    if (type === "invalid_request_error") {
      return new ModelError("MODEL_BAD_REQUEST", `The model API refused the request: ${detail}`);
    }
    return type == null
      ? new ModelError("MODEL_SERVER_ERROR", `Could not reach the model API: ${detail}`, true)
      : new ModelError("MODEL_STREAM_FAILED", `The model stream failed: ${detail}`, true);
  }
  if (status >= 500 || status === 408 || status === 409) {
    return new ModelError("MODEL_SERVER_ERROR", `Model API error${code}: ${detail}`, true);
  }
  return new ModelError("MODEL_BAD_REQUEST", `The model API refused the request${code}: ${detail}`);
}

/** The wait the API asked for, in ms: `retry-after-ms`, else `retry-after` (seconds or a date). */
export function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = Number.parseFloat(headers?.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const header = headers?.get("retry-after");
  if (!header) return undefined;
  const seconds = Number.parseFloat(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}

function apiErrorText(error: APIError): string {
  const requestId = error.requestID ? ` [request-id ${error.requestID}]` : "";
  const cause = error.cause ? ` (${errorText(error.cause)})` : "";
  const wait = retryAfterMs(error.headers);
  const notRetried =
    wait !== undefined && error.headers?.get("x-should-retry") === "false"
      ? ` (the API asked to wait ${Math.ceil(wait / 1000)} s; not retried)`
      : "";
  return `${error.apiMessage ?? error.message}${cause}${requestId}${notRetried}`;
}
