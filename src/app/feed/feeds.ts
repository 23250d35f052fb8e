import { notFound } from "../../domain/errors.js";
import type { SessionRecord } from "../../domain/types.js";
import type { Logger } from "../../ports/logger.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import { EventFeed } from "./event-feed.js";

/**
 * The open event feeds: one per session, opened on first use and shared by its writer (the
 * loaded session) and every reader, so sequences are assigned in one place.
 */
export class Feeds {
  private readonly open = new Map<string, Promise<EventFeed>>();

  constructor(
    private readonly store: PersistenceAdapter,
    private readonly logger: Logger,
    /**
     * Stores a feed's last stored sequence on its session record. The record has one writer at
     * a time (its loaded session's ordered writes): a store may apply a partial update as
     * read-modify-write, and two writers at once would lose one's change.
     */
    private readonly saveSequence: (sessionId: string, sequence: number) => Promise<void>,
  ) {}

  /** How many feeds are open (for metrics). */
  get openCount(): number {
    return this.open.size;
  }

  /** The session's feed, opened after the last stored event when it is not open yet. */
  get(sessionId: string, record?: SessionRecord): Promise<EventFeed> {
    let feed = this.open.get(sessionId);
    if (!feed) {
      feed = (async () => {
        const rec = record ?? (await this.store.loadSession(sessionId));
        if (!rec) throw notFound("session", sessionId, "session_id");
        return EventFeed.open(sessionId, rec.lastSequence, this.store, this.logger, (n) =>
          this.saveSequence(sessionId, n),
        );
      })();
      this.open.set(sessionId, feed);
      feed.catch(() => this.open.delete(sessionId));
    }
    return feed;
  }

  /**
   * Closes a feed once it is stored and nobody reads it and `inUse` says no writer needs it.
   * A feed whose events cannot be stored stays open: they are retried until they are.
   */
  async release(sessionId: string, inUse: () => boolean): Promise<void> {
    const pending = this.open.get(sessionId);
    if (!pending || inUse()) return;
    const feed = await pending.catch(() => undefined);
    if (!feed?.isFlushed) return;
    if (feed.subscriberCount === 0 && !inUse() && this.open.get(sessionId) === pending) {
      this.open.delete(sessionId);
    }
  }

  /** Ends the session's feed (its readers' streams end) and forgets it. */
  async end(sessionId: string): Promise<void> {
    const feed = await this.open.get(sessionId)?.catch(() => undefined);
    feed?.end();
    this.open.delete(sessionId);
  }

  /** Stores what every feed holds (waiting at most `timeoutMs`), then ends them all. */
  async endAll(timeoutMs: number): Promise<void> {
    const feeds = await Promise.all([...this.open.values()].map((f) => f.catch(() => undefined)));
    await Promise.all(
      feeds.map((feed) =>
        feed
          ?.flush(timeoutMs)
          .catch((err: unknown) =>
            this.logger.error("events not stored at shutdown", { sessionId: feed.sessionId, err }),
          ),
      ),
    );
    for (const feed of feeds) feed?.end();
    this.open.clear();
  }
}
