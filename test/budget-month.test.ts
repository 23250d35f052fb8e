import { afterEach, describe, expect, it, vi } from "vitest";
import type { LoadedSession } from "../src/app/sessions/loaded-session.js";
import { budgetHit, monthOf } from "../src/app/turns/budget.js";
import { atNextMonth } from "../src/app/turns/budget-wait.js";
import { emptyBudget, emptyUsage } from "../src/domain/types.js";

afterEach(() => vi.useRealTimers());

describe("the tenant month", () => {
  it("is the calendar month in UTC", () => {
    expect(monthOf(new Date("2026-11-30T23:59:59.999Z"))).toBe("2026-11");
    expect(monthOf(new Date("2026-12-01T00:00:00Z"))).toBe("2026-12");
  });

  it("a held session asks again when the next month begins (a long wait in steps)", () => {
    vi.useFakeTimers();
    const now = new Date("2026-01-01T00:00:10Z"); // 31 days to go: longer than one timer holds
    vi.setSystemTime(now);
    const session = { closing: false } as LoadedSession;
    const again = vi.fn();
    atNextMonth(session, again, now);
    vi.advanceTimersByTime(2 ** 31 - 2);
    expect(again).toHaveBeenCalledTimes(0);
    vi.advanceTimersByTime(1);
    // Past the longest timer: it asks again (and the check holds it again until February).
    expect(again).toHaveBeenCalledTimes(1);
    const late = new Date("2026-01-31T23:59:00Z");
    atNextMonth(session, again, late);
    vi.advanceTimersByTime(59_000);
    expect(again).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(2_001); // a second past the month's start
    expect(again).toHaveBeenCalledTimes(2);
  });

  it("does not ask for a session being unloaded", () => {
    vi.useFakeTimers();
    const session = { closing: true } as LoadedSession;
    const again = vi.fn();
    atNextMonth(session, again, new Date("2026-03-31T23:59:59Z"));
    vi.advanceTimersByTime(10_000);
    expect(again).not.toHaveBeenCalled();
  });

  it("session and tenant limits come before the turn's", () => {
    const used = { ...emptyUsage(), inputTokens: 10, costMicroUsd: 10 };
    const b = { ...emptyBudget(), maxTurnTokens: 5, maxSessionTokens: 5 };
    expect(budgetHit(b, { turn: used, session: used }, 0)?.limit).toBe("max_session_tokens");
    expect(
      budgetHit({ ...b, maxSessionTokens: 0 }, { turn: used, session: used, tenantMonth: used }, 10)
        ?.scope,
    ).toBe("tenant_month");
    expect(budgetHit(emptyBudget(), { turn: used, session: used }, 0)).toBeUndefined();
  });
});
