import { AppError, LEASE_LOST } from "../../domain/errors.js";
import type { EventPayload, SessionEvent } from "../../domain/types.js";
import type { Logger } from "../../ports/logger.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import { Subscriber, type Subscription, sameEvent } from "./subscriber.js";

export type { Subscription };

/** Recent events kept in memory for replays that need not touch storage. */
export const FEED_MEMORY_EVENTS = 2_000;
/** Events read from storage per page during a replay. */
const REPLAY_PAGE = 500;
/** A failed save is tried again after this long, doubling up to FLUSH_RETRY_MAX_MS. */
const FLUSH_RETRY_MIN_MS = 100;
const FLUSH_RETRY_MAX_MS = 5_000;

/** The feed's writer: its lease token, and what to do when the store says it lost the lease. */
export interface FeedWriter {
  fence?: number;
  onLost?: () => void;
}

export interface EmitContext {
  turnId?: string;
  subagentId?: string;
}

/**
 * One session's ordered event feed. `emit` assigns the next sequence and queues the event for
 * storage; writes go out in order, batched, and each batch reaches the subscribers once it is
 * stored. A subscriber replays from memory or storage up to the point it joined, then reads
 * live: no gap, no duplicate, and nothing it saw is lost in a crash.
 */
export class EventFeed {
  private lastSequence: number;
  private readonly recent: SessionEvent[] = [];
  private readonly unsaved: SessionEvent[] = [];
  private persistedSequence: number;
  private flushing: Promise<void> | undefined;
  private retryDelayMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastError: unknown;
  private readonly subscribers = new Set<Subscriber>();
  private ended = false;
  /** Why the feed ended: readers of a feed that moved to another replica read on from storage. */
  private endReason: "closed" | "moved" = "closed";

  private constructor(
    readonly sessionId: string,
    lastSequence: number,
    private readonly store: PersistenceAdapter,
    private readonly logger: Logger,
    private readonly saveSequence: (sequence: number) => Promise<void>,
    private writer: FeedWriter,
  ) {
    this.lastSequence = lastSequence;
    this.persistedSequence = lastSequence;
  }

  /**
   * Opens a session's feed, continuing after the last event in storage. With a fence (the
   * writer's lease token) the feed is claimed first: the previous holder's last claimed batch
   * is stored (it may have been cut off), and its later writes are refused.
   */
  static async open(
    sessionId: string,
    recordSequence: number,
    store: PersistenceAdapter,
    logger: Logger,
    /** Writes the record's lastSequence; default straight to the store. */
    saveSequence?: (sequence: number) => Promise<void>,
    writer: FeedWriter = {},
  ): Promise<EventFeed> {
    if (writer.fence !== undefined) {
      const tail = await store.claimFeed(sessionId, writer.fence);
      if (tail.length > 0) await store.appendEvents(sessionId, tail, writer.fence);
    }
    // Events may have been written after the record's lastSequence (a crash between the two).
    let last = recordSequence;
    for (;;) {
      const page = await store.readEvents(sessionId, last, REPLAY_PAGE);
      const tail = page.at(-1);
      if (!tail) break;
      last = tail.sequence;
    }
    return new EventFeed(
      sessionId,
      last,
      store,
      logger,
      saveSequence ?? ((n) => store.updateSessionRecord(sessionId, { lastSequence: n })),
      writer,
    );
  }

  /** Claims the feed again for a new lease of this replica (a session loaded again). */
  async claim(writer: FeedWriter): Promise<void> {
    if (writer.fence !== undefined) await this.store.claimFeed(this.sessionId, writer.fence);
    this.writer = writer;
    if (this.unsaved.length > 0) this.scheduleFlush();
  }

  /** Whether the feed ended because its session moved to another replica (or was unloaded). */
  get moved(): boolean {
    return this.ended && this.endReason === "moved";
  }

  get sequence(): number {
    return this.lastSequence;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  emit(payload: EventPayload, context: EmitContext = {}): SessionEvent {
    const event: SessionEvent = {
      sessionId: this.sessionId,
      sequence: ++this.lastSequence,
      time: new Date(),
      ...(context.turnId ? { turnId: context.turnId } : {}),
      ...(context.subagentId ? { subagentId: context.subagentId } : {}),
      payload,
    };
    this.recent.push(event);
    this.unsaved.push(event);
    this.trimRecent();
    this.scheduleFlush();
    return event;
  }

  /**
   * Resolves when every event emitted so far is in storage. A store that fails is tried again
   * with backoff for as long as it takes; with `timeoutMs`, rejects with STORE_UNAVAILABLE when
   * the events are not stored by then (they stay queued and keep being retried).
   */
  async flush(timeoutMs?: number): Promise<void> {
    const stored = this.whenStored();
    if (timeoutMs === undefined) return stored;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AppError(
              "unavailable",
              "STORE_UNAVAILABLE",
              `the session's events could not be stored: ${errorText(this.lastError)}`,
              undefined,
              { retryable: "true" },
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await Promise.race([stored, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether every event emitted so far is stored. */
  get isFlushed(): boolean {
    return this.unsaved.length === 0 && !this.flushing;
  }

  private async whenStored(): Promise<void> {
    while (this.unsaved.length > 0 || this.flushing) {
      if (!this.flushing && !this.retryTimer) this.scheduleFlush();
      if (this.flushing) await this.flushing;
      else await new Promise((r) => setTimeout(r, Math.max(this.retryDelayMs, 10)));
    }
  }

  private scheduleFlush(): void {
    if (this.flushing || this.retryTimer) return;
    this.flushing = (async () => {
      try {
        while (this.unsaved.length > 0) {
          const batch = this.unsaved.splice(0, this.unsaved.length);
          try {
            await this.store.appendEvents(this.sessionId, batch, this.writer.fence);
          } catch (err) {
            this.lastError = err;
            if ((err as { reason?: unknown }).reason === LEASE_LOST) {
              // Another replica runs the session now: these events were never delivered, and
              // are dropped; the session is given up here.
              this.unsaved.unshift(...batch);
              this.logger.warn("the session's feed moved to another replica", {
                sessionId: this.sessionId,
                dropped: this.unsaved.length,
              });
              this.unsaved.length = 0;
              this.writer.onLost?.();
              return;
            }
            await this.reconcile(batch);
            this.retryDelayMs = Math.min(
              Math.max(this.retryDelayMs * 2, FLUSH_RETRY_MIN_MS),
              FLUSH_RETRY_MAX_MS,
            );
            this.logger.warn("saving events failed; retrying", {
              sessionId: this.sessionId,
              retryInMs: this.retryDelayMs,
              err,
            });
            return;
          }
          this.retryDelayMs = 0;
          this.deliver(batch);
          // The record's copy only speeds up the next open, which reads past it anyway.
          await this.saveSequence(batch.at(-1)!.sequence).catch((err: unknown) =>
            this.logger.warn("saving the last sequence failed", {
              sessionId: this.sessionId,
              err,
            }),
          );
        }
      } finally {
        this.flushing = undefined;
        if (this.unsaved.length > 0 && this.retryDelayMs > 0 && !this.ended) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            this.scheduleFlush();
          }, this.retryDelayMs);
          this.retryTimer.unref();
        }
      }
    })().catch((err: unknown) =>
      this.logger.error("event feed writer failed", { sessionId: this.sessionId, err }),
    );
  }

  /**
   * After a failed append, finds out what the store holds past what was delivered. Part of the
   * batch may be stored (a write whose acknowledgement was lost): those count as stored. Events
   * of another writer may hold some of our sequences (a server that was killed, whose last
   * write reached the store late): ours were never delivered, so they move after them, and
   * theirs are delivered in order. Nothing is reused, nothing skipped.
   */
  private async reconcile(batch: SessionEvent[]): Promise<void> {
    let stored: SessionEvent[];
    try {
      stored = await this.readAll(this.persistedSequence);
    } catch {
      this.unsaved.unshift(...batch);
      return;
    }
    const mine = new Map(batch.map((e) => [e.sequence, e]));
    const isMine = (e: SessionEvent) => {
      const m = mine.get(e.sequence);
      return m !== undefined && sameEvent(m, e);
    };
    const foreign = stored.filter((e) => !isMine(e));
    if (foreign.length === 0) {
      // Delivered in order only: the stored prefix now, the rest is sent again (a store counts
      // an event it already has as stored).
      const done = new Set(stored.map((e) => e.sequence));
      let prefix = 0;
      while (prefix < batch.length && done.has(batch[prefix]!.sequence)) prefix++;
      this.unsaved.unshift(...batch.slice(prefix));
      this.deliver(batch.slice(0, prefix));
      return;
    }
    const storedMine = new Set(stored.filter(isMine).map((e) => e.sequence));
    const pending = [...batch.filter((e) => !storedMine.has(e.sequence)), ...this.unsaved];
    let next = stored.at(-1)!.sequence;
    for (const e of pending) e.sequence = ++next;
    this.lastSequence = next;
    this.unsaved.splice(0, this.unsaved.length, ...pending);
    const kept = this.recent.filter((e) => e.sequence <= this.persistedSequence);
    this.recent.splice(0, this.recent.length, ...kept, ...stored, ...pending);
    this.logger.warn("another writer stored events of this session; ours follow them", {
      sessionId: this.sessionId,
      sequences: foreign.map((e) => e.sequence),
    });
    this.deliver(stored);
  }

  /** Every stored event after `after`. */
  private async readAll(after: number): Promise<SessionEvent[]> {
    const all: SessionEvent[] = [];
    for (;;) {
      const page = await this.store.readEvents(this.sessionId, after, REPLAY_PAGE);
      all.push(...page);
      if (page.length < REPLAY_PAGE) return all;
      after = page.at(-1)!.sequence;
    }
  }

  /**
   * Hands stored events to the subscribers. Delivered only once stored: what a reader saw
   * survives a crash, and a sequence is never reused for something else.
   */
  private deliver(stored: SessionEvent[]): void {
    if (stored.length === 0) return;
    this.persistedSequence = stored.at(-1)!.sequence;
    for (const event of stored) for (const sub of this.subscribers) sub.push(event);
    this.trimRecent();
  }

  /** Drops old events from memory, never ones not yet in storage. */
  private trimRecent(): void {
    while (this.recent.length > FEED_MEMORY_EVENTS) {
      const first = this.recent[0]!;
      if (first.sequence > this.persistedSequence) break;
      this.recent.shift();
    }
  }

  /**
   * Every event after `afterSequence`, then live ones as they come. Ends when `signal` aborts,
   * when the feed ends (shutdown, deletion), or with ResourceExhausted for a slow reader.
   */
  subscribe(afterSequence: number, signal?: AbortSignal): Subscription {
    const sub = new Subscriber();
    // Joining is synchronous: everything up to `joinedAt` is history, everything after is live.
    const joinedAt = this.persistedSequence;
    this.subscribers.add(sub);
    const stop = () => {
      sub.closed = true;
      this.subscribers.delete(sub);
      sub.wake?.();
    };
    if (this.ended) stop();
    signal?.addEventListener("abort", stop, { once: true });
    const feed = this;
    async function* iterate(): AsyncGenerator<SessionEvent> {
      try {
        let next = afterSequence + 1;
        while (next <= joinedAt && !sub.closed) {
          const page = await feed.history(next, joinedAt);
          if (page.length === 0) {
            throw new AppError("internal", "FEED_GAP", `events from ${next} are missing`);
          }
          for (const e of page) yield e;
          next = page.at(-1)!.sequence + 1;
        }
        for (;;) {
          if (sub.error) throw sub.error;
          const e = sub.queue.shift();
          if (e) {
            if (e.sequence > afterSequence) yield e;
            continue;
          }
          if (sub.closed) return;
          await new Promise<void>((resolve) => {
            sub.wake = resolve;
          });
          sub.wake = undefined;
        }
      } finally {
        stop();
        signal?.removeEventListener("abort", stop);
      }
    }
    const it = iterate();
    return { [Symbol.asyncIterator]: () => it, close: stop };
  }

  /** Events from `from` up to `to` (inclusive), from memory when it has them, else storage. */
  private async history(from: number, to: number): Promise<SessionEvent[]> {
    const first = this.recent[0];
    if (first && first.sequence <= from) {
      return this.recent.filter((e) => e.sequence >= from && e.sequence <= to);
    }
    const page = await this.store.readEvents(this.sessionId, from - 1, REPLAY_PAGE);
    const inRange = page.filter((e) => e.sequence <= to);
    if (inRange.length > 0) return inRange;
    // Not in storage yet and already trimmed is impossible; still in memory is the only case left.
    return this.recent.filter((e) => e.sequence >= from && e.sequence <= to);
  }

  /**
   * Ends every subscription cleanly (shutdown, session deleted) and stops retrying saves.
   * `moved`: the session runs on another replica now; its readers go on reading from storage.
   */
  end(reason: "closed" | "moved" = "closed"): void {
    this.endReason = reason;
    this.ended = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const s of [...this.subscribers]) {
      s.closed = true;
      this.subscribers.delete(s);
      s.wake?.();
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : err === undefined ? "no answer" : String(err);
}
