import { AppError } from "../../domain/errors.js";
import type { QueuedMessage } from "../../domain/types.js";
import type { LoadedSession } from "../sessions/loaded-session.js";

/** Why a turn ends when a message sent with policy INTERRUPT stops it (outcome CANCELLED). */
export const INTERRUPTED = new AppError(
  "unavailable",
  "CANCELLED",
  "cancelled by a new message (policy INTERRUPT)",
);

/**
 * A turn runs or waits, or messages wait (a turn is over once its message left the queue, just
 * after its turn_completed): policy REJECT refuses a message then, and others wait.
 */
export function isBusy(session: LoadedSession): boolean {
  const r = session.record;
  return (
    session.current !== undefined ||
    r.queuedMessages.length > 0 ||
    r.budgetWait !== undefined ||
    (r.pendingToolCalls?.length ?? 0) > 0
  );
}

/**
 * Where a message joins the queue. QUEUE: at the end. STEER and INTERRUPT (`runsNext`): right
 * after the running turn's message and the earlier messages sent with them, so it runs next (a
 * steered message the running turn does not take runs as its own turn, next).
 */
export function enqueue(
  queue: readonly QueuedMessage[],
  message: QueuedMessage,
  runningTurnId: string | undefined,
): QueuedMessage[] {
  if (!message.runsNext) return [...queue, message];
  let at = runningTurnId !== undefined && queue[0]?.turnId === runningTurnId ? 1 : 0;
  while (at < queue.length && queue[at]?.runsNext) at++;
  return [...queue.slice(0, at), message, ...queue.slice(at)];
}
