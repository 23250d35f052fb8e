import { AppError, type ErrorCode } from "../../domain/errors.js";
import { newId } from "../../domain/ids.js";
import type { SessionCommand } from "../../ports/coordination.js";
import type { Logger } from "../../ports/logger.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import type { LoadedSession } from "./loaded-session.js";
import { OWNED_ELSEWHERE, type SessionManager } from "./session-manager.js";

/** How long a call waits for the replica that runs its session to answer its command. */
export const COMMAND_TIMEOUT_MS = 30_000;
/** Commands a replica takes per look. */
const COMMANDS_PER_POLL = 100;

/** A use case that runs on the replica that runs the session. */
export type CommandHandler = (session: LoadedSession, args: never) => Promise<unknown>;

/**
 * Calls that change what runs for a session (a message, a cancel, an answer, a record or file
 * change) run on the replica that holds the session's lease. `run` runs one here when this
 * replica holds the lease or can take it; otherwise it stores a command that the owner picks up
 * (it looks every `pollMs`) and waits for its outcome. When the owner stops answering (its
 * lease expires), the replica that stored the command takes the session and the command over:
 * a command runs once.
 */
export class SessionCommands {
  private readonly handlers = new Map<string, CommandHandler>();
  private readonly running = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private polling = false;
  private stopWatching: (() => void) | undefined;

  constructor(
    private readonly manager: SessionManager,
    private readonly store: PersistenceAdapter,
    private readonly logger: Logger,
    readonly pollMs: number,
  ) {}

  register<A>(kind: string, handler: (session: LoadedSession, args: A) => Promise<unknown>): void {
    this.handlers.set(kind, handler as CommandHandler);
  }

  async run<T>(sessionId: string, kind: string, args: object): Promise<T> {
    const handler = this.handlers.get(kind);
    if (!handler) throw new Error(`no handler for command ${kind}`);
    await this.manager.whenRecovered(sessionId);
    try {
      const session = await this.manager.load(sessionId);
      return (await handler(session, args as never)) as T;
    } catch (err) {
      if (!(err instanceof AppError) || err.reason !== OWNED_ELSEWHERE) throw err;
      return (await this.forward(sessionId, kind, args, err.metadata.owner ?? "")) as T;
    }
  }

  /** Stores the command for `owner` and waits for its outcome, or takes it over. */
  private async forward(sessionId: string, kind: string, args: object, owner: string) {
    const id = newId("cmd");
    await this.store.enqueueCommand({
      id,
      sessionId,
      kind,
      args: encode(args),
      owner,
      createTime: new Date(),
    });
    const deadline = Date.now() + COMMAND_TIMEOUT_MS;
    let lastTry = Date.now();
    try {
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, this.pollMs));
        const stored = await this.store.loadCommand(id);
        if (stored?.outcome !== undefined) return decodeOutcome(stored.outcome);
        if (Date.now() - lastTry < this.manager.leaseTtlMs / 2) continue;
        // The owner has not answered for a while: it may be gone, its lease expiring.
        lastTry = Date.now();
        let session: LoadedSession;
        try {
          session = await this.manager.load(sessionId);
        } catch (err) {
          if (err instanceof AppError && err.reason === OWNED_ELSEWHERE) continue;
          throw err;
        }
        if (await this.store.takeCommand(id, this.manager.replicaId)) {
          return await this.handlers.get(kind)!(session, args as never);
        }
      }
      throw new AppError(
        "unavailable",
        "OWNER_NOT_ANSWERING",
        `the replica that runs session ${sessionId} (${owner}) did not answer in ${COMMAND_TIMEOUT_MS / 1000} s`,
        undefined,
        { owner, retryable: "true" },
      );
    } finally {
      await this.store.deleteCommand(id).catch(() => undefined);
    }
  }

  /**
   * Starts looking for commands for this replica, every `pollMs`, and at once where the store
   * tells of changes (change streams), which also report feeds whose head moved (`feedMoved`).
   */
  start(feedMoved: (sessionId: string) => void): void {
    this.stopped = false;
    this.schedule();
    const { store, manager, logger } = this;
    void (
      store.watchChanges?.((change) => {
        if ("feed" in change) feedMoved(change.feed);
        else if (change.commandFor === manager.replicaId) this.pollNow();
      }) ?? Promise.resolve(undefined)
    ).then(
      (stop) => {
        this.stopWatching = stop;
        if (this.stopped) stop?.();
        logger.info("coordinating with other replicas", {
          replicaId: manager.replicaId,
          changeStreams: stop !== undefined,
          pollMs: this.pollMs,
        });
      },
      (err: unknown) => logger.warn("watching the store for changes failed; polling", { err }),
    );
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopWatching?.();
  }

  /** Looks for commands now (the store told of one for this replica). */
  pollNow(): void {
    if (this.stopped || this.polling) return;
    clearTimeout(this.timer);
    this.schedule(0);
  }

  private schedule(delayMs = this.pollMs): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = true;
      void this.poll().finally(() => {
        this.polling = false;
        this.schedule();
      });
    }, delayMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    let pending: SessionCommand[];
    try {
      pending = await this.store.pendingCommands(this.manager.replicaId, COMMANDS_PER_POLL);
    } catch (err) {
      this.logger.warn("looking for commands failed; will retry", { err });
      return;
    }
    for (const command of pending) {
      if (this.running.has(command.id)) continue;
      this.running.add(command.id);
      void this.execute(command).finally(() => this.running.delete(command.id));
    }
  }

  private async execute(command: SessionCommand): Promise<void> {
    const handler = this.handlers.get(command.kind);
    let outcome: string;
    try {
      if (!handler) throw new Error(`no handler for command ${command.kind}`);
      // Not running here (any more): the sender takes it over when the lease is free.
      if (!this.manager.getSession(command.sessionId)) return;
      if (!(await this.store.takeCommand(command.id, this.manager.replicaId))) return;
      const session = await this.manager.load(command.sessionId);
      outcome = encode({ result: (await handler(session, decode(command.args))) ?? null });
    } catch (err) {
      outcome = encode({ error: errorForm(err) });
    }
    await this.store
      .finishCommand(command.id, outcome)
      .catch((err: unknown) =>
        this.logger.warn("storing a command's outcome failed", { commandId: command.id, err }),
      );
  }
}

interface ErrorForm {
  code: ErrorCode;
  reason: string;
  message: string;
  field?: string;
  metadata: Record<string, string>;
}

function errorForm(err: unknown): ErrorForm {
  if (err instanceof AppError) {
    return {
      code: err.code,
      reason: err.reason,
      message: err.message,
      ...(err.field !== undefined ? { field: err.field } : {}),
      metadata: err.metadata,
    };
  }
  return { code: "internal", reason: "INTERNAL", message: "internal error", metadata: {} };
}

function decodeOutcome(outcome: string): unknown {
  const parsed = decode(outcome) as { result?: unknown; error?: ErrorForm };
  if (parsed.error) {
    const e = parsed.error;
    throw new AppError(e.code, e.reason, e.message, e.field, e.metadata);
  }
  return parsed.result;
}

/** JSON with bytes and dates kept: `{"$bytes": base64}`, `{"$date": iso}`. */
function encode(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v) {
    const raw = this[key];
    if (raw instanceof Uint8Array) return { $bytes: Buffer.from(raw).toString("base64") };
    if (raw instanceof Date) return { $date: raw.toISOString() };
    return v;
  });
}

function decode(text: string): never {
  return JSON.parse(text, (_key, v) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      if (typeof v.$bytes === "string") return new Uint8Array(Buffer.from(v.$bytes, "base64"));
      if (typeof v.$date === "string") return new Date(v.$date);
    }
    return v;
  }) as never;
}
