import { AppError } from "../../domain/errors.js";
import type { SessionRecord } from "../../domain/types.js";
import type { Logger } from "../../ports/logger.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import type { Sandbox, SandboxProvider } from "../../ports/sandbox.js";
import { OWNED_ELSEWHERE, type SessionManager } from "../sessions/session-manager.js";
import { settleFileEvents } from "./file-recovery.js";

/** A failed recovery of a session is tried again after this long, doubling up to the max. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/**
 * Restart recovery: picks up what a previous run of the server left. It runs in the background
 * while the server already answers; calls on a session wait until recovery is done with it.
 * - Sessions with a claimed turn or waiting messages are loaded and their turns run again: the
 *   turn engine first settles a claimed turn from the feed (`settleClaimedTurn`), so a turn
 *   completes exactly once.
 * - Sandboxes that outlived the server are re-attached to their session (their changes saved);
 *   sandboxes no session owns are terminated.
 * A session whose recovery fails (the store is down) is tried again with backoff.
 */
export class Recovery {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly o: {
      manager: SessionManager;
      store: PersistenceAdapter;
      logger: Logger;
      /**
       * How long to wait before settling anything: a write the previous server sent just before
       * it died may still reach the store that long after (0 for a store in this process).
       */
      graceMs?: number;
      /** A waiting session taken over from another replica: its calls' timeouts are armed. */
      onTakeover?: (record: SessionRecord) => void;
    },
  ) {}

  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;

  /**
   * Takes over, every `everyMs`, the sessions with work left whose replica is gone (their lease
   * expired): their running turn is settled as after a restart and their messages run. Call it
   * once the restart pass (run) is done: that pass re-attaches live sandboxes first.
   */
  watch(everyMs: number): void {
    this.sweepTimer = setInterval(() => void this.sweep(), everyMs);
    this.sweepTimer.unref();
  }

  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      const now = Date.now();
      const records = [
        ...(await this.o.store.listAllSessions({ state: "running" })),
        ...(await this.o.store.listAllSessions({ state: "waiting" })),
        ...(await this.o.store.listAllSessions({ fileEventsPending: true })),
      ];
      const orphans = new Map<string, SessionRecord>();
      for (const r of records) {
        if (this.o.manager.getSession(r.id) || this.o.manager.isRecovering(r.id)) continue;
        if (r.lease && r.lease.expiresAt.getTime() > now) continue;
        orphans.set(r.id, r);
      }
      if (orphans.size === 0) return;
      this.o.logger.info("taking over sessions whose replica is gone", {
        sessions: [...orphans.keys()],
      });
      const failed = await this.recover(new Set(orphans.keys()), new Map());
      for (const [id, r] of orphans) if (!failed.includes(id)) this.o.onTakeover?.(r);
    } catch (err) {
      this.o.logger.warn("looking for sessions to take over failed; will retry", { err });
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * One pass over everything; resolves when it is done (sessions that failed are retried later).
   * While the store cannot even list what to recover, calls are let through (they fail on the
   * store themselves) and the pass starts again with backoff.
   */
  async run(): Promise<void> {
    for (let delay = RETRY_MIN_MS; !this.stopped; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
      const listing = this.plan();
      this.o.manager.holdUntil(listing.then(() => {}));
      try {
        const { sessions, sandboxes } = await listing;
        const failed = await this.recover(sessions, sandboxes, this.o.graceMs ?? 0);
        if (failed.length > 0) this.retry(failed, RETRY_MIN_MS);
        return;
      } catch (err) {
        this.o.logger.error("listing what to recover failed; will retry", {
          retryInMs: delay,
          err,
        });
        await new Promise((resolve) => {
          this.timer = setTimeout(resolve, delay);
        });
      }
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.sweepTimer);
  }

  /** The sessions to recover, and each one's live sandbox. */
  private async plan(): Promise<{
    sessions: Set<string>;
    sandboxes: Map<string, { provider: SandboxProvider; sandboxId: string }>;
  }> {
    const sessions = new Set<string>();
    const sandboxes = new Map<string, { provider: SandboxProvider; sandboxId: string }>();
    const running = await this.o.store.listAllSessions({ state: "running" });
    // Waiting for a budget: the limit may have been raised while the server was down.
    const waiting = await this.o.store.listAllSessions({ state: "waiting" });
    const filesPending = await this.o.store.listAllSessions({ fileEventsPending: true });
    for (const record of [...running, ...waiting, ...filesPending]) sessions.add(record.id);
    for (const provider of this.o.manager.sandboxProviders?.providers.values() ?? []) {
      const live = await provider.listLive().catch((err: unknown) => {
        this.o.logger.warn("listing live sandboxes failed", { provider: provider.name, err });
        return [];
      });
      for (const { sandboxId, sessionId } of live) {
        sessions.add(sessionId);
        sandboxes.set(sessionId, { provider, sandboxId });
      }
    }
    return { sessions, sandboxes };
  }

  private async recover(
    sessions: Set<string>,
    sandboxes: Map<string, { provider: SandboxProvider; sandboxId: string }>,
    graceMs = 0,
  ): Promise<string[]> {
    const failed: string[] = [];
    const grace = new Promise((resolve) => setTimeout(resolve, graceMs));
    const work = [...sessions].map((sessionId) => {
      const recovering = grace.then(() => this.recoverOne(sessionId, sandboxes.get(sessionId)));
      const done = recovering.catch((err: unknown) => {
        this.o.logger.error("recovering a session failed; will retry", { sessionId, err });
        failed.push(sessionId);
      });
      this.o.manager.markRecovering(sessionId, done);
      return done;
    });
    await Promise.all(work);
    return failed;
  }

  private async recoverOne(
    sessionId: string,
    live: { provider: SandboxProvider; sandboxId: string } | undefined,
  ): Promise<void> {
    const record = await this.o.store.loadSession(sessionId);
    // Another live replica runs it: it is that replica's to recover (and its sandbox too).
    const lease = record?.lease;
    if (lease && lease.owner !== this.o.manager.replicaId && lease.expiresAt.getTime() > Date.now())
      return;
    try {
      await this.recoverLoaded(sessionId, record, live);
    } catch (err) {
      if (err instanceof AppError && err.reason === OWNED_ELSEWHERE) return;
      throw err;
    }
  }

  private async recoverLoaded(
    sessionId: string,
    record: SessionRecord | null,
    live: { provider: SandboxProvider; sandboxId: string } | undefined,
  ): Promise<void> {
    if (record?.fileEventsPending) {
      const written = await settleFileEvents(await this.o.manager.load(sessionId), this.o.store);
      if (written > 0)
        this.o.logger.info("wrote the file events a crash cut off", { sessionId, written });
    }
    if (live) {
      const owned =
        record?.sandbox?.provider === live.provider.name &&
        record.sandbox.sandboxId === live.sandboxId;
      const sandbox: Sandbox | null = await live.provider
        .attach(live.sandboxId, sessionId)
        .catch(() => null);
      if (sandbox && !owned) {
        this.o.logger.info("terminating an orphan sandbox", {
          provider: live.provider.name,
          sessionId,
        });
        await sandbox.terminate().catch(() => {});
      } else if (sandbox) {
        const session = await this.o.manager.load(sessionId);
        await session.sandbox.adopt(sandbox);
        this.o.logger.info("re-attached a live sandbox", {
          provider: live.provider.name,
          sessionId,
        });
      }
    }
    if (record && (record.currentTurn || record.queuedMessages.length > 0 || record.budgetWait)) {
      const session = await this.o.manager.load(sessionId);
      this.o.manager.kick(session);
    }
  }

  private retry(sessionIds: string[], delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(async () => {
      const failed = await this.recover(new Set(sessionIds), new Map());
      if (failed.length > 0) this.retry(failed, Math.min(delayMs * 2, RETRY_MAX_MS));
    }, delayMs);
    this.timer.unref();
  }
}
