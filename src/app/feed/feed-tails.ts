import type { Logger } from "../../ports/logger.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";

/** How often a replica looks for new events of the feeds its readers follow from storage. */
export const DEFAULT_FEED_POLL_MS = 100;
/** Sessions asked about in one query of the feeds' heads. */
const HEADS_PER_QUERY = 500;

interface Waiter {
  after: number;
  wake: () => void;
}

/**
 * Wakes the readers that follow a feed from storage (the session runs on another replica, or
 * nowhere) when it has events after theirs: one query of the feeds' heads every `pollMs` for
 * all of them, and at once when the feed opens on this replica (they switch to it).
 */
export class FeedTails {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly store: PersistenceAdapter,
    private readonly logger: Logger,
    readonly pollMs = DEFAULT_FEED_POLL_MS,
  ) {}

  /**
   * Resolves when the session's feed may have events after `after` (its head passed it, or its
   * feed opened here), when `signal` aborts, or after `maxMs` at the latest.
   */
  wait(sessionId: string, after: number, signal: AbortSignal, maxMs = 5_000): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(sessionId);
      if (!set) {
        set = new Set();
        this.waiters.set(sessionId, set);
      }
      const waiters = set;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        waiters.delete(waiter);
        if (waiters.size === 0 && this.waiters.get(sessionId) === waiters) {
          this.waiters.delete(sessionId);
        }
        resolve();
      };
      const waiter: Waiter = { after, wake: done };
      const timer = setTimeout(done, maxMs);
      signal.addEventListener("abort", done, { once: true });
      waiters.add(waiter);
      if (signal.aborted) done();
      this.schedule();
    });
  }

  /** Wakes every reader of the session (its feed opened on this replica). */
  wakeAll(sessionId: string): void {
    for (const w of [...(this.waiters.get(sessionId) ?? [])]) w.wake();
  }

  private schedule(): void {
    if (this.timer || this.polling) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, this.pollMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    this.polling = true;
    try {
      const ids = [...this.waiters.keys()];
      for (let i = 0; i < ids.length; i += HEADS_PER_QUERY) {
        const heads = await this.store.feedHeads(ids.slice(i, i + HEADS_PER_QUERY));
        for (const [sessionId, last] of heads) {
          for (const w of [...(this.waiters.get(sessionId) ?? [])]) if (last > w.after) w.wake();
        }
      }
    } catch (err) {
      this.logger.warn("reading the feeds' heads failed; will retry", { err });
    } finally {
      this.polling = false;
      if (this.waiters.size > 0) this.schedule();
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w.wake();
  }
}
