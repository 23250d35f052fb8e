import { AppError, invalidField } from "../../domain/errors.js";
import type { SessionEvent } from "../../domain/types.js";
import type { SessionManager } from "../sessions/session-manager.js";
import type { Sessions } from "../sessions/sessions.js";
import type { Subscription } from "./event-feed.js";

/** StreamEvents: a session's feed from a sequence on, replayed from storage, then live. */
export class EventStreams {
  constructor(
    private readonly sessions: Sessions,
    private readonly manager: SessionManager,
  ) {}

  async subscribe(
    tenantId: string,
    sessionId: string,
    afterSequence: number,
    signal: AbortSignal,
  ): Promise<Subscription> {
    if (!Number.isInteger(afterSequence) || afterSequence < 0) {
      throw invalidField("after_sequence", "must not be negative");
    }
    const record = await this.sessions.load(tenantId, sessionId);
    const feed = await this.manager.feeds.get(sessionId, record);
    if (afterSequence > feed.sequence) {
      throw new AppError(
        "out_of_range",
        "SEQUENCE_AHEAD",
        `after_sequence ${afterSequence} is beyond the last event (${feed.sequence})`,
        "after_sequence",
      );
    }
    const sub = feed.subscribe(afterSequence, signal);
    const manager = this.manager;
    return {
      close: () => sub.close(),
      async *[Symbol.asyncIterator](): AsyncGenerator<SessionEvent> {
        try {
          yield* sub;
        } finally {
          await manager.releaseFeed(sessionId);
        }
      },
    };
  }
}
