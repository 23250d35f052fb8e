import { AppError } from "../../domain/errors.js";
import { DEFAULTS } from "../../domain/limits.js";
import {
  type AgentProfile,
  addUsage,
  type Block,
  emptyUsage,
  type ModelProviderKind,
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
import { mcpToolsForTurn } from "../mcp/turn-tools.js";
import { settleClaimedTurn } from "../recovery/turn-recovery.js";
import type { LoadedSession } from "../sessions/loaded-session.js";
import type { SessionManager, TurnEngine } from "../sessions/session-manager.js";
import { DEFAULT_MODEL } from "../shared/pricing.js";
import { createTools } from "../tools/index.js";
import type { Tool } from "../tools/types.js";
import { abortNote, runAgentLoop, TurnAborted } from "./agent-loop.js";
import { BlockWriter, type TurnSink } from "./blocks.js";
import type { Budgets, TurnBudget } from "./budget.js";
import { budgetReached, holdForBudget } from "./budget-wait.js";
import { resolveCommand } from "./commands.js";
import { completeTurn } from "./complete-turn.js";
import { addUserMessage, closeConversation } from "./conversation.js";
import { profileTools } from "./profile-tools.js";
import { deliverSteered } from "./steering.js";
import { serverToolsOf } from "./step-blocks.js";
import { createTaskTool } from "./subagents.js";
import { systemPromptFor } from "./system-prompt.js";

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
    while (!this.o.manager.isClosed && !session.closing) {
      if (session.record.currentTurn) {
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
      await this.run(session, next);
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
    // A save that fails ends the turn early; the turn is then settled from the feed later.
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
    try {
      session.emit({ type: "turn_started", turn: { ...turn } }, ctx);
      let outcome: TurnOutcome = "cancelled";
      let reason = "cancelled before it started";
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
        ({ outcome, reason } = await this.work(session, modelMessage, turn, sink, abort, failed));
        await userBlocks.saved().catch(failed);
      }
      if (storeFailure) throw storeFailure;
      await completeTurn(session, turn, { outcome, reason, storeTimeoutMs: TURN_STORE_TIMEOUT_MS });
    } finally {
      session.current = undefined;
    }
  }

  /** The agent's work for one message: the model loop with the profile's tools. */
  private async work(
    session: LoadedSession,
    message: QueuedMessage,
    turn: Turn,
    sink: TurnSink,
    abort: AbortController,
    failed: (err: unknown) => void,
  ): Promise<{ outcome: TurnOutcome; reason: string }> {
    const ctx = { turnId: turn.id };
    const messages = await this.o.manager.transcripts.get(session.id);
    const persist = () => void this.o.manager.transcripts.save(session.id, messages).catch(failed);
    let outcome: TurnOutcome = "completed";
    let reason = "";
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
      addUserMessage(messages, message.text, message.attachments);
      persist();
      const modelId =
        profile.modelProvider === "demo"
          ? "demo"
          : session.record.options.model || profile.model || this.defaultModel;
      const stopCheck = async () => budget?.check();
      const tools = this.tools(profile, sink, turn.id, modelId, onUsage, stopCheck);
      tools.push(...profileTools(profile, session, sink, ctx));
      tools.push(...(await mcpToolsForTurn(this.o.mcp, session, profile, ctx, abort.signal)));
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
        sandbox: () => session.sandbox.ensure(profile, ctx),
        maxSteps,
        maxOutputTokens: profile.maxOutputTokens || DEFAULTS.maxOutputTokens,
        ...(profile.thinking.enabled
          ? { thinkingBudget: profile.thinking.budgetTokens || DEFAULTS.thinkingBudgetTokens }
          : {}),
        context: ctx,
        signal: abort.signal,
        onUsage: (u, m) => onUsage(u, m),
        onMessages: persist,
        ...(budget ? { stopCheck: budget.check } : {}),
        // A store that fails here ends the turn like any failed save (settled from the feed).
        steer: (m) =>
          deliverSteered(session, turn.id, sink, m, saveConversation).catch((err: unknown) => {
            failed(err);
            throw err;
          }),
      });
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
    return { outcome, reason };
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

  private tools(
    profile: AgentProfile,
    sink: TurnSink,
    turnId: string,
    modelId: string,
    onUsage: (u: Usage, model: string, subagentId?: string) => void,
    stopCheck: () => Promise<string | undefined>,
  ): Tool[] {
    const tools = createTools(profile.tools);
    if (profile.tools.includes("Task") && profile.subagents.length > 0) {
      tools.push(
        createTaskTool({
          sink,
          profile,
          turnId,
          parentModel: modelId,
          model: (p) => this.model(p.modelProvider),
          onUsage,
          stopCheck,
        }),
      );
    }
    return tools;
  }
}
