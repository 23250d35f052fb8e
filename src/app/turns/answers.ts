import { AppError, invalidField } from "../../domain/errors.js";
import { LIMITS } from "../../domain/limits.js";
import type { PendingToolCall, ToolDecision } from "../../domain/types.js";
import type { Logger } from "../../ports/logger.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import { checkRule } from "../profiles/check-waiting.js";
import type { SessionCommands } from "../sessions/commands.js";
import type { LoadedSession } from "../sessions/loaded-session.js";
import type { SessionManager } from "../sessions/session-manager.js";
import type { Sessions } from "../sessions/sessions.js";
import { checkLength } from "../shared/validate.js";
import { DecisionLog } from "./decision-log.js";

/** An answer as the API gives it: exactly one of the two. */
export interface AnswerInput {
  approval?: { allow: boolean; message: string; updatedInputJson: string; alwaysAllowRule: string };
  result?: { output: string; isError: boolean };
}

/** The longest a timer is set for (setTimeout's limit); longer timeouts are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A timeout that could not be applied (the store failed) is tried again after this long. */
const TIMEOUT_RETRY_MS = 5_000;

function notWaiting(toolUseId: string): AppError {
  return new AppError(
    "failed_precondition",
    "TOOL_CALL_NOT_WAITING",
    `tool call ${JSON.stringify(toolUseId)} is not waiting for an answer (answered already, or unknown)`,
    "tool_use_id",
    { tool_use_id: toolUseId },
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * AnswerToolCall and ListToolDecisions, and the timeouts of waiting calls. An answer takes its
 * call off the record's pending calls in ONE ordered record write that first checks the call
 * still waits (of two answers racing, one wins); the answer is kept on the parked step until the
 * turn applies it, and in the record's outbox until it is in the decision log (decision-log.ts
 * says why no answer is lost between the two). When no call of the step waits any more, the
 * session's turn engine goes on with the turn (loading the session again if it was unloaded).
 */
export class Answers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;
  private readonly log: DecisionLog;

  constructor(
    private readonly o: {
      sessions: Sessions;
      manager: SessionManager;
      store: PersistenceAdapter;
      logger: Logger;
      commands: SessionCommands;
    },
  ) {
    this.log = new DecisionLog(o);
    o.commands.register("answer_tool_call", (session, a: AnswerArgs) => this.take(session, a));
    o.commands.register("answer_timeout", (session, a: { call: PendingToolCall }) =>
      this.timeoutOn(session, a.call),
    );
  }

  async answer(
    tenantId: string,
    sessionId: string,
    toolUseId: string,
    input: AnswerInput,
    decidedBy: string,
  ): Promise<ToolDecision> {
    checkLength("tool_use_id", toolUseId, LIMITS.maxToolUseIdLength, true);
    const { approval, result } = input;
    if (!approval === !result) throw invalidField("answer", "set exactly one of approval, result");
    if (approval) {
      checkLength("approval.message", approval.message, LIMITS.maxAnswerMessageLength);
      if (approval.updatedInputJson !== "") {
        if (!approval.allow) throw invalidField("approval.updated_input_json", "is for allow only");
        checkLength(
          "approval.updated_input_json",
          approval.updatedInputJson,
          LIMITS.maxCustomToolOutputLength,
        );
        let parsed: unknown;
        try {
          parsed = JSON.parse(approval.updatedInputJson);
        } catch {
          throw invalidField("approval.updated_input_json", "is not JSON");
        }
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
          throw invalidField("approval.updated_input_json", "must be a JSON object");
      }
    }
    if (result) checkLength("result.output", result.output, LIMITS.maxCustomToolOutputLength);
    const record = await this.o.sessions.load(tenantId, sessionId);
    if (approval?.alwaysAllowRule) {
      if (!approval.allow) throw invalidField("approval.always_allow_rule", "is for allow only");
      const profile = await this.o.store.loadAgentProfile(record.agentProfileId);
      const custom = (profile?.customTools ?? []).map((t) => t.name);
      checkRule("approval.always_allow_rule", approval.alwaysAllowRule, custom);
    }
    return this.o.commands.run(sessionId, "answer_tool_call", {
      toolUseId,
      input,
      decidedBy,
    });
  }

  /** Takes an answer, on the replica that runs the session. */
  private async take(
    session: LoadedSession,
    { toolUseId, input: { approval, result }, decidedBy }: AnswerArgs,
  ): Promise<ToolDecision> {
    this.o.manager.touch(session);
    const call = session.record.pendingToolCalls?.find((c) => c.toolUseId === toolUseId);
    if (!call) throw notWaiting(toolUseId);
    if (call.kind === "approval" && !approval)
      throw invalidField("answer", "the call waits for approval: answer with approval");
    if (call.kind === "custom_tool" && !result)
      throw invalidField("answer", "the call is a custom tool call: answer with result");
    const decision: ToolDecision = {
      toolUseId,
      turnId: call.turnId,
      toolName: call.toolName,
      kind: result ? "result" : approval?.allow ? "allow" : "deny",
      message: approval?.message ?? "",
      updatedInputJson: approval?.updatedInputJson ?? "",
      alwaysAllowRule: approval?.alwaysAllowRule ?? "",
      output: result?.output ?? "",
      isError: result?.isError ?? false,
      decidedBy,
      decideTime: new Date(),
    };
    await this.decide(session, decision);
    return decision;
  }

  /** Stores a decision if its call still waits (else TOOL_CALL_NOT_WAITING) and goes on. */
  private async decide(session: LoadedSession, d: ToolDecision): Promise<void> {
    await this.log.ensureRoom(session);
    const ctx = { turnId: d.turnId };
    const write = session.update((r) => {
      const pending = r.pendingToolCalls ?? [];
      if (!r.parked || !pending.some((c) => c.toolUseId === d.toolUseId))
        throw notWaiting(d.toolUseId);
      const rules = r.sessionAllowRules ?? [];
      return {
        pendingToolCalls: pending.filter((c) => c.toolUseId !== d.toolUseId),
        parked: { ...r.parked, answers: [...r.parked.answers, d] },
        ...(d.alwaysAllowRule && !rules.includes(d.alwaysAllowRule)
          ? { sessionAllowRules: [...rules, d.alwaysAllowRule] }
          : {}),
        // The outbox of the decision log, in the same write: see decision-log.ts.
        unloggedDecisions: [...(r.unloggedDecisions ?? []), d],
        lastActivityTime: d.decideTime,
      };
    }, ctx);
    // A write that failed may still have reached the store: the engine reads the record back
    // and goes on with the turn if it holds the answer.
    await write.catch((err: unknown) => {
      if (!(err instanceof AppError && err.reason === "TOOL_CALL_NOT_WAITING")) {
        this.goOn(session);
        this.log.flushSoon(session.id, session, 1_000);
      }
      throw err;
    });
    this.clearTimer(session.id, d.toolUseId);
    session.emit({ type: "tool_call_answered", decision: d }, ctx);
    if ((session.record.pendingToolCalls?.length ?? 0) === 0) this.goOn(session);
    // The answer is taken: a failed append is retried (the outbox keeps it), not reported.
    await this.log.flush(session).catch(() => this.log.flushSoon(session.id, session, 1_000));
  }

  /**
   * Starts the session's turn engine once it is free: after the run that parked the turn ends,
   * and, when the session is being unloaded, in the session loaded again.
   */
  private goOn(session: LoadedSession): void {
    const { manager } = this.o;
    void (async () => {
      await session.draining;
      if (!session.closing) return manager.kick(session);
      while (manager.getSession(session.id) === session) await sleep(20);
      if (!manager.isClosed) manager.kick(await manager.load(session.id));
    })().catch((err: unknown) =>
      this.o.logger.warn("going on with an answered turn failed", { sessionId: session.id, err }),
    );
  }

  list(tenantId: string, sessionId: string, size: number, token: string) {
    return this.log.list(tenantId, sessionId, size, token);
  }

  /** Arms the timeouts of waiting calls (a turn parked, or found waiting at start). */
  arm(sessionId: string, calls: readonly PendingToolCall[]): void {
    for (const call of calls) {
      if (!call.timeoutTime || this.stopped) continue;
      const key = `${sessionId}/${call.toolUseId}`;
      clearTimeout(this.timers.get(key));
      const due = new Date(call.timeoutTime).getTime();
      const timer = setTimeout(
        () => {
          this.timers.delete(key);
          if (Date.now() < due) return this.arm(sessionId, [call]);
          this.timeout(sessionId, call).catch((err: unknown) => {
            // The session was deleted meanwhile: nothing waits any more.
            if (err instanceof AppError && err.code === "not_found") return;
            this.o.logger.warn("applying a tool call's timeout failed; will retry", {
              sessionId,
              toolUseId: call.toolUseId,
              err,
            });
            if (!this.stopped) {
              const retry = setTimeout(() => this.arm(sessionId, [call]), TIMEOUT_RETRY_MS);
              retry.unref();
              this.timers.set(key, retry);
            }
          });
        },
        Math.min(Math.max(due - Date.now(), 0), MAX_TIMER_MS),
      );
      timer.unref();
      this.timers.set(key, timer);
    }
  }

  /** Arms the timeouts of every session found waiting (at start, after recovery listed them). */
  async start(): Promise<void> {
    const waiting = await this.o.store.listAllSessions({ state: "waiting" });
    for (const r of waiting) this.arm(r.id, r.pendingToolCalls ?? []);
    // A stopped process may have left answers taken but not yet in the decision log.
    this.log.start(waiting);
    this.log.start(await this.o.store.listAllSessions({ state: "running" }));
  }

  stop(): void {
    this.stopped = true;
    this.log.stop();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private clearTimer(sessionId: string, toolUseId: string): void {
    const key = `${sessionId}/${toolUseId}`;
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }

  /** The profile's answer at the timeout; a client's answer that came first wins. */
  private async timeout(sessionId: string, call: PendingToolCall): Promise<void> {
    if (this.stopped) return;
    await this.o.commands.run(sessionId, "answer_timeout", { call });
  }

  private async timeoutOn(session: LoadedSession, call: PendingToolCall): Promise<void> {
    if (!session.record.pendingToolCalls?.some((c) => c.toolUseId === call.toolUseId)) return;
    const profile = await this.o.store.loadAgentProfile(session.record.agentProfileId);
    const allow = profile?.permissions?.allowOnTimeout ?? false;
    const seconds = profile?.permissions?.approvalTimeoutSeconds ?? 0;
    await this.decide(session, {
      toolUseId: call.toolUseId,
      turnId: call.turnId,
      toolName: call.toolName,
      kind: allow ? "allow" : "deny",
      message: `no answer within ${seconds} s`,
      updatedInputJson: "",
      alwaysAllowRule: "",
      output: "",
      isError: false,
      decidedBy: "timeout",
      decideTime: new Date(),
    }).catch((err: unknown) => {
      if (err instanceof AppError && err.reason === "TOOL_CALL_NOT_WAITING") return;
      throw err;
    });
  }
}

interface AnswerArgs {
  toolUseId: string;
  input: AnswerInput;
  decidedBy: string;
}
