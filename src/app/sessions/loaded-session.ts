import { LEASE_LOST } from "../../domain/errors.js";
import type {
  Lease,
  QueuedMessage,
  SandboxStatus,
  SessionRecord,
  SessionState,
  Turn,
} from "../../domain/types.js";
import type { PersistenceAdapter, SessionUpdate } from "../../ports/persistence.js";
import type { EmitContext, EventFeed } from "../feed/event-feed.js";
import type { SessionSandbox } from "../sandbox/session-sandbox.js";

/** What runs for a session right now, as GetSession shows it. */
export interface SessionRuntime {
  loaded: boolean;
  sandboxStatus: SandboxStatus;
  sandboxId: string;
  currentTurn?: Turn;
  /** Accepted messages whose turn has not started, oldest first. */
  queuedMessages: QueuedMessage[];
}

export const NOT_LOADED: SessionRuntime = Object.freeze({
  loaded: false,
  sandboxStatus: "none",
  sandboxId: "",
  queuedMessages: [],
}) as SessionRuntime;

/** The running turn of a loaded session: its record and how to stop it. */
export interface RunningTurn {
  turn: Turn;
  abort: AbortController;
}

/** Messages still waiting: accepted, not started, not cancelled. */
export function waitingMessages(record: SessionRecord): QueuedMessage[] {
  return record.queuedMessages.filter(
    (q) => q.turnId !== record.currentTurn?.id && !q.cancelRequested,
  );
}

/**
 * A record's state follows from its facts: waiting while tool calls wait for answers, or while
 * no turn runs and a budget holds the session; running while a turn runs or messages wait.
 */
export function stateOf(
  record: Pick<SessionRecord, "currentTurn" | "queuedMessages" | "pendingToolCalls" | "budgetWait">,
): SessionState {
  if (record.currentTurn && (record.pendingToolCalls?.length ?? 0) > 0) return "waiting";
  if (record.budgetWait && !record.currentTurn) return "waiting";
  return record.currentTurn || record.queuedMessages.length > 0 ? "running" : "idle";
}

/**
 * A session held in memory because it has a sandbox, a turn or waiting messages: its record (a
 * cache, changed only through `update`), its event feed and its sandbox. Created by the
 * SessionManager on the first message that needs it; unloaded on idle timeout, `unloadSession`
 * or shutdown.
 */
export class LoadedSession {
  private cached: SessionRecord;
  private writes: Promise<unknown> = Promise.resolve();
  private running: RunningTurn | undefined;
  /** A write failed: it may have reached the store anyway, so the cache may be wrong. */
  private stale = false;
  /** The turn engine's run over waiting messages, while it runs. */
  draining: Promise<void> | undefined;
  /** Set when the session is being unloaded or deleted: no new turn starts. */
  closing = false;
  lastActivity = Date.now();

  constructor(
    record: SessionRecord,
    readonly feed: EventFeed,
    readonly sandbox: SessionSandbox,
    private readonly store: PersistenceAdapter,
    /** This replica's lease of the session: every record write is fenced with its token. */
    public lease: Lease,
    /** Called when a write finds that another replica took the session over. */
    private readonly onLost: () => void = () => {},
  ) {
    this.cached = record;
  }

  get id(): string {
    return this.cached.id;
  }

  /** The record as last stored. */
  get record(): Readonly<SessionRecord> {
    return this.cached;
  }

  get current(): RunningTurn | undefined {
    return this.running;
  }

  set current(turn: RunningTurn | undefined) {
    this.running = turn;
  }

  getState(): SessionRuntime & { record: SessionRecord } {
    return {
      record: this.cached,
      loaded: true,
      sandboxStatus: this.sandbox.status,
      sandboxId: this.sandbox.id,
      ...(this.running ? { currentTurn: this.running.turn } : {}),
      queuedMessages: waitingMessages(this.cached),
    };
  }

  emit: EventFeed["emit"] = (payload, context) => this.feed.emit(payload, context);

  /**
   * Stores a change of the record, after every earlier one: `change` is computed from the
   * record as it is when the write's turn comes, and the cached record changes only once the
   * store took it. Updates never run concurrently: a store may apply a partial update as
   * read-modify-write (FerretDB v1 does), and two at once would lose one. The state (running,
   * idle) is derived here; a change of it is announced in the feed.
   */
  update(
    change: (record: Readonly<SessionRecord>) => SessionUpdate,
    context?: EmitContext,
  ): Promise<void> {
    const write = this.writes.then(async () => {
      await this.reloadIfStale();
      const updates: SessionUpdate = { ...change(this.cached) };
      const next = { ...this.cached, ...updates } as Record<string, unknown>;
      for (const [key, value] of Object.entries(updates)) if (value === undefined) delete next[key];
      // Restated on every write, so a write that failed here but reached the store cannot
      // leave the stored state wrong for long.
      const state = stateOf(next as unknown as SessionRecord);
      updates.state = next.state = state;
      try {
        await this.store.updateSessionRecord(this.id, updates, this.lease.token);
      } catch (err) {
        if ((err as { reason?: unknown }).reason === LEASE_LOST) this.onLost();
        // It may still have been applied: read the record back before the next write.
        this.stale = true;
        throw err;
      }
      const before = this.cached.state;
      this.cached = next as unknown as SessionRecord;
      if (before !== state) {
        this.emit(
          { type: "status_changed", state, sandboxStatus: this.sandbox.status, message: "" },
          context,
        );
      }
    });
    this.writes = write.catch(() => {});
    return write;
  }

  /** Reads the record back after a write that failed, in the order of the writes. */
  refresh(): Promise<void> {
    const read = this.writes.then(() => this.reloadIfStale());
    this.writes = read.catch(() => {});
    return read;
  }

  private async reloadIfStale(): Promise<void> {
    if (!this.stale) return;
    const stored = await this.store.loadSession(this.id);
    if (stored) this.cached = { ...stored, lastSequence: this.cached.lastSequence };
    this.stale = false;
  }

  touch(): void {
    this.lastActivity = Date.now();
  }

  /** Whether the session does nothing: no turn, nothing waiting, no engine running. */
  get isIdle(): boolean {
    return !this.running && !this.draining && this.cached.queuedMessages.length === 0;
  }

  /** Whether its turn is parked on tool calls waiting for answers (nothing runs meanwhile). */
  get isParked(): boolean {
    return !this.running && !this.draining && (this.cached.pendingToolCalls?.length ?? 0) > 0;
  }
}
