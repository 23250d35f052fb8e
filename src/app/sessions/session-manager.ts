import { AppError, notFound } from "../../domain/errors.js";
import type { Lease } from "../../domain/types.js";
import type { Logger } from "../../ports/logger.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import type { SecretStore } from "../../ports/secrets.js";
import type { Feeds } from "../feed/feeds.js";
import { type SandboxProviders, SessionSandbox } from "../sandbox/session-sandbox.js";
import { KeyedLock } from "../shared/keyed-lock.js";
import { Transcripts } from "../turns/conversation.js";
import { Leases } from "./leases.js";
import { LoadedSession, NOT_LOADED, type SessionRuntime } from "./loaded-session.js";

export const DEFAULT_IDLE_TIMEOUT_MS = 15 * 60 * 1000;
export const DEFAULT_SYNC_INTERVAL_MS = 30 * 1000;
/** A turn engine run that failed is tried again after this long, doubling up to the max. */
export const DEFAULT_TURN_RETRY_MS = { min: 500, max: 5_000 };
/** How long saving files waits for their events to be stored. */
export const FILE_EVENTS_TIMEOUT_MS = 10_000;
export { OWNED_ELSEWHERE } from "./leases.js";

/** Runs a session's turns; the session manager starts it when messages wait. */
export interface TurnEngine {
  /** Runs waiting messages one after another until none is left. */
  drain(session: LoadedSession): Promise<void>;
}

export interface SessionManagerOptions {
  store: PersistenceAdapter;
  feeds: Feeds;
  logger: Logger;
  sandboxes?: SandboxProviders | undefined;
  /** Resolves the profiles' `sandbox.secret_env` for sandbox starts. */
  secrets?: SecretStore | undefined;
  idleTimeoutMs?: number;
  syncIntervalMs?: number;
  /** Backoff of a turn engine run that failed (the store is down). */
  turnRetryMs?: { min: number; max: number };
  /**
   * This replica's name in session leases; unique among the replicas on one store, and the
   * same after a restart, so a restarted replica takes its sessions back at once. Default: the
   * host name (one replica per machine; give each of several on one machine its own).
   */
  replicaId?: string;
  /** How long a lease lasts unless renewed. Default DEFAULT_LEASE_TTL_MS. */
  leaseTtlMs?: number;
}

/**
 * The loaded sessions: a session is loaded (its record cached, its feed open, its sandbox
 * managed) on the first message or file operation that needs it, and unloaded when idle for
 * `idleTimeoutMs`, by `unloadSession`, or at shutdown. The turn engine and recovery work on
 * loaded sessions; the seed library's `getLoadedSessions`, `getSession(id).getState()` and
 * `unloadSession(id)` are here.
 */
export class SessionManager {
  readonly idleTimeoutMs: number;
  readonly syncIntervalMs: number;
  /** The workspace lock of each session, loaded or not. */
  readonly workspaceLocks = new KeyedLock();
  /** Loaded sessions' conversations in the model's form. */
  readonly transcripts: Transcripts;
  private readonly loaded = new Map<string, LoadedSession>();
  private readonly loading = new Map<string, Promise<LoadedSession>>();
  private readonly idleTimers = new Map<string, NodeJS.Timeout>();
  private readonly retryDelays = new Map<string, number>();
  /** Sessions whose turn engine waits to be tried again, and the timer that will. */
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  /** Sessions recovery has not finished with: their calls wait for it. */
  private readonly recovering = new Map<string, Promise<void>>();
  /** Until recovery knows which sessions it recovers, every call waits. */
  private held: Promise<void> = Promise.resolve();
  private engine: TurnEngine | undefined;
  private closed = false;
  private readonly leases: Leases;

  constructor(private readonly o: SessionManagerOptions) {
    this.idleTimeoutMs = o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.syncIntervalMs = o.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
    this.transcripts = new Transcripts(o.store);
    this.leases = new Leases({
      store: o.store,
      logger: o.logger,
      replicaId: o.replicaId,
      ttlMs: o.leaseTtlMs,
      held: () =>
        [...this.loaded.values()].map((s) => ({
          sessionId: s.id,
          lease: s.lease,
          renewed: (lease) => {
            if (s.lease.token === lease.token) s.lease = lease;
          },
        })),
      lost: (sessionId, token) => void this.lose(sessionId, token),
    });
  }

  /** This replica's name in session leases. */
  get replicaId(): string {
    return this.leases.replicaId;
  }

  get leaseTtlMs(): number {
    return this.leases.ttlMs;
  }

  get store(): PersistenceAdapter {
    return this.o.store;
  }

  get feeds(): Feeds {
    return this.o.feeds;
  }

  get sandboxProviders(): SandboxProviders | undefined {
    return this.o.sandboxes;
  }

  setTurnEngine(engine: TurnEngine): void {
    this.engine = engine;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  getLoadedSessions(): LoadedSession[] {
    return [...this.loaded.values()];
  }

  getSession(sessionId: string): LoadedSession | undefined {
    return this.loaded.get(sessionId);
  }

  runtimeOf(sessionId: string): SessionRuntime {
    return this.loaded.get(sessionId)?.getState() ?? NOT_LOADED;
  }

  /** Holds calls on `sessionId` until `recovery` is done (used by restart recovery). */
  markRecovering(sessionId: string, recovery: Promise<void>): void {
    const done = recovery.catch(() => {});
    this.recovering.set(sessionId, done);
    void done.then(() => {
      if (this.recovering.get(sessionId) === done) this.recovering.delete(sessionId);
    });
  }

  /** Whether recovery is working on the session now. */
  isRecovering(sessionId: string): boolean {
    return this.recovering.has(sessionId);
  }

  /** Holds every call on any session until `planned` settles (recovery is listing). */
  holdUntil(planned: Promise<void>): void {
    this.held = planned.catch(() => {});
  }

  /** Resolves once recovery is done with the session (at once for most sessions). */
  async whenRecovered(sessionId: string): Promise<void> {
    await this.held;
    await this.recovering.get(sessionId);
  }

  /** Loads a session into memory (single flight). */
  async load(sessionId: string): Promise<LoadedSession> {
    const existing = this.loaded.get(sessionId);
    if (existing) return existing;
    let pending = this.loading.get(sessionId);
    if (!pending) {
      pending = this.open(sessionId).finally(() => this.loading.delete(sessionId));
      this.loading.set(sessionId, pending);
    }
    return pending;
  }

  /**
   * Loads a session this replica may run: takes its lease (when no other live replica holds
   * it), opens its feed claimed for the lease, and caches its record. A session another replica
   * runs throws OWNED_ELSEWHERE (its metadata names the owner).
   */
  private async open(sessionId: string): Promise<LoadedSession> {
    if (this.closed)
      throw new AppError("unavailable", "SHUTTING_DOWN", "the server is shutting down");
    const lease = await this.leases.acquire(sessionId);
    try {
      return await this.openLeased(sessionId, lease);
    } catch (err) {
      await this.leases.release(sessionId, lease);
      throw err;
    }
  }

  private async openLeased(sessionId: string, lease: Lease): Promise<LoadedSession> {
    const lost = () => void this.lose(sessionId, lease.token);
    const record = await this.o.store.loadSession(sessionId);
    if (!record) throw notFound("session", sessionId, "session_id");
    const feed = await this.o.feeds.openFor(sessionId, record, {
      fence: lease.token,
      onLost: lost,
    });
    let session: LoadedSession | undefined;
    const sandbox = new SessionSandbox({
      sessionId,
      store: this.o.store,
      logger: this.o.logger,
      secrets: this.o.secrets,
      providers: this.o.sandboxes,
      locks: this.workspaceLocks,
      syncIntervalMs: this.syncIntervalMs,
      emit: (payload, context) => feed.emit(payload, context),
      state: () => session?.record.state ?? record.state,
      remember: (where) => session!.update(() => ({ sandbox: where })),
      filesPending: (pending) =>
        session!.update(() => ({ fileEventsPending: pending ? true : undefined })),
      flush: () => feed.flush(FILE_EVENTS_TIMEOUT_MS),
    });
    session = new LoadedSession(
      { ...record, lastSequence: feed.sequence },
      feed,
      sandbox,
      this.o.store,
      lease,
      lost,
    );
    this.loaded.set(sessionId, session);
    this.touch(session);
    return session;
  }

  /**
   * Starts the turn engine on a session's waiting messages unless it already runs. When it
   * fails (the store is down), it is started again later, with backoff, while work is left.
   */
  kick(session: LoadedSession): void {
    if (session.draining || !this.engine || this.closed) return;
    const engine = this.engine;
    session.draining = engine
      .drain(session)
      .then(
        () => {
          this.retryDelays.delete(session.id);
        },
        (err: unknown) => {
          const { min, max } = this.o.turnRetryMs ?? DEFAULT_TURN_RETRY_MS;
          const last = this.retryDelays.get(session.id);
          const delay = last === undefined ? min : Math.min(last * 2, max);
          this.retryDelays.set(session.id, delay);
          const level =
            (err as { reason?: unknown }).reason === "STORE_UNAVAILABLE" ? "warn" : "error";
          this.o.logger[level]("running the session's turns failed; will retry", {
            sessionId: session.id,
            retryInMs: delay,
            err,
          });
          const retry = setTimeout(() => {
            this.retryTimers.delete(session.id);
            if (this.loaded.get(session.id) === session) this.kick(session);
          }, delay);
          retry.unref();
          this.retryTimers.set(session.id, retry);
        },
      )
      .finally(() => {
        session.draining = undefined;
        this.touch(session);
      });
  }

  /**
   * Tries every waiting turn engine again now, with its backoff reset: the store answers again,
   * and a session should not wait out a backoff grown during the outage.
   */
  retryNow(): void {
    const waiting = [...this.retryTimers.keys()];
    for (const sessionId of waiting) {
      clearTimeout(this.retryTimers.get(sessionId));
      this.retryTimers.delete(sessionId);
      this.retryDelays.delete(sessionId);
      const session = this.loaded.get(sessionId);
      if (session) this.kick(session);
    }
    // Files a failed save may have stored without their events: the turn engine settles them.
    for (const session of this.loaded.values()) {
      if (session.record.fileEventsPending) this.kick(session);
    }
  }

  /** Notes activity: the idle timer starts again. */
  touch(session: LoadedSession): void {
    session.touch();
    clearTimeout(this.idleTimers.get(session.id));
    const timer = setTimeout(() => {
      // A turn waiting for answers does not keep its session loaded: the answer loads it again.
      if (!session.isIdle && !session.isParked) return this.touch(session);
      this.o.logger.info("session idle: unloading", {
        sessionId: session.id,
        idleMs: this.idleTimeoutMs,
      });
      this.unloadSession(session.id, "idle timeout").catch((err: unknown) =>
        this.o.logger.error("idle unload failed", { sessionId: session.id, err }),
      );
    }, this.idleTimeoutMs);
    timer.unref();
    this.idleTimers.set(session.id, timer);
  }

  /** Ends what runs for a loaded session and forgets it; the feed and store stay. */
  private async evict(sessionId: string, why: AppError, stop: (s: LoadedSession) => Promise<void>) {
    const session = this.loaded.get(sessionId);
    if (!session) return;
    session.closing = true;
    session.current?.abort.abort(why);
    await session.draining;
    clearTimeout(this.idleTimers.get(sessionId));
    this.idleTimers.delete(sessionId);
    await stop(session);
    this.loaded.delete(sessionId);
    this.transcripts.forget(sessionId);
    this.retryDelays.delete(sessionId);
    clearTimeout(this.retryTimers.get(sessionId));
    this.retryTimers.delete(sessionId);
  }

  /**
   * Syncs the workspace, ends the sandbox and forgets the session, and gives its lease back (once
   * its events are stored: until then the feed keeps trying, under the lease). A running turn
   * is cancelled first (it ends as interrupted).
   */
  async unloadSession(sessionId: string, why = "unloaded"): Promise<void> {
    const lease = this.loaded.get(sessionId)?.lease;
    await this.evict(sessionId, new AppError("unavailable", "UNLOADED", why), (s) =>
      s.sandbox.stop(why),
    );
    if (this.loaded.has(sessionId) || this.loading.has(sessionId)) return;
    if (lease && (await this.o.feeds.retire(sessionId))) {
      await this.leases.release(sessionId, lease);
    }
  }

  /**
   * Another replica took the session over (a renewal or a fenced write found a newer lease):
   * what runs here stops at once, without saving anything more (the new owner has the session).
   */
  async lose(sessionId: string, token: number): Promise<void> {
    const session = this.loaded.get(sessionId);
    if (!session || session.lease.token !== token || session.closing) return;
    this.o.logger.warn("another replica runs the session now: letting it go", {
      sessionId,
      replicaId: this.replicaId,
    });
    await this.evict(
      sessionId,
      new AppError("unavailable", "LEASE_LOST", "another replica runs the session now"),
      (s) => s.sandbox.stop("moved to another replica", { sync: false }),
    );
    await this.o.feeds.drop(sessionId);
  }

  /** Ends the session's sandbox, feed and local workspace; the caller removes stored data. */
  async destroySession(sessionId: string): Promise<void> {
    await this.evict(sessionId, new AppError("unavailable", "DELETED", "session deleted"), (s) =>
      s.sandbox.stop("session deleted", { sync: false }),
    );
    await this.o.feeds.end(sessionId);
    for (const provider of this.o.sandboxes?.providers.values() ?? []) {
      await provider.destroy?.(sessionId);
    }
  }

  /**
   * Interrupts running turns, syncs every loaded session's workspace and stores every feed
   * (waiting at most `graceMs` for a store that does not answer).
   */
  async shutdown(graceMs = 10_000): Promise<void> {
    this.closed = true;
    this.leases.stop();
    const why = new AppError("unavailable", "SHUTTING_DOWN", "the server is shutting down");
    for (const session of this.loaded.values()) session.current?.abort.abort(why);
    await Promise.all(
      [...this.loaded.values()].map(async (session) => {
        await session.draining;
        clearTimeout(this.idleTimers.get(session.id));
        await session.sandbox
          .sync()
          .catch((err: unknown) =>
            this.o.logger.error("sync at shutdown failed", { sessionId: session.id, err }),
          );
      }),
    );
    for (const timer of this.idleTimers.values()) clearTimeout(timer);
    await this.o.feeds.endAll(graceMs);
    // Handed back at once: another replica takes the sessions over without waiting for expiry.
    await Promise.all([...this.loaded.values()].map((s) => this.leases.release(s.id, s.lease)));
  }
}
