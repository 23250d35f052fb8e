import { AppError, invalidField } from "../domain/errors.js";
import { isId, newId } from "../domain/ids.js";
import { DEFAULTS, LIMITS } from "../domain/limits.js";
import {
  type AgentProfile,
  type Attachment,
  addUsage,
  type Block,
  emptyUsage,
  type ModelProviderKind,
  type QueuedMessage,
  type SessionEvent,
  type Turn,
  type TurnOutcome,
} from "../domain/types.js";
import {
  type ModelContentBlock,
  ModelError,
  type ModelMessage,
  type ModelProvider,
} from "../ports/model.js";
import { closeConversation, runAgentLoop, TurnAborted } from "./agent-loop.js";
import { applyDelta, BlockWriter } from "./blocks.js";
import type { Subscription } from "./event-feed.js";
import type { Logger } from "./logger.js";
import { DEFAULT_MODEL } from "./pricing.js";
import type { LoadedSession, SessionManager, TurnEngine } from "./session-manager.js";
import type { SessionService } from "./sessions.js";
import { createTaskTool } from "./subagents.js";
import { createTools } from "./tools/index.js";
import type { Tool } from "./tools/types.js";
import { decodePageToken, encodePageToken, pageSize } from "./validate.js";

export const ATTACHMENT_TYPES = [
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "application/pdf",
  "text/plain",
] as const;

export interface TurnsOptions {
  manager: SessionManager;
  sessions: SessionService;
  models: Partial<Record<ModelProviderKind, ModelProvider>>;
  logger: Logger;
  defaultModel?: string;
}

const isNumber = (p: unknown): p is number =>
  typeof p === "number" && Number.isInteger(p) && p >= 0;

function attachmentContent(a: Attachment): ModelContentBlock {
  const data = Buffer.from(a.data);
  if (a.mediaType === "text/plain") {
    return {
      type: "document",
      source: { type: "text", media_type: "text/plain", data: data.toString("utf8") },
    };
  }
  if (a.mediaType === "application/pdf") {
    return {
      type: "document",
      source: { type: "base64", media_type: a.mediaType, data: data.toString("base64") },
    };
  }
  return {
    type: "image",
    source: { type: "base64", media_type: a.mediaType, data: data.toString("base64") },
  };
}

/**
 * The agent turn: SendMessage queues, one turn runs at a time per session, CancelTurn aborts
 * it, and everything shows in the session's event feed.
 */
export class Turns implements TurnEngine {
  private readonly manager: SessionManager;
  private readonly defaultModel: string;
  /** Conversations of loaded sessions in the model's form. */
  private readonly transcripts = new WeakMap<LoadedSession, ModelMessage[]>();

  constructor(private readonly o: TurnsOptions) {
    this.manager = o.manager;
    this.defaultModel = o.defaultModel || DEFAULT_MODEL;
    o.manager.setTurnEngine(this);
  }

  // --- the API ---

  async send(
    tenantId: string,
    sessionId: string,
    text: string,
    attachments: Attachment[],
  ): Promise<{ turnId: string; queued: boolean }> {
    if (text.length > LIMITS.maxMessageTextLength) {
      throw invalidField("text", `must be at most ${LIMITS.maxMessageTextLength} characters`);
    }
    if (text.trim() === "" && attachments.length === 0) throw invalidField("text", "is required");
    if (attachments.length > LIMITS.maxAttachments) {
      throw invalidField("attachments", `must have at most ${LIMITS.maxAttachments} entries`);
    }
    attachments.forEach((a, i) => {
      if (a.name.length > 255)
        throw invalidField(`attachments[${i}].name`, "must be at most 255 characters");
      if (!(ATTACHMENT_TYPES as readonly string[]).includes(a.mediaType)) {
        throw invalidField(
          `attachments[${i}].media_type`,
          `must be one of ${ATTACHMENT_TYPES.join(", ")}`,
        );
      }
      if (a.data.byteLength > LIMITS.maxAttachmentBytes) {
        throw invalidField(
          `attachments[${i}].data`,
          `must be at most ${LIMITS.maxAttachmentBytes} bytes`,
        );
      }
    });
    await this.o.sessions.load(tenantId, sessionId);
    const session = await this.manager.load(sessionId);
    if (session.record.queuedMessages.length >= LIMITS.maxQueuedMessages) {
      throw new AppError(
        "resource_exhausted",
        "QUEUE_FULL",
        `${LIMITS.maxQueuedMessages} messages already wait in this session; wait or cancel`,
        undefined,
        { limit: String(LIMITS.maxQueuedMessages) },
      );
    }
    const message: QueuedMessage = {
      turnId: newId("trn"),
      text,
      attachments,
      enqueueTime: new Date(),
    };
    const queued = Boolean(session.current || session.draining);
    await session.update({
      queuedMessages: [...session.record.queuedMessages, message],
      lastActivityTime: message.enqueueTime,
      updateTime: message.enqueueTime,
    });
    await session.refreshState();
    session.touch();
    this.manager.kick(session);
    return { turnId: message.turnId, queued };
  }

  async cancel(tenantId: string, sessionId: string, turnId: string): Promise<boolean> {
    if (turnId !== "" && !isId("trn", turnId))
      throw invalidField("turn_id", "is not a turn id (trn_...)");
    await this.o.sessions.load(tenantId, sessionId);
    const session = this.manager.getSession(sessionId);
    if (!session) return false;
    const current = session.current;
    if (current && (turnId === "" || current.turn.id === turnId)) {
      current.abort.abort(new AppError("unavailable", "CANCELLED", "cancelled by the user"));
      return true;
    }
    const waiting = session.record.queuedMessages.find((q) => q.turnId === turnId);
    if (!waiting) return false;
    await session.update({
      queuedMessages: session.record.queuedMessages.filter((q) => q !== waiting),
    });
    const now = new Date();
    session.emit(
      {
        type: "turn_completed",
        turn: {
          id: turnId,
          userBlockId: "",
          startTime: now,
          outcome: "cancelled",
          endTime: now,
          usage: emptyUsage(),
        },
        reason: "cancelled before it started",
      },
      { turnId },
    );
    await session.refreshState();
    return true;
  }

  async listMessages(
    tenantId: string,
    sessionId: string,
    size: number,
    token: string,
  ): Promise<{ blocks: Block[]; nextPageToken: string }> {
    await this.o.sessions.load(tenantId, sessionId);
    const limit = pageSize("page_size", size, LIMITS.defaultBlockPageSize, LIMITS.maxBlockPageSize);
    const after = decodePageToken("page_token", token, "blocks", isNumber) ?? 0;
    const blocks = await this.manager.store.listBlocks(sessionId, after, limit + 1);
    const page = blocks.slice(0, limit);
    return {
      blocks: page,
      nextPageToken: blocks.length > limit ? encodePageToken("blocks", page.at(-1)!.sequence) : "",
    };
  }

  async subscribe(
    tenantId: string,
    sessionId: string,
    afterSequence: number,
    signal: AbortSignal,
  ): Promise<Subscription> {
    if (!Number.isInteger(afterSequence) || afterSequence < 0) {
      throw invalidField("after_sequence", "must not be negative");
    }
    const record = await this.o.sessions.load(tenantId, sessionId);
    const feed = await this.manager.feed(sessionId, record);
    if (afterSequence > feed.sequence) {
      throw new AppError(
        "out_of_range",
        "SEQUENCE_AHEAD",
        `after_sequence ${afterSequence} is beyond the last event (${feed.sequence})`,
        "after_sequence",
      );
    }
    const sub = feed.subscribe(afterSequence, signal);
    const manager = this.manager;
    return {
      close: () => sub.close(),
      async *[Symbol.asyncIterator](): AsyncGenerator<SessionEvent> {
        try {
          yield* sub;
        } finally {
          await manager.releaseFeed(sessionId);
        }
      },
    };
  }

  // --- the engine ---

  private model(profile: AgentProfile): ModelProvider {
    const model = this.o.models[profile.modelProvider];
    if (!model) {
      throw new ModelError(
        "MODEL_NOT_CONFIGURED",
        `the ${profile.modelProvider} model provider is not configured on this server`,
      );
    }
    return model;
  }

  private async transcript(session: LoadedSession): Promise<ModelMessage[]> {
    let messages = this.transcripts.get(session);
    if (!messages) {
      const raw = await session.store.loadTranscript(session.id);
      messages = raw ? (JSON.parse(raw) as ModelMessage[]) : [];
      this.transcripts.set(session, messages);
    }
    return messages;
  }

  private saveTranscript(session: LoadedSession, messages: ModelMessage[]): Promise<void> {
    return session.store.saveTranscript(session.id, JSON.stringify(messages));
  }

  async drain(session: LoadedSession): Promise<void> {
    while (!this.manager.isClosed) {
      const next = session.record.queuedMessages[0];
      if (!next) break;
      await this.runTurn(session, next);
    }
    if (!this.manager.isClosed) await session.refreshState();
  }

  private async runTurn(session: LoadedSession, message: QueuedMessage): Promise<void> {
    const turnId = message.turnId;
    const ctx = { turnId };
    const abort = new AbortController();
    const startTime = new Date();
    const turn: Turn = {
      id: turnId,
      userBlockId: "",
      startTime,
      usage: emptyUsage(),
      startSequence: session.feed.sequence + 1,
    };
    session.current = { turn, abort };
    session.emit({ type: "turn_started", turn: { ...turn } }, ctx);
    const userBlocks = new BlockWriter(session, ctx);
    const userBlock = userBlocks.start({
      type: "user_message",
      text: message.text,
      attachments: message.attachments,
    });
    turn.userBlockId = userBlock.id;
    userBlocks.complete(userBlock);
    await session.update({
      currentTurn: { ...turn },
      queuedMessages: session.record.queuedMessages.filter((q) => q.turnId !== turnId),
      lastActivityTime: startTime,
    });

    let outcome: TurnOutcome = "completed";
    let reason = "";
    const messages = await this.transcript(session);
    let saving = Promise.resolve();
    const persist = () => {
      const copy = JSON.stringify(messages);
      saving = saving
        .then(() => session.store.saveTranscript(session.id, copy))
        .catch((err: unknown) =>
          this.o.logger.error("saving the transcript failed", { sessionId: session.id, err }),
        );
    };
    try {
      const profile = await session.store.loadAgentProfile(session.record.agentProfileId);
      if (!profile)
        throw new AppError(
          "failed_precondition",
          "PROFILE_NOT_FOUND",
          "the session's agent profile was deleted",
        );
      const content: ModelContentBlock[] = message.attachments.map(attachmentContent);
      if (message.text) content.push({ type: "text", text: message.text });
      const last = messages.at(-1);
      if (last?.role === "user") last.content.push(...content);
      else messages.push({ role: "user", content });
      persist();

      const modelId =
        profile.modelProvider === "demo"
          ? "demo"
          : session.record.options.model || profile.model || this.defaultModel;
      const sandbox = () => session.ensureSandbox(profile, ctx);
      const tools: Tool[] = createTools(profile.tools);
      if (profile.tools.includes("Task") && profile.subagents.length > 0) {
        tools.push(
          createTaskTool({
            session,
            profile,
            turnId,
            parentModel: modelId,
            model: (p) => this.model(p),
            onUsage: (u, m, subagentId) =>
              this.addUsage(session, turn, u, m, { ...ctx, subagentId }),
          }),
        );
      }
      const maxSteps = profile.maxTurns || DEFAULTS.maxTurns;
      const result = await runAgentLoop(messages, {
        session,
        model: this.model(profile),
        modelId,
        system: profile.systemPrompt,
        tools,
        sandbox,
        maxSteps,
        maxOutputTokens: profile.maxOutputTokens || DEFAULTS.maxOutputTokens,
        ...(profile.thinking.enabled
          ? { thinkingBudget: profile.thinking.budgetTokens || DEFAULTS.thinkingBudgetTokens }
          : {}),
        context: ctx,
        signal: abort.signal,
        onUsage: (u, m) => this.addUsage(session, turn, u, m, ctx),
        onMessages: persist,
      });
      if (result.outcome === "max_turns") {
        outcome = "max_turns";
        reason = `max_turns reached (${maxSteps} model steps)`;
        closeConversation(messages, `Stopped: ${reason}`);
      }
    } catch (err) {
      if (err instanceof TurnAborted || abort.signal.aborted) {
        const why = abort.signal.reason;
        const byServer = why instanceof AppError && why.reason !== "CANCELLED";
        outcome = byServer ? "interrupted" : "cancelled";
        reason = why instanceof AppError ? why.message : "cancelled";
      } else {
        outcome = "failed";
        const e = err instanceof ModelError || err instanceof AppError ? err : undefined;
        const errReason = e?.reason ?? "INTERNAL";
        reason = err instanceof Error ? err.message : String(err);
        if (!e) this.o.logger.error("turn failed", { sessionId: session.id, turnId, err });
        session.emit(
          {
            type: "error",
            reason: errReason,
            message: reason,
            retryable: err instanceof ModelError && err.retryable,
          },
          ctx,
        );
        const errorBlocks = new BlockWriter(session, ctx);
        errorBlocks.complete(
          errorBlocks.start({ type: "error", reason: errReason, message: reason }),
        );
        await errorBlocks.saved();
      }
      closeConversation(messages, `Turn ${outcome}: ${reason}`);
    }
    persist();
    await saving;
    await userBlocks.saved();
    await session.sync(ctx).catch(() => {});
    const endTime = new Date();
    const done: Turn = { ...turn, outcome, endTime };
    delete done.startSequence;
    session.current = undefined;
    session.emit({ type: "turn_completed", turn: done, reason }, ctx);
    await session.update({
      lastActivityTime: endTime,
      updateTime: endTime,
      currentTurn: undefined,
    });
  }

  private addUsage(
    session: LoadedSession,
    turn: Turn,
    step: ReturnType<typeof emptyUsage>,
    model: string,
    ctx: { turnId: string; subagentId?: string },
  ): void {
    turn.usage = addUsage(turn.usage, step);
    const total = addUsage(session.record.usage, step);
    session.emit(
      { type: "usage_updated", step, turn: { ...turn.usage }, session: total, model },
      ctx,
    );
    session
      .update({ usage: total })
      .catch((err: unknown) =>
        this.o.logger.error("saving usage failed", { sessionId: session.id, err }),
      );
  }

  /** A turn that ran when the server stopped: complete its open blocks and mark it interrupted. */
  async recoverInterrupted(session: LoadedSession, turn: Turn): Promise<void> {
    const ctx = { turnId: turn.id };
    const open = new Map<string, Block>();
    // Text the main agent streamed in the step that was cut: it is not in the transcript yet.
    let stepTexts: Block[] = [];
    let after = (turn.startSequence ?? 1) - 1;
    for (;;) {
      const page = await session.store.readEvents(session.id, after, 500);
      for (const e of page) {
        const p = e.payload;
        if (p.type === "block_started" || p.type === "block_updated") {
          open.set(p.block.id, p.block);
          if (
            p.type === "block_started" &&
            !e.subagentId &&
            p.block.content.type === "assistant_text"
          ) {
            stepTexts.push(p.block);
          }
        } else if (p.type === "block_delta") {
          const b = open.get(p.blockId);
          if (b) applyDelta(b.content, p.delta);
        } else if (p.type === "block_completed") {
          open.delete(p.block.id);
        } else if (p.type === "usage_updated" && !e.subagentId) {
          stepTexts = []; // the step finished: its message is in the transcript
        }
      }
      if (page.length < 500) break;
      after = page.at(-1)!.sequence;
    }
    const writer = new BlockWriter(session, ctx);
    for (const block of open.values()) {
      const c = block.content;
      if (c.type === "tool_use" && (c.status === "pending" || c.status === "running"))
        c.status = "cancelled";
      if (c.type === "subagent" && c.status === "running") c.status = "cancelled";
      session.emit(
        { type: "block_completed", block },
        block.subagentId ? { ...ctx, subagentId: block.subagentId } : ctx,
      );
      await session.store.saveBlock(session.id, block);
    }
    const note = "This turn was interrupted: the server stopped while it ran.";
    writer.complete(writer.start({ type: "system", text: note }));
    await writer.saved();
    const messages = await this.transcript(session);
    const partial = stepTexts
      .map((b) => (b.content.type === "assistant_text" ? b.content.text : ""))
      .join("");
    if (partial && messages.at(-1)?.role === "user") {
      messages.push({
        role: "assistant",
        content: [
          { type: "text", text: partial },
          { type: "text", text: `[${note}]` },
        ],
      });
    } else {
      closeConversation(messages, note);
    }
    await this.saveTranscript(session, messages);
    const endTime = new Date();
    const done: Turn = { ...turn, outcome: "interrupted", endTime };
    delete done.startSequence;
    session.emit(
      { type: "turn_completed", turn: done, reason: "the server stopped while the turn ran" },
      ctx,
    );
    await session.update({ currentTurn: undefined });
  }
}
