import { AppError } from "../../domain/errors.js";
import { LIMITS } from "../../domain/limits.js";
import type { SessionEvent } from "../../domain/types.js";

/** Events a subscriber may fall behind by before its stream ends with ResourceExhausted. */
export const SUBSCRIBER_BUFFER_EVENTS = LIMITS.maxSubscriberLagEvents;

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
