import { AppError, invalidField } from "../../domain/errors.js";
import { isId, newId } from "../../domain/ids.js";
import { LIMITS } from "../../domain/limits.js";
import { profileExtras } from "../../domain/profile-extras.js";
import type { Attachment, Block, QueuedMessage, SendPolicy } from "../../domain/types.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import { rememberTurnOrigin } from "../observe/turn-trace.js";
import type { SessionCommands } from "../sessions/commands.js";
import { type LoadedSession, waitingMessages } from "../sessions/loaded-session.js";
import type { SessionManager } from "../sessions/session-manager.js";
import type { Sessions } from "../sessions/sessions.js";
import { decodePageToken, encodePageToken, pageSize } from "../shared/validate.js";
import { parseCommand, resolveCommand } from "./commands.js";
import { ATTACHMENT_TYPES } from "./conversation.js";
import { enqueue, INTERRUPTED, isBusy } from "./send-policy.js";
import { cancelParkedTurn } from "./waiting-calls.js";

const isSequence = (p: unknown): p is number =>
  typeof p === "number" && Number.isInteger(p) && p >= 0;

function checkMessage(text: string, attachments: Attachment[]): void {
  if (text.length > LIMITS.maxMessageTextLength) {
    throw invalidField("text", `must be at most ${LIMITS.maxMessageTextLength} characters`);
  }
  if (text.trim() === "" && attachments.length === 0) throw invalidField("text", "is required");
  if (attachments.length > LIMITS.maxAttachments) {
    throw invalidField("attachments", `must have at most ${LIMITS.maxAttachments} entries`);
  }
  attachments.forEach((a, i) => {
    const field = (name: string) => `attachments[${i}].${name}`;
    if (a.name.length > 255) throw invalidField(field("name"), "must be at most 255 characters");
    if (!(ATTACHMENT_TYPES as readonly string[]).includes(a.mediaType)) {
      throw invalidField(field("media_type"), `must be one of ${ATTACHMENT_TYPES.join(", ")}`);
    }
    if (a.data.byteLength > LIMITS.maxAttachmentBytes) {
      throw invalidField(field("data"), `must be at most ${LIMITS.maxAttachmentBytes} bytes`);
    }
  });
}

/**
 * The conversation use cases: SendMessage accepts a message into the session's queue (stored
 * before it is acknowledged), CancelTurn stops the running turn or marks a waiting one,
 * ListMessages pages through the stored blocks. The turns themselves run in the TurnRunner.
 */
export class Messages {
  constructor(
    private readonly store: PersistenceAdapter,
    private readonly sessions: Sessions,
    private readonly manager: SessionManager,
    private readonly commands: SessionCommands,
  ) {
    commands.register("send_message", (session, a: SendArgs) => this.accept(session, a));
    commands.register("cancel_turn", (session, a: { turnId: string }) =>
      this.cancelOn(session, a.turnId),
    );
  }

  async send(
    tenantId: string,
    sessionId: string,
    text: string,
    attachments: Attachment[],
    policy: SendPolicy = "queue",
  ): Promise<{ turnId: string; queued: boolean; steered: boolean }> {
    checkMessage(text, attachments);
    const record = await this.sessions.load(tenantId, sessionId);
    if (parseCommand(text)) {
      // A command must be one of the profile's now; the turn expands it when it runs.
      const profile = await this.store.loadAgentProfile(record.agentProfileId);
      if (profile) resolveCommand(text, profileExtras(profile).commands);
    }
    return this.commands.run(sessionId, "send_message", { text, attachments, policy });
  }

  /** Takes a message into the queue of the session, on the replica that runs it. */
  private async accept(
    session: LoadedSession,
    { text, attachments, policy }: SendArgs,
  ): Promise<{ turnId: string; queued: boolean; steered: boolean }> {
    if (waitingMessages(session.record).length >= LIMITS.maxQueuedMessages) {
      throw new AppError(
        "resource_exhausted",
        "QUEUE_FULL",
        `${LIMITS.maxQueuedMessages} messages already wait in this session; wait or cancel`,
        undefined,
        { limit: String(LIMITS.maxQueuedMessages) },
      );
    }
    if (policy === "reject" && isBusy(session)) {
      throw new AppError(
        "failed_precondition",
        "SESSION_BUSY",
        "a turn runs or waits, or messages wait, in this session (policy REJECT)",
      );
    }
    const now = new Date();
    const message: QueuedMessage = { turnId: newId("trn"), text, attachments, enqueueTime: now };
    rememberTurnOrigin(message.turnId);
    // With no turn running or waiting, STEER and INTERRUPT are QUEUE. A turn waiting for
    // answers counts: a steered message goes in when it goes on; an interrupt cancels it.
    const activeTurnId =
      policy === "steer" || policy === "interrupt" ? activeTurnOf(session) : undefined;
    if (activeTurnId) message.runsNext = true;
    if (activeTurnId && policy === "steer") message.steerTurnId = activeTurnId;
    const queued = isBusy(session);
    const accepted = session.update(
      (r) => ({
        queuedMessages: enqueue(r.queuedMessages, message, activeTurnId),
        lastActivityTime: now,
        updateTime: now,
      }),
      { turnId: message.turnId },
    );
    // A write that failed may still reach the store: the turn engine reads the record back and
    // runs what it holds.
    await accepted.catch((err: unknown) => {
      this.manager.kick(session);
      throw err;
    });
    this.manager.touch(session);
    // Stored first: the interrupted turn's end cannot lose the message that interrupted it.
    if (activeTurnId && policy === "interrupt") {
      const current = session.current;
      if (current?.turn.id === activeTurnId) current.abort.abort(INTERRUPTED);
      else {
        const kick = () => this.manager.kick(session);
        await cancelParkedTurn(session, activeTurnId, kick, INTERRUPTED.message);
      }
    }
    this.manager.kick(session);
    if (message.steerTurnId) return { turnId: message.steerTurnId, queued: false, steered: true };
    return { turnId: message.turnId, queued, steered: false };
  }

  /**
   * Cancels the running turn (`turnId` empty or its id) or a waiting one. A waiting turn is
   * marked and ends as cancelled when its turn comes, so the feed shows it started and completed
   * in order. Returns false when there is no such turn (any more).
   */
  async cancel(tenantId: string, sessionId: string, turnId: string): Promise<boolean> {
    if (turnId !== "" && !isId("trn", turnId))
      throw invalidField("turn_id", "is not a turn id (trn_...)");
    await this.manager.whenRecovered(sessionId);
    const record = await this.sessions.load(tenantId, sessionId);
    // A session that runs nowhere has nothing to cancel.
    const runsElsewhere = record.lease && record.lease.expiresAt.getTime() > Date.now();
    if (!this.manager.getSession(sessionId) && !runsElsewhere) return false;
    return this.commands.run(sessionId, "cancel_turn", { turnId });
  }

  private async cancelOn(session: LoadedSession, turnId: string): Promise<boolean> {
    const current = session.current;
    if (current && (turnId === "" || current.turn.id === turnId)) {
      current.abort.abort(new AppError("unavailable", "CANCELLED", "cancelled by the user"));
      return true;
    }
    const parked = session.record.parked;
    if (!current && parked && (turnId === "" || parked.turnId === turnId)) {
      return cancelParkedTurn(session, parked.turnId, () => this.manager.kick(session));
    }
    if (!waitingMessages(session.record).some((q) => q.turnId === turnId)) return false;
    await session.update((r) => ({
      queuedMessages: r.queuedMessages.map((q) =>
        q.turnId === turnId ? { ...q, cancelRequested: true } : q,
      ),
    }));
    this.manager.kick(session);
    return true;
  }

  async list(
    tenantId: string,
    sessionId: string,
    size: number,
    token: string,
  ): Promise<{ blocks: Block[]; nextPageToken: string }> {
    await this.sessions.load(tenantId, sessionId);
    const limit = pageSize("page_size", size, LIMITS.defaultBlockPageSize, LIMITS.maxBlockPageSize);
    const after = decodePageToken("page_token", token, "blocks", isSequence) ?? 0;
    const blocks = await this.store.listBlocks(sessionId, after, limit + 1);
    const page = blocks.slice(0, limit);
    return {
      blocks: page,
      nextPageToken: blocks.length > limit ? encodePageToken("blocks", page.at(-1)!.sequence) : "",
    };
  }
}

/** The turn running now, or the claimed turn waiting for answers; undefined when neither. */
function activeTurnOf(session: LoadedSession): string | undefined {
  if (session.current) return session.current.turn.id;
  const { parked, currentTurn } = session.record;
  return parked && currentTurn?.id === parked.turnId ? parked.turnId : undefined;
}

interface SendArgs {
  text: string;
  attachments: Attachment[];
  policy: SendPolicy;
}
