import type { QueuedMessage } from "../../domain/types.js";
import type { ModelMessage } from "../../ports/model.js";
import type { LoadedSession } from "../sessions/loaded-session.js";
import { BlockWriter, type TurnSink } from "./blocks.js";
import { addUserMessage } from "./conversation.js";

/** How long delivering steered messages waits for their events to be stored. */
const STEER_STORE_TIMEOUT_MS = 30_000;

/** Messages sent with policy STEER into `turnId` that it has not taken yet. */
export function steeredInto(queue: readonly QueuedMessage[], turnId: string): QueuedMessage[] {
  return queue.filter((q) => q.steerTurnId === turnId && !q.cancelRequested);
}

/**
 * Delivers the messages steered into a running turn, before its next model call: they are
 * added to the conversation (as text after the step's tool results, in the same user message),
 * shown as user_message blocks of the turn, and then leave the queue. The order makes them
 * durable: the conversation is saved and the blocks stored first; only then does the record
 * drop them. A crash in between leaves them queued: the turn is settled as cut short (the
 * model never answered them) and they run as turns of their own. Once the record dropped them
 * they are the turn's alone, so none is lost and none runs twice.
 */
export async function deliverSteered(
  session: LoadedSession,
  turnId: string,
  sink: TurnSink,
  messages: ModelMessage[],
  saveConversation: () => Promise<void>,
): Promise<void> {
  const steered = steeredInto(session.record.queuedMessages, turnId);
  if (steered.length === 0) return;
  const ctx = { turnId };
  const blocks = new BlockWriter(sink, ctx);
  for (const q of steered) {
    addUserMessage(messages, q.text, q.attachments);
    blocks.complete(
      blocks.start({ type: "user_message", text: q.text, attachments: q.attachments }),
    );
  }
  await saveConversation();
  await blocks.saved();
  await session.feed.flush(STEER_STORE_TIMEOUT_MS);
  const taken = new Set(steered.map((q) => q.turnId));
  await session.update(
    (r) => ({ queuedMessages: r.queuedMessages.filter((q) => !taken.has(q.turnId)) }),
    ctx,
  );
}
