import type { SessionRecord } from "../../domain/types.js";
import type { Logger } from "../../ports/logger.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import { EventFeed, type FeedWriter } from "./event-feed.js";

/**
 * The event feeds this replica writes: one per session it runs (its loaded session's), opened
 * when the session is loaded, with the session's lease token as the fence of every write.
 * Readers on this replica read a session's live events from here while it runs here, and from
 * storage otherwise (FeedTails).
 */
export class Feeds {
  private readonly open = new Map<string, Promise<EventFeed>>();
  /** Called when a feed opens here: readers tailing the session from storage switch to it. */
  onOpen: (sessionId: string) => void = () => {};

  constructor(
    private readonly store: PersistenceAdapter,
    private readonly logger: Logger,
  ) {}

  /** How many feeds are open (for metrics). */
  get openCount(): number {
    return this.open.size;
  }

  /**
   * Opens the feed of a session this replica now runs, after the last stored event, claimed
   * for `writer.fence`. A feed still open here from an earlier load (its events not all stored
   * yet) is claimed again and kept: its sequences go on.
   */
  async openFor(sessionId: string, record: SessionRecord, writer: FeedWriter): Promise<EventFeed> {
    const existing = this.open.get(sessionId);
    if (existing) {
      const feed = await existing.catch(() => undefined);
      if (feed) {
        await feed.claim(writer);
        this.onOpen(sessionId);
        return feed;
      }
    }
    // The record's lastSequence is restated by the loaded session's own record writes.
    const opening = EventFeed.open(
      sessionId,
      record.lastSequence,
      this.store,
      this.logger,
      undefined,
      writer,
    );
    this.open.set(sessionId, opening);
    opening.then(
      () => this.onOpen(sessionId),
      () => {
        if (this.open.get(sessionId) === opening) this.open.delete(sessionId);
      },
    );
    return opening;
  }

  /** The session's feed when this replica writes it (else undefined). */
  async local(sessionId: string): Promise<EventFeed | undefined> {
    return this.open.get(sessionId)?.catch(() => undefined);
  }

  /** Whether this replica has the session's feed open. */
  has(sessionId: string): boolean {
    return this.open.has(sessionId);
  }

  /**
   * Ends the feed of a session this replica stops running once its events are stored: its
   * readers read on from storage. Returns false, keeping it open (its saves retried), while
   * they are not.
   */
  async retire(sessionId: string): Promise<boolean> {
    const pending = this.open.get(sessionId);
    if (!pending) return true;
    const feed = await pending.catch(() => undefined);
    if (feed && !feed.isFlushed) return false;
    feed?.end("moved");
    if (this.open.get(sessionId) === pending) this.open.delete(sessionId);
    return true;
  }

  /** The session runs elsewhere now: its feed ends at once, unsaved events dropped. */
  async drop(sessionId: string): Promise<void> {
    const feed = await this.open.get(sessionId)?.catch(() => undefined);
    feed?.end("moved");
    this.open.delete(sessionId);
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
