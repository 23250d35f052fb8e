import { AppError } from "../../domain/errors.js";
import { DEFAULTS } from "../../domain/limits.js";
import {
  addUsage,
  type Block,
  emptyUsage,
  type ModelProviderKind,
  type ParkedStep,
  type PendingToolCall,
  profileExtras,
  type QueuedMessage,
  type Turn,
  type TurnOutcome,
  type Usage,
} from "../../domain/types.js";
import type { Logger } from "../../ports/logger.js";
import { ModelError, type ModelProvider } from "../../ports/model.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import type { McpConnections } from "../mcp/connections.js";
import { traceTurn } from "../observe/turn-trace.js";
import { settlePendingFileEvents } from "../recovery/file-recovery.js";
import { settleClaimedTurn } from "../recovery/turn-recovery.js";
import type { LoadedSession } from "../sessions/loaded-session.js";
import type { SessionManager, TurnEngine } from "../sessions/session-manager.js";
import { DEFAULT_MODEL } from "../shared/pricing.js";
import { abortNote, runAgentLoop, TurnAborted, type WaitingCall } from "./agent-loop.js";
import { BlockWriter, type TurnSink } from "./blocks.js";
import type { Budgets, TurnBudget } from "./budget.js";
import { budgetReached, holdForBudget } from "./budget-wait.js";
import { resolveCommand } from "./commands.js";
import { completeTurn } from "./complete-turn.js";
import { addUserMessage, closeConversation } from "./conversation.js";
import { deliverSteered } from "./steering.js";
import { serverToolsOf } from "./step-blocks.js";
import { systemPromptFor } from "./system-prompt.js";
import { turnTools } from "./turn-tools.js";
import { applyParkedAnswers, endCancelledTurn, parkTurn, permitFor } from "./waiting-calls.js";

/** How long a turn waits for its events to be stored before it runs anything, and at its end. */
export const TURN_STORE_TIMEOUT_MS = 30_000;

export interface TurnRunnerOptions {
  manager: SessionManager;
  store: PersistenceAdapter;
  models: Partial<Record<ModelProviderKind, ModelProvider>>;
  logger: Logger;
  defaultModel?: string;
  /** Connections to profiles' MCP servers; none: profiles' MCP servers are not used. */
  mcp?: McpConnections;
  /** Told when a turn parks on calls waiting for answers (to arm their timeouts). */
  onParked?: (sessionId: string, calls: PendingToolCall[]) => void;
  /** The spending limits; none: no limits (tenant usage is not counted). */
  budgets?: Budgets;
}

/**
 * Runs a session's turns, one at a time, in the order their messages came. The order of writes
 * for a turn (ARCHITECTURE.md, "The life of a turn"):
 * 1. the record claims the turn (`currentTurn`, with the sequence its events start at);
 * 2. turn_started and the user's message are written to the feed, and stored before anything
 *    runs;
 * 3. the agent loop streams blocks into the feed; completed blocks and the conversation are saved
 *    as it goes;
 * 4. once every block and the conversation are saved, turn_completed is written and stored;
 * 5. the record lets the turn go (the message leaves the queue, `currentTurn` is cleared).
 * A crash or a store failure anywhere leaves a claim that `settleClaimedTurn` resolves from the
 * feed, the next time the session's turns are run: at restart, or when the store is back.
 */
export class TurnRunner implements TurnEngine {
  private readonly defaultModel: string;

  constructor(private readonly o: TurnRunnerOptions) {
    this.defaultModel = o.defaultModel || DEFAULT_MODEL;
    o.manager.setTurnEngine(this);
  }

  async drain(session: LoadedSession): Promise<void> {
    // After a failed record write, the stored record is the truth (it may hold that write).
    await session.refresh();
    // Files saved before a store failure may lack their events: the feed is set right first.
    await settlePendingFileEvents(session, this.o.store, this.o.manager.workspaceLocks);
    while (!this.o.manager.isClosed && !session.closing) {
      const claim = session.record.currentTurn;
      const parked = session.record.parked;
      if (claim && parked?.turnId === claim.id) {
        // A turn waiting for answers: nothing runs until the last one came (messages wait).
        if ((session.record.pendingToolCalls?.length ?? 0) > 0) break;
        if (parked.cancelled) {
          await endCancelledTurn(session, claim, parked, this.o.store, this.o.manager.transcripts);
        } else await traceTurn(session, claim.id, true, () => this.resume(session, claim, parked));
        continue;
      }
      if (claim) {
        await settleClaimedTurn(
          session,
          { store: this.o.store, transcripts: this.o.manager.transcripts },
          "it was cut short (the server stopped or the store failed)",
        );
        continue;
      }
      const next = session.record.queuedMessages[0];
      // A session or tenant limit holds the queue until it is raised (or the month changes).
      const ask = (next && !next.cancelRequested) || session.record.budgetWait;
      const again = () => this.o.manager.kick(session);
      if (
        ask &&
        this.o.budgets &&
        (await holdForBudget(session, this.o.budgets, this.o.store, again))
      )
        break;
      if (!next) break;
      await traceTurn(session, next.turnId, false, () => this.run(session, next));
    }
  }

  private model(provider: ModelProviderKind): ModelProvider {
    const model = this.o.models[provider];
    if (!model) {
      throw new ModelError(
        "MODEL_NOT_CONFIGURED",
        `the ${provider} model provider is not configured on this server`,
      );
    }
    return model;
  }

  private async run(session: LoadedSession, message: QueuedMessage): Promise<void> {
    const ctx = { turnId: message.turnId };
    const startTime = new Date();
    const turn: Turn = {
      id: message.turnId,
      userBlockId: "",
      startTime,
      usage: emptyUsage(),
      startSequence: session.feed.sequence + 1,
    };
    // Running from here: a cancel that comes while the claim is written aborts it.
    const abort = new AbortController();
    session.current = { turn, abort };
    try {
      await session.update(() => ({ currentTurn: { ...turn }, lastActivityTime: startTime }), ctx);
    } catch (err) {
      session.current = undefined;
      throw err;
    }
    const { sink, failed, failure } = this.sinkOf(session, abort);
    try {
      session.emit({ type: "turn_started", turn: { ...turn } }, ctx);
      let outcome: TurnOutcome | "waiting" = "cancelled";
      let reason = "cancelled before it started";
      let waiting: WaitingCall[] | undefined;
      if (!message.cancelRequested && !abort.signal.aborted) {
        const command = await this.command(session, message.text);
        const userBlocks = new BlockWriter(sink, ctx);
        const userBlock = userBlocks.start({
          type: "user_message",
          text: message.text,
          attachments: message.attachments,
          ...(command ? { command } : {}),
        });
        turn.userBlockId = userBlock.id;
        userBlocks.complete(userBlock);
        // Nothing runs before the turn is on record: a crash before this point reruns it.
        await session.feed.flush(TURN_STORE_TIMEOUT_MS);
        const modelMessage = command ? { ...message, text: command.expandedText } : message;
        ({ outcome, reason, waiting } = await this.work(
          session,
          modelMessage,
          turn,
          sink,
          abort,
          failed,
        ));
        await userBlocks.saved().catch(failed);
      }
      await this.end(session, turn, { outcome, reason, waiting, failure: failure() });
    } finally {
      session.current = undefined;
    }
  }

  /** Where a turn writes; a save that fails ends the turn early (settled from the feed later). */
  private sinkOf(session: LoadedSession, abort: AbortController) {
    let storeFailure: unknown;
    const failed = (err: unknown) => {
      storeFailure ??= err;
      abort.abort(
        new AppError("unavailable", "STORE_UNAVAILABLE", "the store failed while the turn ran"),
      );
    };
    const sink: TurnSink = {
      get nextSequence() {
        return session.feed.sequence + 1;
      },
      emit: session.emit,
      saveBlock: (block: Block) => this.o.store.saveBlock(session.id, block).catch(failed),
      syncWorkspace: (c) => session.sandbox.sync(c),
    };
    return { sink, failed, failure: () => storeFailure };
  }

  /** A turn's end: parked on waiting calls, or completed (steps 4 and 5). */
  private async end(
    session: LoadedSession,
    turn: Turn,
    e: {
      outcome: TurnOutcome | "waiting";
      reason: string;
      waiting?: WaitingCall[] | undefined;
      failure: unknown;
    },
  ): Promise<void> {
    if (e.failure) throw e.failure;
    if (e.outcome === "waiting" && e.waiting) {
      const onParked = (calls: PendingToolCall[]) => this.o.onParked?.(session.id, calls);
      return parkTurn(session, this.o.store, turn, e.waiting, TURN_STORE_TIMEOUT_MS, onParked);
    }
    const outcome = e.outcome === "waiting" ? "failed" : e.outcome;
    await completeTurn(session, turn, {
      outcome,
      reason: e.reason,
      storeTimeoutMs: TURN_STORE_TIMEOUT_MS,
    });
  }

  /** Goes on with a parked turn whose calls were all answered. */
  private async resume(session: LoadedSession, claim: Turn, parked: ParkedStep): Promise<void> {
    const turn: Turn = { ...claim, usage: { ...claim.usage } };
    const abort = new AbortController();
    session.current = { turn, abort };
    const { sink, failed, failure } = this.sinkOf(session, abort);
    try {
      const r = await this.work(session, undefined, turn, sink, abort, failed, parked);
      await this.end(session, turn, { ...r, failure: failure() });
    } finally {
      session.current = undefined;
    }
  }

  /** The agent's work for one message: the model loop with the profile's tools. */
  private async work(
    session: LoadedSession,
    message: QueuedMessage | undefined,
    turn: Turn,
    sink: TurnSink,
    abort: AbortController,
    failed: (err: unknown) => void,
    parked?: ParkedStep,
  ): Promise<{ outcome: TurnOutcome | "waiting"; reason: string; waiting?: WaitingCall[] }> {
    const ctx = { turnId: turn.id };
    const messages = await this.o.manager.transcripts.get(session.id);
    const persist = () => void this.o.manager.transcripts.save(session.id, messages).catch(failed);
    let outcome: TurnOutcome | "waiting" = "completed";
    let reason = "";
    let waiting: WaitingCall[] | undefined;
    let sessionUsage = session.record.usage;
    let budget: TurnBudget | undefined;
    const onUsage = (step: Usage, model: string, subagentId?: string) => {
      budget?.step(step);
      turn.usage = addUsage(turn.usage, step);
      sessionUsage = addUsage(sessionUsage, step);
      const total = sessionUsage;
      session.emit(
        { type: "usage_updated", step, turn: { ...turn.usage }, session: total, model },
        subagentId ? { ...ctx, subagentId } : ctx,
      );
      session
        .update(() => ({ usage: total }))
        .catch((err: unknown) =>
          this.o.logger.warn("saving usage failed", { sessionId: session.id, err }),
        );
    };
    try {
      const profile = await this.o.store.loadAgentProfile(session.record.agentProfileId);
      if (!profile) {
        throw new AppError(
          "failed_precondition",
          "PROFILE_NOT_FOUND",
          "the session's agent profile was deleted",
        );
      }
      const system = await systemPromptFor(session.sandbox, profile, {
        firstTurn: messages.length === 0,
        context: ctx,
      });
      if (message) {
        addUserMessage(messages, message.text, message.attachments);
        persist();
      }
      const modelId =
        profile.modelProvider === "demo"
          ? "demo"
          : session.record.options.model || profile.model || this.defaultModel;
      const permit = permitFor(profile, session);
      const stopCheck = async () => budget?.check();
      const tools = await turnTools({
        profile,
        session,
        sink,
        turnId: turn.id,
        modelId,
        mcp: this.o.mcp,
        signal: abort.signal,
        model: (p) => this.model(p.modelProvider),
        onUsage,
        permit,
        stopCheck,
      });
      const sandbox = () => session.sandbox.ensure(profile, ctx);
      if (parked) {
        const deps = { sink, tools, sandbox, signal: abort.signal };
        await applyParkedAnswers(session, parked, messages, this.o.manager.transcripts, deps);
      }
      const maxSteps = profile.maxTurns || DEFAULTS.maxTurns;
      budget = this.o.budgets?.forTurn(session.record, profile, () => ({
        turn: turn.usage,
        session: sessionUsage,
      }));
      const saveConversation = () => this.o.manager.transcripts.save(session.id, messages);
      const result = await runAgentLoop(messages, {
        sink,
        model: this.model(profile.modelProvider),
        modelId,
        system,
        tools,
        serverTools: serverToolsOf(profile.tools),
        contextSettings: profileExtras(profile).context,
        todos: () => session.record.todos,
        sandbox,
        maxSteps,
        maxOutputTokens: profile.maxOutputTokens || DEFAULTS.maxOutputTokens,
        ...(profile.thinking.enabled
          ? { thinkingBudget: profile.thinking.budgetTokens || DEFAULTS.thinkingBudgetTokens }
          : {}),
        context: ctx,
        signal: abort.signal,
        onUsage: (u, m) => onUsage(u, m),
        onMessages: persist,
        permit,
        ...(budget ? { stopCheck: budget.check } : {}),
        // A store that fails here ends the turn like any failed save (settled from the feed).
        steer: (m) =>
          deliverSteered(session, turn.id, sink, m, saveConversation).catch((err: unknown) => {
            failed(err);
            throw err;
          }),
      });
      if (result.outcome === "waiting") {
        outcome = "waiting";
        waiting = result.waiting;
      }
      if (result.outcome === "max_turns") {
        outcome = "max_turns";
        reason = `max_turns reached (${maxSteps} model steps)`;
        closeConversation(messages, `Stopped: ${reason}`);
      }
      if (result.outcome === "stopped" && budget?.hit) {
        outcome = "budget_exceeded";
        reason = result.stopReason ?? "";
        await budgetReached(session, budget.hit, ctx).catch(failed);
      }
    } catch (err) {
      if (err instanceof TurnAborted || abort.signal.aborted) {
        const why = abort.signal.reason;
        outcome =
          why instanceof AppError && why.reason !== "CANCELLED" ? "interrupted" : "cancelled";
        reason = abortNote(abort.signal);
      } else {
        outcome = "failed";
        const known = err instanceof ModelError || err instanceof AppError ? err : undefined;
        const errReason = known?.reason ?? "INTERNAL";
        reason = err instanceof Error ? err.message : String(err);
        if (!known)
          this.o.logger.error("turn failed", { sessionId: session.id, turnId: turn.id, err });
        const retryable = err instanceof ModelError && err.retryable;
        session.emit({ type: "error", reason: errReason, message: reason, retryable }, ctx);
        const errors = new BlockWriter(sink, ctx);
        errors.complete(errors.start({ type: "error", reason: errReason, message: reason }));
        await errors.saved().catch(failed);
      }
      closeConversation(messages, `Turn ${outcome}: ${reason}`);
    }
    await this.o.manager.transcripts.save(session.id, messages).catch(failed);
    await session.sandbox.sync(ctx).catch(() => {});
    return { outcome, reason, ...(waiting ? { waiting } : {}) };
  }

  /** The profile's command a message runs, if any (checked when it was sent; gone: plain text). */
  private async command(session: LoadedSession, text: string) {
    const profile = await this.o.store
      .loadAgentProfile(session.record.agentProfileId)
      .catch(() => undefined);
    if (!profile) return undefined;
    try {
      return resolveCommand(text, profileExtras(profile).commands);
    } catch {
      return undefined;
    }
  }
}
