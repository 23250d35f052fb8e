import type { PersistenceAdapter } from "../../ports/persistence.js";
import type { EmitContext } from "../feed/event-feed.js";
import type { LoadedSession } from "../sessions/loaded-session.js";
import type { BudgetHit, Budgets } from "./budget.js";

/** Node timers hold at most 2^31 - 1 ms (24.8 days): a longer wait is asked again on the way. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const monthTimers = new WeakMap<LoadedSession, NodeJS.Timeout>();

/** Asks again when the next calendar month (UTC) begins, for a session the tenant limit holds. */
export function atNextMonth(session: LoadedSession, again: () => void, now = new Date()): void {
  clearTimeout(monthTimers.get(session));
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  const timer = setTimeout(
    () => {
      monthTimers.delete(session);
      if (!session.closing) again();
    },
    Math.min(next - now.getTime() + 1_000, MAX_TIMER_MS),
  );
  timer.unref();
  monthTimers.set(session, timer);
}

/**
 * A turn reached a limit: the `budget_exceeded` event, and for a session or tenant limit the
 * session waits (`budgetWait`, state WAITING) until the limit is raised. A turn limit ends only
 * its turn: the next message starts a turn with a fresh turn budget.
 */
export async function budgetReached(
  session: LoadedSession,
  hit: BudgetHit,
  context: EmitContext,
): Promise<void> {
  session.emit(
    {
      type: "budget_exceeded",
      scope: hit.scope,
      limit: hit.limit,
      limitValue: hit.limitValue,
      used: { ...hit.used },
    },
    context,
  );
  if (hit.scope === "turn") return;
  await session.update(() => ({ budgetWait: { scope: hit.scope, limit: hit.limit } }), context);
}

/**
 * Whether a session or tenant limit holds the session's next turn, checked by the turn engine
 * before each turn: the wait is set when a limit holds, and cleared once none does (a limit
 * raised, a new month), so the queued messages run again.
 */
export async function holdForBudget(
  session: LoadedSession,
  budgets: Budgets,
  store: PersistenceAdapter,
  /** Asks again (the turn engine's kick): used when a new month begins. */
  again: () => void,
): Promise<boolean> {
  const profile = await store.loadAgentProfile(session.record.agentProfileId);
  const hit = await budgets.holding(session.record, profile);
  const wait = session.record.budgetWait;
  if (hit?.scope === "tenant_month") atNextMonth(session, again);
  if (hit) {
    if (wait?.scope !== hit.scope || wait.limit !== hit.limit)
      await session.update(() => ({ budgetWait: { scope: hit.scope, limit: hit.limit } }));
    return true;
  }
  if (wait) await session.update(() => ({ budgetWait: undefined }));
  return false;
}
