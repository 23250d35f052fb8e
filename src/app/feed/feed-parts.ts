// Parts of an event feed: its readers' queues, and claiming it for a new writer.

import { AppError } from "../../domain/errors.js";
import { LIMITS } from "../../domain/limits.js";
import type { SessionEvent } from "../../domain/types.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";

/** Events a subscriber may fall behind by before its stream ends with ResourceExhausted. */
export const SUBSCRIBER_BUFFER_EVENTS = LIMITS.maxSubscriberLagEvents;

/**
 * Claims a session's feed for a writer with lease token `fence`, and stores the previous
 * writer's last claimed batch where its insert was cut off (usually nowhere). Returns the last
 * sequence that batch had (0 without one).
 */
export async function claimFeed(
  store: PersistenceAdapter,
  sessionId: string,
  fence: number,
): Promise<number> {
  const tail = await store.claimFeed(sessionId, fence);
  if (tail.length === 0) return 0;
  const there = await store.readEvents(sessionId, tail[0]!.sequence - 1, tail.length);
  const have = new Set(there.map((e) => e.sequence));
  const missing = tail.filter((e) => !have.has(e.sequence));
  if (missing.length > 0) await store.appendEvents(sessionId, missing, fence);
  return tail.at(-1)!.sequence;
}

/** A live reader of a feed: pull events with `next()`; `close()` when done. */
export interface Subscription extends AsyncIterable<SessionEvent> {
  close(): void;
}

/** One reader's queue of live events (EventFeed.subscribe). */
export class Subscriber {
  readonly queue: SessionEvent[] = [];
  wake: (() => void) | undefined;
  error: AppError | undefined;
  closed = false;

  push(event: SessionEvent): void {
    if (this.closed || this.error) return;
    if (this.queue.length >= SUBSCRIBER_BUFFER_EVENTS) {
      this.error = new AppError(
        "resource_exhausted",
        "SUBSCRIBER_TOO_SLOW",
        `the stream fell more than ${SUBSCRIBER_BUFFER_EVENTS} events behind; resume with after_sequence`,
        undefined,
        { last_delivered_sequence: String((this.queue[0]?.sequence ?? 1) - 1) },
      );
      this.queue.length = 0;
    } else {
      this.queue.push(event);
    }
    this.wake?.();
  }
}

/** The same event: written by the same writer (its time and content match). */
export function sameEvent(a: SessionEvent, b: SessionEvent): boolean {
  return (
    a.time.getTime() === b.time.getTime() &&
    a.turnId === b.turnId &&
    JSON.stringify(a.payload) === JSON.stringify(b.payload)
  );
}
