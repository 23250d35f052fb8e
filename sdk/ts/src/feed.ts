// A session's event feed that survives dropped connections: it resumes after the last sequence it
// delivered, so the caller sees every event once, in order, with no gap and no duplicate.

import { type Client, Code } from "@connectrpc/connect";
import type { SessionEvent } from "../../../gen/ts/agentruntime/v1/event_pb.js";
import type { SessionService } from "../../../gen/ts/agentruntime/v1/session_service_pb.js";
import { AgentRuntimeError, abortedError, toAgentRuntimeError } from "./errors.js";

/** How a feed reconnects after a dropped connection. */
export interface RetryOptions {
  /** First pause before reconnecting; doubles on each failure in a row. Default 100 ms. */
  initialDelayMs?: number;
  /** Longest pause. Default 5,000 ms. */
  maxDelayMs?: number;
  /** Failures in a row (without a new event) before giving up. Default 10. */
  maxAttempts?: number;
}

export interface WatchOptions {
  /** Deliver events with a greater sequence; 0 (the default) replays everything. */
  afterSequence?: number | bigint;
  signal?: AbortSignal;
  retry?: RetryOptions;
  /** Called before each reconnection, with the error that ended the previous one. */
  onReconnect?: (info: { afterSequence: number; attempt: number; error: unknown }) => void;
}

/**
 * Codes of a dropped connection or a server going away (a reset connection surfaces as UNKNOWN or
 * INTERNAL): worth reconnecting, a bounded number of times in a row.
 */
const RETRYABLE = new Set<Code>([Code.Unavailable, Code.Unknown, Code.Internal, Code.Aborted]);

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** A signal that fires when `outer` does or when the returned `abort` is called. */
export function linkedSignal(outer?: AbortSignal): AbortController {
  const controller = new AbortController();
  if (outer?.aborted) controller.abort(outer.reason);
  if (!outer || outer.aborted) return controller;
  const follow = () => controller.abort(outer.reason);
  outer.addEventListener("abort", follow, { once: true });
  controller.signal.addEventListener("abort", () => outer.removeEventListener("abort", follow), {
    once: true,
  });
  return controller;
}

/**
 * Every event of a session after `afterSequence`, then live events as they happen, until the
 * signal fires (then it throws an AgentRuntimeError with code CANCELED) or the caller stops
 * iterating. A dropped connection is retried with backoff from the last delivered sequence.
 */
export async function* watchEvents(
  sessions: Client<typeof SessionService>,
  sessionId: string,
  options: WatchOptions = {},
): AsyncGenerator<SessionEvent, void, undefined> {
  const { signal } = options;
  const initialDelay = options.retry?.initialDelayMs ?? 100;
  const maxDelay = options.retry?.maxDelayMs ?? 5_000;
  const maxAttempts = options.retry?.maxAttempts ?? 10;
  let last = Number(options.afterSequence ?? 0);
  let failures = 0;
  for (;;) {
    if (signal?.aborted) throw abortedError(signal);
    // Each connection gets its own controller, so leaving the loop early ends the request.
    const connection = linkedSignal(signal);
    let ended: unknown;
    try {
      const stream = sessions.streamEvents(
        { sessionId, afterSequence: BigInt(last) },
        { signal: connection.signal },
      );
      for await (const response of stream) {
        const event = response.event;
        if (!event) continue;
        const sequence = Number(event.sequence);
        if (sequence <= last) continue; // already delivered
        if (sequence !== last + 1) {
          // Never skip: replay from the last delivered event instead.
          throw new AgentRuntimeError({
            code: Code.Unavailable,
            message: `event feed skipped from sequence ${last} to ${sequence}`,
            reason: "FEED_GAP",
          });
        }
        last = sequence;
        failures = 0;
        yield event;
      }
      ended = new AgentRuntimeError({
        code: Code.Unavailable,
        message: "the event feed ended",
        reason: "FEED_ENDED",
      });
    } catch (err) {
      if (signal?.aborted) throw abortedError(signal);
      const error = toAgentRuntimeError(err);
      if (!RETRYABLE.has(error.grpcCode)) throw error;
      ended = error;
    } finally {
      connection.abort();
    }
    failures++;
    if (failures > maxAttempts) throw toAgentRuntimeError(ended);
    options.onReconnect?.({ afterSequence: last, attempt: failures, error: ended });
    await sleep(Math.min(maxDelay, initialDelay * 2 ** (failures - 1)), signal);
  }
}
