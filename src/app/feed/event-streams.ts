import { AppError, invalidField } from "../../domain/errors.js";
import type { SessionEvent } from "../../domain/types.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import type { Sessions } from "../sessions/sessions.js";
import type { Subscription } from "./event-feed.js";
import type { FeedTails } from "./feed-tails.js";
import type { Feeds } from "./feeds.js";

/** Events read from storage per page while a reader follows a feed from there. */
const PAGE = 500;
/** A hole in the stored feed is waited for this long (a batch being inserted) before it fails. */
const GAP_TIMEOUT_MS = 30_000;
/** A reader following a feed from storage checks this often that its session still exists. */
const EXISTS_CHECK_MS = 5_000;

/**
 * StreamEvents: a session's feed from a sequence on, on any replica. While the session runs on
 * this replica its feed is read here (replay, then live); otherwise it is read from storage and
 * followed there (FeedTails), switching as the session moves: no gap, no duplicate.
 */
export class EventStreams {
  constructor(
    private readonly sessions: Sessions,
    private readonly feeds: Feeds,
    private readonly tails: FeedTails,
    private readonly store: PersistenceAdapter,
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
    const last = await this.lastSequence(sessionId, record.lastSequence);
    if (afterSequence > last) {
      throw new AppError(
        "out_of_range",
        "SEQUENCE_AHEAD",
        `after_sequence ${afterSequence} is beyond the last event (${last})`,
        "after_sequence",
      );
    }
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    const iterator = this.follow(sessionId, afterSequence, stop.signal);
    return {
      close: () => stop.abort(),
      async *[Symbol.asyncIterator](): AsyncGenerator<SessionEvent> {
        try {
          yield* iterator;
        } finally {
          signal.removeEventListener("abort", onAbort);
          stop.abort();
        }
      },
    };
  }

  /** The last event's sequence: this replica's feed, else the feed's head in storage. */
  private async lastSequence(sessionId: string, recorded: number): Promise<number> {
    const feed = await this.feeds.local(sessionId);
    if (feed) return feed.sequence;
    const head = (await this.store.feedHeads([sessionId])).get(sessionId) ?? 0;
    let last = Math.max(recorded, head);
    for (;;) {
      const page = await this.store.readEvents(sessionId, last, PAGE);
      if (page.length === 0) return last;
      last = page.at(-1)!.sequence;
    }
  }

  private async *follow(
    sessionId: string,
    after: number,
    signal: AbortSignal,
  ): AsyncGenerator<SessionEvent> {
    let next = after;
    let gapSince = 0;
    let checked = Date.now();
    while (!signal.aborted) {
      const feed = await this.feeds.local(sessionId);
      if (feed) {
        for await (const e of feed.subscribe(next, signal)) {
          if (e.sequence <= next) continue;
          yield e;
          next = e.sequence;
        }
        if (!feed.moved) return; // shutdown, or the session was deleted
        continue;
      }
      const page = await this.store.readEvents(sessionId, next, PAGE);
      // Only what follows on without a hole: a batch may be half inserted.
      let run = 0;
      while (run < page.length && page[run]!.sequence === next + run + 1) run++;
      for (const e of page.slice(0, run)) {
        yield e;
        next = e.sequence;
      }
      if (run > 0) {
        gapSince = 0;
        if (run === PAGE) continue;
      }
      if (run < page.length) {
        gapSince ||= Date.now();
        if (Date.now() - gapSince > GAP_TIMEOUT_MS) {
          throw new AppError("internal", "FEED_GAP", `events from ${next + 1} are missing`);
        }
      }
      if (Date.now() - checked > EXISTS_CHECK_MS) {
        checked = Date.now();
        if (!(await this.store.loadSession(sessionId))) return; // deleted
      }
      if (run < page.length || run === 0) await this.tails.wait(sessionId, next, signal);
    }
  }
}
