import type { Turn, TurnOutcome } from "../../domain/types.js";
import { annotate } from "../observe/tracing.js";
import type { LoadedSession } from "../sessions/loaded-session.js";

/**
 * The last two writes of a turn (ARCHITECTURE.md, steps 4 and 5): its turn_completed, stored,
 * then the record lets it go (its message leaves the queue, the claim is cleared). Used by the
 * turn runner and by recovery alike.
 */
export async function completeTurn(
  session: LoadedSession,
  turn: Turn,
  end: { outcome: TurnOutcome; reason: string; storeTimeoutMs: number },
): Promise<void> {
  const ctx = { turnId: turn.id };
  const endTime = new Date();
  const done: Turn = { ...turn, outcome: end.outcome, endTime };
  delete done.startSequence;
  annotate({
    "agentruntime.turn.outcome": end.outcome,
    "gen_ai.usage.input_tokens": turn.usage.inputTokens,
    "gen_ai.usage.output_tokens": turn.usage.outputTokens,
    "agentruntime.turn.cost_usd": turn.usage.costMicroUsd / 1_000_000,
  });
  session.emit({ type: "turn_completed", turn: done, reason: end.reason }, ctx);
  await session.feed.flush(end.storeTimeoutMs);
  await releaseTurn(session, turn.id, endTime);
}

/** Step 5 alone: the record lets the turn go. */
export function releaseTurn(
  session: LoadedSession,
  turnId: string,
  at = new Date(),
): Promise<void> {
  return session.update(
    (r) => ({
      currentTurn: undefined,
      queuedMessages: r.queuedMessages.filter((q) => q.turnId !== turnId),
      lastActivityTime: at,
      updateTime: at,
    }),
    { turnId },
  );
}
