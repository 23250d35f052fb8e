import type { Block, SessionEvent, Turn, Usage } from "../../domain/types.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import type { LoadedSession } from "../sessions/loaded-session.js";
import { applyDelta, BlockWriter, cancelOpen } from "../turns/blocks.js";
import { completeTurn, releaseTurn } from "../turns/complete-turn.js";
import { closeConversation, type Transcripts } from "../turns/conversation.js";

/** Events read per page while a turn is read back from the feed. */
const PAGE = 500;
/** How long recovery waits for the feed's pending events to be stored first. */
export const RECOVERY_FLUSH_TIMEOUT_MS = 30_000;

/** A turn as its events in the feed tell it. */
interface TurnInFeed {
  started: boolean;
  completed: boolean;
  /** Blocks started and not completed, as far as they got. */
  open: Map<string, Block>;
  /** Blocks completed, in order (saved again: their save may not have happened). */
  done: Block[];
  /** Text of the main agent's step that was cut: it is not in the transcript yet. */
  cutText: string;
  userBlockId: string;
  usage: Usage | undefined;
}

async function readTurn(
  store: PersistenceAdapter,
  sessionId: string,
  turn: Turn,
): Promise<TurnInFeed> {
  const seen: TurnInFeed = {
    started: false,
    completed: false,
    open: new Map(),
    done: [],
    cutText: "",
    userBlockId: "",
    usage: undefined,
  };
  let stepTexts: Block[] = [];
  const read = (e: SessionEvent) => {
    if (e.turnId !== turn.id) return;
    const p = e.payload;
    if (p.type === "turn_started") seen.started = true;
    else if (p.type === "turn_completed") seen.completed = true;
    else if (p.type === "block_started" || p.type === "block_updated") {
      seen.open.set(p.block.id, p.block);
      if (
        p.type === "block_started" &&
        !e.subagentId &&
        p.block.content.type === "assistant_text"
      ) {
        stepTexts.push(p.block);
      }
      if (p.block.content.type === "user_message") seen.userBlockId = p.block.id;
    } else if (p.type === "block_delta") {
      const b = seen.open.get(p.blockId);
      if (b) applyDelta(b.content, p.delta);
    } else if (p.type === "block_completed") {
      seen.open.delete(p.block.id);
      seen.done.push(p.block);
    } else if (p.type === "usage_updated") {
      seen.usage = p.turn;
      if (!e.subagentId) stepTexts = []; // the step finished: its message is in the transcript
    }
  };
  let after = Math.max((turn.startSequence ?? 1) - 1, 0);
  for (;;) {
    const page = await store.readEvents(sessionId, after, PAGE);
    for (const e of page) read(e);
    if (page.length < PAGE) break;
    after = page.at(-1)!.sequence;
  }
  seen.cutText = stepTexts
    .map((b) => (b.content.type === "assistant_text" ? b.content.text : ""))
    .join("");
  return seen;
}

/**
 * Settles the turn a session's record says was claimed, from what the feed says happened, so
 * that it is safe to run again after a crash or a store outage (every step is idempotent):
 * - no turn_started in the feed: nothing of it ran; the claim is dropped and the message runs
 *   again in its place;
 * - turn_started and turn_completed: it ended; only the record's bookkeeping is finished;
 * - turn_started only: it was cut short. Its completed blocks are saved (again), its open ones
 *   completed (running tool calls cancelled), the conversation closed, and turn_completed
 *   written with outcome INTERRUPTED and `reason`.
 * Returns what it found.
 */
export async function settleClaimedTurn(
  session: LoadedSession,
  deps: { store: PersistenceAdapter; transcripts: Transcripts },
  reason: string,
): Promise<"none" | "not_started" | "completed" | "interrupted"> {
  const turn = session.record.currentTurn;
  if (!turn) return "none";
  await session.feed.flush(RECOVERY_FLUSH_TIMEOUT_MS);
  const seen = await readTurn(deps.store, session.id, turn);
  if (!seen.started) {
    await session.update(() => ({ currentTurn: undefined }));
    return "not_started";
  }
  const ctx = { turnId: turn.id };
  if (!seen.completed) {
    for (const block of seen.done) await deps.store.saveBlock(session.id, block);
    const sink = {
      get nextSequence() {
        return session.feed.sequence + 1;
      },
      emit: session.emit,
      saveBlock: (b: Block) => deps.store.saveBlock(session.id, b),
      syncWorkspace: async () => {},
    };
    for (const block of seen.open.values()) {
      cancelOpen(block);
      session.emit(
        { type: "block_completed", block },
        block.subagentId ? { ...ctx, subagentId: block.subagentId } : ctx,
      );
      await deps.store.saveBlock(session.id, block);
    }
    const note = `This turn was interrupted: ${reason}.`;
    const writer = new BlockWriter(sink, ctx);
    writer.complete(writer.start({ type: "system", text: note }));
    await writer.saved();
    const messages = await deps.transcripts.get(session.id);
    if (seen.cutText && messages.at(-1)?.role === "user") {
      messages.push({
        role: "assistant",
        content: [
          { type: "text", text: seen.cutText },
          { type: "text", text: `[${note}]` },
        ],
      });
    } else {
      closeConversation(messages, note);
    }
    await deps.transcripts.save(session.id, messages);
    const cut: Turn = {
      ...turn,
      userBlockId: turn.userBlockId || seen.userBlockId,
      ...(seen.usage ? { usage: seen.usage } : {}),
    };
    await completeTurn(session, cut, {
      outcome: "interrupted",
      reason,
      storeTimeoutMs: RECOVERY_FLUSH_TIMEOUT_MS,
    });
    return "interrupted";
  }
  await releaseTurn(session, turn.id);
  return "completed";
}
