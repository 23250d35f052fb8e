import { AppError } from "../domain/errors.js";
import type {
  AgentProfile,
  EventPayload,
  FileInfo,
  QueuedMessage,
  SandboxStatus,
  SessionRecord,
  SessionState,
  Turn,
} from "../domain/types.js";
import type { PersistenceAdapter, SessionUpdate } from "../ports/persistence.js";
import type { Sandbox, SandboxProvider } from "../ports/sandbox.js";
import { type EmitContext, EventFeed } from "./event-feed.js";
import type { Logger } from "./logger.js";
import { fileInfo } from "./sessions.js";
import {
  type FileChange,
  restoreWorkspace,
  type SavedFiles,
  syncWorkspace,
} from "./workspace-sync.js";

export const DEFAULT_IDLE_TIMEOUT_MS = 15 * 60 * 1000;
export const DEFAULT_SYNC_INTERVAL_MS = 30 * 1000;

/** What runs for a session right now, as GetSession shows it. */
export interface SessionRuntimeView {
  loaded: boolean;
  sandboxStatus: SandboxStatus;
  sandboxId: string;
  currentTurn?: Turn;
  queuedMessages: QueuedMessage[];
}

/** Runs a session's turns; the session manager calls it when messages wait. */
export interface TurnEngine {
  /** Runs queued messages one after another until none is left. */
  drain(session: LoadedSession): Promise<void>;
  /** Marks a turn that was running when the server stopped as interrupted. */
  recoverInterrupted(session: LoadedSession, turn: Turn): Promise<void>;
}

export interface SandboxProviders {
  /** The provider for profiles that name none. */
  defaultProvider: string;
  providers: ReadonlyMap<string, SandboxProvider>;
}

export interface SessionManagerOptions {
  store: PersistenceAdapter;
  logger: Logger;
  sandboxes?: SandboxProviders;
  idleTimeoutMs?: number;
  syncIntervalMs?: number;
}

/** A simple FIFO lock: one sandbox operation (start, sync, stop) at a time per session. */
class Lock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => {});
    return result;
  }
}

/**
 * A session held in memory because it has a sandbox, a turn or waiting messages. Created on the
 * first message that needs it; unloaded on idle timeout, `unloadSession` or shutdown.
 */
export class LoadedSession {
  sandbox: Sandbox | undefined;
  sandboxStatus: SandboxStatus = "none";
  saved: SavedFiles = new Map();
  current: { turn: Turn; abort: AbortController } | undefined;
  draining: Promise<void> | undefined;
  lastActivity = Date.now();
  idleTimer: NodeJS.Timeout | undefined;
  syncTimer: NodeJS.Timeout | undefined;
  readonly lock = new Lock();
  private starting: Promise<Sandbox> | undefined;

  constructor(
    public record: SessionRecord,
    readonly feed: EventFeed,
    private readonly manager: SessionManager,
  ) {}

  get id(): string {
    return this.record.id;
  }

  get store(): PersistenceAdapter {
    return this.manager.store;
  }

  getState(): SessionRuntimeView & { record: SessionRecord } {
    return {
      record: this.record,
      loaded: true,
      sandboxStatus: this.sandboxStatus,
      sandboxId: this.sandbox?.id ?? "",
      ...(this.current ? { currentTurn: this.current.turn } : {}),
      queuedMessages: this.record.queuedMessages,
    };
  }

  emit(payload: EventPayload, context?: EmitContext) {
    return this.feed.emit(payload, context);
  }

  /**
   * Updates the cached record and stores the change (in order, see SessionManager.writeRecord).
   */
  update(updates: SessionUpdate): Promise<void> {
    const next = { ...this.record, ...updates } as Record<string, unknown>;
    for (const [key, value] of Object.entries(updates)) if (value === undefined) delete next[key];
    this.record = next as unknown as SessionRecord;
    return this.manager.writeRecord(this.id, updates);
  }

  setStatus(sandboxStatus: SandboxStatus, message: string, context?: EmitContext): void {
    this.sandboxStatus = sandboxStatus;
    this.emit(
      { type: "status_changed", state: this.record.state, sandboxStatus, message },
      context,
    );
  }

  /**
   * Brings the stored state in line with the facts: RUNNING while a turn runs or messages
   * wait, IDLE otherwise. Derived each time, so racing callers cannot leave it wrong.
   */
  async refreshState(context?: EmitContext): Promise<void> {
    const state: SessionState =
      this.current || this.record.queuedMessages.length > 0 ? "running" : "idle";
    if (this.record.state === state) return;
    const update = this.update({ state });
    this.emit(
      { type: "status_changed", state, sandboxStatus: this.sandboxStatus, message: "" },
      context,
    );
    await update;
  }

  /** The session's sandbox, created and restored on first use; one at a time. */
  ensureSandbox(profile: AgentProfile, context: EmitContext = {}): Promise<Sandbox> {
    this.starting ??= this.manager.startSandbox(this, profile, context).finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /** Saves what changed in the sandbox's workspace and emits file events. */
  sync(context: EmitContext = {}): Promise<FileChange[]> {
    return this.lock.run(() => this.syncLocked(context));
  }

  async syncLocked(context: EmitContext = {}): Promise<FileChange[]> {
    const sandbox = this.sandbox;
    if (!sandbox) return [];
    const { changes, skipped } = await syncWorkspace(
      this.id,
      sandbox,
      this.manager.store,
      this.saved,
    );
    for (const change of changes) this.emit(change, context);
    if (skipped.length > 0) {
      this.manager.logger.warn("files over the size limit were not saved", {
        sessionId: this.id,
        paths: skipped.slice(0, 20),
      });
    }
    return changes;
  }

  touch(): void {
    this.lastActivity = Date.now();
    this.manager.scheduleIdle(this);
  }
}

/**
 * Holds the loaded sessions: their sandboxes, turns and event feeds. Sessions load on the first
 * message that needs them and unload on idle timeout, unloadSession or shutdown.
 */
export class SessionManager {
  readonly store: PersistenceAdapter;
  readonly logger: Logger;
  readonly idleTimeoutMs: number;
  readonly syncIntervalMs: number;
  private readonly sandboxes: SandboxProviders | undefined;
  private readonly loaded = new Map<string, LoadedSession>();
  private readonly loading = new Map<string, Promise<LoadedSession>>();
  private readonly feeds = new Map<string, Promise<EventFeed>>();
  private engine: TurnEngine | undefined;
  private closed = false;

  constructor(options: SessionManagerOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.sandboxes = options.sandboxes;
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.syncIntervalMs = options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS;
  }

  private readonly recordWrites = new Map<string, Promise<void>>();

  /**
   * Stores a session record update after every earlier one of the same session. Updates of
   * one record never run concurrently: a store may apply a partial update as read-modify-write
   * (FerretDB v1 does), and two at once would lose one.
   */
  writeRecord(sessionId: string, updates: SessionUpdate): Promise<void> {
    const previous = this.recordWrites.get(sessionId) ?? Promise.resolve();
    const write = previous.then(() => this.store.updateSessionRecord(sessionId, updates));
    const tail = write.catch(() => {});
    this.recordWrites.set(sessionId, tail);
    void tail.then(() => {
      if (this.recordWrites.get(sessionId) === tail) this.recordWrites.delete(sessionId);
    });
    return write;
  }

  /** Updates a session record, and the loaded session's copy when it is loaded. */
  updateRecord(sessionId: string, updates: SessionUpdate): Promise<void> {
    const loaded = this.loaded.get(sessionId);
    return loaded ? loaded.update(updates) : this.writeRecord(sessionId, updates);
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

  runtimeOf(sessionId: string): SessionRuntimeView {
    const session = this.loaded.get(sessionId);
    if (session) return session.getState();
    return { loaded: false, sandboxStatus: "none", sandboxId: "", queuedMessages: [] };
  }

  /** The session's event feed, opened on first use and shared by every reader and writer. */
  feed(sessionId: string, record?: SessionRecord): Promise<EventFeed> {
    let feed = this.feeds.get(sessionId);
    if (!feed) {
      feed = (async () => {
        const rec = record ?? (await this.store.loadSession(sessionId));
        if (!rec)
          throw new AppError("not_found", "SESSION_NOT_FOUND", `session ${sessionId} not found`);
        return EventFeed.open(sessionId, rec.lastSequence, this.store, this.logger, (n) =>
          this.writeRecord(sessionId, { lastSequence: n }),
        );
      })();
      this.feeds.set(sessionId, feed);
      feed.catch(() => this.feeds.delete(sessionId));
    }
    return feed;
  }

  /** Forgets a feed nobody uses (no loaded session, no subscriber). */
  async releaseFeed(sessionId: string): Promise<void> {
    const pending = this.feeds.get(sessionId);
    if (!pending || this.loaded.has(sessionId)) return;
    const feed = await pending.catch(() => undefined);
    if (!feed) return;
    await feed.flush();
    if (
      feed.subscriberCount === 0 &&
      !this.loaded.has(sessionId) &&
      this.feeds.get(sessionId) === pending
    ) {
      this.feeds.delete(sessionId);
    }
  }

  /** Loads a session into memory (single flight). */
  async load(sessionId: string): Promise<LoadedSession> {
    const existing = this.loaded.get(sessionId);
    if (existing) return existing;
    let pending = this.loading.get(sessionId);
    if (!pending) {
      pending = (async () => {
        if (this.closed)
          throw new AppError("unavailable", "SHUTTING_DOWN", "the server is shutting down");
        const record = await this.store.loadSession(sessionId);
        if (!record)
          throw new AppError("not_found", "SESSION_NOT_FOUND", `session ${sessionId} not found`);
        const feed = await this.feed(sessionId, record);
        const session = new LoadedSession({ ...record, lastSequence: feed.sequence }, feed, this);
        this.loaded.set(sessionId, session);
        this.scheduleIdle(session);
        return session;
      })().finally(() => this.loading.delete(sessionId));
      this.loading.set(sessionId, pending);
    }
    return pending;
  }

  /** Starts the turn engine on a session's waiting messages unless it already runs. */
  kick(session: LoadedSession): void {
    if (session.draining || !this.engine || this.closed) return;
    const engine = this.engine;
    session.draining = engine
      .drain(session)
      .catch((err: unknown) =>
        this.logger.error("turn engine failed", { sessionId: session.id, err }),
      )
      .finally(() => {
        session.draining = undefined;
        session.touch();
        if (session.record.queuedMessages.length > 0 && !this.closed) this.kick(session);
      });
  }

  private provider(profile: AgentProfile): SandboxProvider {
    if (!this.sandboxes) {
      throw new AppError(
        "failed_precondition",
        "NO_SANDBOX_PROVIDER",
        "this server runs no sandbox provider",
      );
    }
    const name =
      profile.sandbox.provider === "default"
        ? this.sandboxes.defaultProvider
        : profile.sandbox.provider;
    const provider = this.sandboxes.providers.get(name);
    if (!provider) {
      throw new AppError(
        "failed_precondition",
        "SANDBOX_PROVIDER_UNAVAILABLE",
        `the profile asks for the ${name} sandbox provider, which this server does not run`,
      );
    }
    return provider;
  }

  /** Creates (or finds again) the session's sandbox and restores its workspace into it. */
  async startSandbox(
    session: LoadedSession,
    profile: AgentProfile,
    context: EmitContext,
  ): Promise<Sandbox> {
    return session.lock.run(async () => {
      if (session.sandbox) {
        if (await session.sandbox.isAlive().catch(() => false)) return session.sandbox;
        this.logger.warn("sandbox died", { sessionId: session.id, sandboxId: session.sandbox.id });
        session.sandbox = undefined;
        this.stopSyncTimer(session);
        session.setStatus(
          "terminated",
          "the sandbox stopped unexpectedly; starting a new one",
          context,
        );
      }
      let sandbox: Sandbox | undefined;
      try {
        const provider = this.provider(profile);
        session.setStatus("starting", `creating a ${provider.name} sandbox`, context);
        sandbox = await provider.create({
          sessionId: session.id,
          settings: profile.sandbox,
          onProgress: (message) => session.setStatus("starting", message, context),
        });
        const stored = await this.store.listWorkspaceFiles(session.id);
        session.setStatus("starting", `restoring the workspace (${stored.length} files)`, context);
        session.saved = await restoreWorkspace(session.id, sandbox, this.store);
        session.sandbox = sandbox;
        await session.update({ sandbox: { provider: provider.name, sandboxId: sandbox.id } });
        session.setStatus("ready", `sandbox ${sandbox.id} is ready`, context);
        this.startSyncTimer(session);
        return sandbox;
      } catch (err) {
        session.sandbox = undefined;
        if (sandbox) await sandbox.terminate().catch(() => {});
        const reason = err instanceof Error ? err.message : String(err);
        this.logger.error("sandbox start failed", { sessionId: session.id, err });
        session.setStatus("failed", reason, context);
        if (err instanceof AppError) throw err;
        throw new AppError(
          "unavailable",
          "SANDBOX_START_FAILED",
          `the sandbox could not start: ${reason}`,
        );
      }
    });
  }

  private startSyncTimer(session: LoadedSession): void {
    this.stopSyncTimer(session);
    session.syncTimer = setInterval(() => {
      session
        .sync()
        .catch((err: unknown) =>
          this.logger.warn("periodic sync failed", { sessionId: session.id, err }),
        );
    }, this.syncIntervalMs);
    session.syncTimer.unref();
  }

  private stopSyncTimer(session: LoadedSession): void {
    if (session.syncTimer) clearInterval(session.syncTimer);
    session.syncTimer = undefined;
  }

  scheduleIdle(session: LoadedSession): void {
    if (session.idleTimer) clearTimeout(session.idleTimer);
    session.idleTimer = setTimeout(() => {
      if (session.current || session.draining || session.record.queuedMessages.length > 0) {
        this.scheduleIdle(session);
        return;
      }
      this.logger.info("session idle: unloading", {
        sessionId: session.id,
        idleMs: this.idleTimeoutMs,
      });
      this.unloadSession(session.id, "idle timeout").catch((err: unknown) =>
        this.logger.error("idle unload failed", { sessionId: session.id, err }),
      );
    }, this.idleTimeoutMs);
    session.idleTimer.unref();
  }

  /**
   * Syncs the workspace, ends the sandbox and forgets the session. A running turn is cancelled
   * first.
   */
  async unloadSession(sessionId: string, why = "unloaded"): Promise<void> {
    const session = this.loaded.get(sessionId);
    if (!session) return;
    if (session.current) session.current.abort.abort(new AppError("unavailable", "UNLOADED", why));
    await session.draining;
    if (session.idleTimer) clearTimeout(session.idleTimer);
    this.stopSyncTimer(session);
    await session.lock.run(async () => {
      const sandbox = session.sandbox;
      if (sandbox) {
        try {
          await session.syncLocked();
        } catch (err) {
          this.logger.error("final sync failed", { sessionId, err });
        }
        await sandbox
          .terminate()
          .catch((err: unknown) => this.logger.warn("terminate failed", { sessionId, err }));
        session.sandbox = undefined;
        session.setStatus("terminated", why);
      }
    });
    await session.feed.flush();
    this.loaded.delete(sessionId);
    await this.releaseFeed(sessionId);
  }

  /** Ends the session's sandbox and feed, and removes its local workspace; the caller removes stored data. */
  async destroySession(sessionId: string): Promise<void> {
    const session = this.loaded.get(sessionId);
    if (session) {
      if (session.current)
        session.current.abort.abort(new AppError("unavailable", "DELETED", "session deleted"));
      await session.draining;
      if (session.idleTimer) clearTimeout(session.idleTimer);
      this.stopSyncTimer(session);
      await session.sandbox?.terminate().catch(() => {});
      await session.feed.flush();
      this.loaded.delete(sessionId);
    }
    const feed = await this.feeds.get(sessionId)?.catch(() => undefined);
    feed?.end();
    this.feeds.delete(sessionId);
    for (const provider of this.sandboxes?.providers.values() ?? []) {
      await (provider as SandboxProvider & { destroy?(id: string): Promise<void> }).destroy?.(
        sessionId,
      );
    }
  }

  // --- the workspace, whether or not a sandbox runs ---

  private async liveSandbox(sessionId: string): Promise<LoadedSession | undefined> {
    const session = this.loaded.get(sessionId);
    return session?.sandbox ? session : undefined;
  }

  async listFiles(sessionId: string): Promise<FileInfo[]> {
    const live = await this.liveSandbox(sessionId);
    if (live) {
      await live.sync();
      live.touch();
    }
    return this.store.listWorkspaceFiles(sessionId);
  }

  async readFile(
    sessionId: string,
    path: string,
  ): Promise<{ info: FileInfo; content: Uint8Array } | null> {
    const live = await this.liveSandbox(sessionId);
    if (live) {
      await live.sync();
      live.touch();
    }
    return this.store.readWorkspaceFile(sessionId, path);
  }

  async writeFile(sessionId: string, path: string, content: Uint8Array): Promise<FileInfo> {
    const live = await this.liveSandbox(sessionId);
    const before = await this.store.readWorkspaceFile(sessionId, path);
    let info = fileInfo(path, content);
    const write = async () => {
      if (live?.sandbox) {
        await live.sandbox.writeFile(path, content);
        const stat = await live.sandbox.stat(path);
        info = { ...info, modifyTime: new Date(stat?.mtimeMs ?? Date.now()) };
        live.saved.set(path, info);
      }
      await this.store.saveWorkspaceFile(sessionId, { info, content });
    };
    await (live ? live.lock.run(write) : write());
    live?.touch();
    const feed = await this.feed(sessionId);
    feed.emit(
      before ? { type: "file_modified", file: info } : { type: "file_created", file: info },
    );
    await this.releaseFeed(sessionId);
    return info;
  }

  /** Returns false when there was no such file. */
  async deleteFile(sessionId: string, path: string): Promise<boolean> {
    const live = await this.liveSandbox(sessionId);
    if (live) await live.sync();
    const existing = await this.store.readWorkspaceFile(sessionId, path);
    if (!existing) return false;
    const remove = async () => {
      if (live?.sandbox) {
        await live.sandbox.remove(path);
        live.saved.delete(path);
      }
      await this.store.deleteSessionFile(sessionId, path);
    };
    await (live ? live.lock.run(remove) : remove());
    live?.touch();
    const feed = await this.feed(sessionId);
    feed.emit({ type: "file_deleted", path });
    await this.releaseFeed(sessionId);
    return true;
  }

  // --- start and shutdown ---

  /** Recovers what a previous run left: interrupted turns, waiting messages, live sandboxes. */
  async start(): Promise<void> {
    const running = await this.store.listAllSessions({ state: "running" });
    for (const record of running) {
      try {
        const session = await this.load(record.id);
        if (record.currentTurn && this.engine) {
          await this.engine.recoverInterrupted(session, record.currentTurn);
        }
        if (session.record.queuedMessages.length > 0) this.kick(session);
        else await session.refreshState();
      } catch (err) {
        this.logger.error("recovering a session failed", { sessionId: record.id, err });
      }
    }
    await this.adoptLiveSandboxes();
  }

  /** Re-attaches live sandboxes of known sessions; terminates the ones nobody owns. */
  private async adoptLiveSandboxes(): Promise<void> {
    for (const provider of this.sandboxes?.providers.values() ?? []) {
      let live: Array<{ sandboxId: string; sessionId: string }>;
      try {
        live = await provider.listLive();
      } catch (err) {
        this.logger.warn("listing live sandboxes failed", { provider: provider.name, err });
        continue;
      }
      for (const { sandboxId, sessionId } of live) {
        const record = await this.store.loadSession(sessionId);
        const owned =
          record?.sandbox?.provider === provider.name && record.sandbox.sandboxId === sandboxId;
        const sandbox = await provider.attach(sandboxId, sessionId).catch(() => null);
        if (!sandbox) continue;
        if (!owned) {
          this.logger.info("terminating an orphan sandbox", {
            provider: provider.name,
            sandboxId,
            sessionId,
          });
          await sandbox.terminate().catch(() => {});
          continue;
        }
        const session = await this.load(sessionId);
        await session.lock.run(async () => {
          session.sandbox = sandbox;
          session.saved = new Map(
            (await this.store.listWorkspaceFiles(sessionId)).map((f) => [f.path, f]),
          );
          session.sandboxStatus = "ready";
          await session.syncLocked();
        });
        this.startSyncTimer(session);
        this.logger.info("re-attached a live sandbox", {
          provider: provider.name,
          sandboxId,
          sessionId,
        });
      }
    }
  }

  /** Interrupts running turns, syncs every loaded session and ends every feed. */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const session of this.loaded.values()) {
      session.current?.abort.abort(
        new AppError("unavailable", "SHUTTING_DOWN", "the server is shutting down"),
      );
    }
    await Promise.all(
      [...this.loaded.values()].map(async (session) => {
        await session.draining;
        if (session.idleTimer) clearTimeout(session.idleTimer);
        this.stopSyncTimer(session);
        try {
          await session.sync();
        } catch (err) {
          this.logger.error("sync at shutdown failed", { sessionId: session.id, err });
        }
        await session.feed.flush();
      }),
    );
    for (const pending of this.feeds.values()) {
      const feed = await pending.catch(() => undefined);
      await feed?.flush();
      feed?.end();
    }
  }
}
