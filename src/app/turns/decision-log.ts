// The log of answers to waiting tool calls (ListToolDecisions), and how an answer gets into it.
//
// An answer is taken in ONE ordered record write that checks its call still waits (racing
// answers: one wins). That same write puts the whole decision in the record's
// `unloggedDecisions` (an outbox); only then is it appended to the log (DecisionStore,
// idempotent by session and tool use id), and a second record write takes it out of the outbox.
// So the log only ever holds answers that won, and no crash or store failure between the two
// writes loses one: the outbox still holds it and the append is done again (retried with
// backoff while the process runs; after a restart, by start() for running and waiting sessions,
// and by every ListToolDecisions, which first completes the session's outbox).

import { AppError } from "../../domain/errors.js";
import { LIMITS } from "../../domain/limits.js";
import type { SessionRecord, ToolDecision } from "../../domain/types.js";
import type { Logger } from "../../ports/logger.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import type { SessionCommands } from "../sessions/commands.js";
import type { LoadedSession } from "../sessions/loaded-session.js";
import { OWNED_ELSEWHERE, type SessionManager } from "../sessions/session-manager.js";
import type { Sessions } from "../sessions/sessions.js";
import { decodePageToken, encodePageToken, pageSize } from "../shared/validate.js";

const DEFAULT_DECISION_PAGE = 100;
const MAX_DECISION_PAGE = 1_000;
/** A failed append is tried again after this long (doubling up to 60 s). */
const RETRY_MS = 2_000;
const MAX_RETRY_MS = 60_000;

function isCursor(p: unknown): p is [number, string] {
  return Array.isArray(p) && Number.isFinite(p[0]) && typeof p[1] === "string";
}

/** Whether answers on the record still wait to be appended to the log. */
function hasUnlogged(r: Readonly<SessionRecord>): boolean {
  return (r.unloggedDecisions?.length ?? 0) > 0 || r.toolDecisions !== undefined;
}

export class DecisionLog {
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly o: {
      sessions: Sessions;
      manager: SessionManager;
      store: PersistenceAdapter;
      logger: Logger;
      commands: SessionCommands;
    },
  ) {
    o.commands.register("flush_decisions", (session) => this.flush(session));
  }

  /**
   * Before an answer is taken: the outbox must have room (it only fills while appends fail);
   * when full, the answer is refused as the store being unavailable (retryable).
   */
  async ensureRoom(session: LoadedSession): Promise<void> {
    const full = () =>
      (session.record.unloggedDecisions?.length ?? 0) >= LIMITS.maxUnloggedToolDecisions;
    if (!full()) return;
    await this.flush(session);
    if (full()) {
      throw new AppError(
        "unavailable",
        "STORE_UNAVAILABLE",
        `${LIMITS.maxUnloggedToolDecisions} answers wait to be written to the decision log; try again later`,
        undefined,
        { retryable: "true" },
      );
    }
  }

  /** Appends the session's outbox to the log and empties it; throws when the store fails. */
  async flush(session: LoadedSession): Promise<void> {
    if (!hasUnlogged(session.record) || session.closing) return;
    const legacy = session.record.toolDecisions ?? [];
    const pending = session.record.unloggedDecisions ?? [];
    // An earlier version's copy first: its answers are older than any in the outbox.
    for (const d of [...legacy, ...pending]) await this.o.store.appendToolDecision(session.id, d);
    const done = new Set(pending.map((d) => d.toolUseId));
    await session.update((r) => {
      const left = (r.unloggedDecisions ?? []).filter((d) => !done.has(d.toolUseId));
      return {
        unloggedDecisions: left.length > 0 ? left : undefined,
        ...(r.toolDecisions ? { toolDecisions: undefined } : {}),
      };
    });
  }

  /** Flushes now; when that fails, again later with backoff until it succeeds. */
  flushSoon(sessionId: string, session?: LoadedSession, delayMs = 0): void {
    if (this.stopped || this.retries.has(sessionId)) return;
    const attempt = async () => {
      this.retries.delete(sessionId);
      if (this.stopped) return;
      try {
        await this.o.manager.whenRecovered(sessionId);
        const s =
          session && this.o.manager.getSession(sessionId) === session
            ? session
            : await this.o.manager.load(sessionId);
        await this.flush(s);
      } catch (err) {
        if (err instanceof AppError && err.code === "not_found") return; // deleted meanwhile
        if (err instanceof AppError && err.reason === OWNED_ELSEWHERE) return; // its owner's
        const next = Math.min(Math.max(delayMs * 2, RETRY_MS), MAX_RETRY_MS);
        this.o.logger.warn("appending answers to the decision log failed; will retry", {
          sessionId,
          retryInMs: next,
          err,
        });
        this.schedule(sessionId, () => this.flushSoon(sessionId, undefined, next), next);
      }
    };
    if (delayMs === 0) void attempt();
    else this.schedule(sessionId, () => void attempt(), delayMs);
  }

  private schedule(sessionId: string, run: () => void, ms: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.retries.delete(sessionId);
      run();
    }, ms);
    timer.unref();
    this.retries.set(sessionId, timer);
  }

  /** At start: completes the appends a stopped process left (sessions a turn is in). */
  start(records: readonly SessionRecord[]): void {
    for (const r of records) if (hasUnlogged(r)) this.flushSoon(r.id);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
  }

  /** A page of the session's decisions, oldest first; its outbox is completed first. */
  async list(
    tenantId: string,
    sessionId: string,
    size: number,
    token: string,
  ): Promise<{ decisions: ToolDecision[]; nextPageToken: string }> {
    const limit = pageSize("page_size", size, DEFAULT_DECISION_PAGE, MAX_DECISION_PAGE);
    const after = decodePageToken("page_token", token, "decisions", isCursor);
    const record = await this.o.sessions.load(tenantId, sessionId);
    if (hasUnlogged(record)) await this.o.commands.run(sessionId, "flush_decisions", {});
    const cursor = after ? { decideTime: new Date(after[0]), toolUseId: after[1] } : undefined;
    const found = await this.o.store.listToolDecisions(sessionId, cursor, limit + 1);
    const page = found.slice(0, limit);
    const last = page.at(-1);
    return {
      decisions: page,
      nextPageToken:
        found.length > limit && last
          ? encodePageToken("decisions", [new Date(last.decideTime).getTime(), last.toolUseId])
          : "",
    };
  }
}
