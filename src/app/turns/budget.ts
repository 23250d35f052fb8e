import {
  type AgentProfile,
  type Budget,
  type BudgetScope,
  effectiveBudget,
  type SessionRecord,
  type Usage,
} from "../../domain/types.js";
import type { Logger } from "../../ports/logger.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";

/** A limit reached, as the `budget_exceeded` event tells it. */
export interface BudgetHit {
  scope: BudgetScope;
  /** The limit's API name (`max_session_cost_usd`, ...). */
  limit: string;
  /** In its unit: micro-dollars for cost limits, tokens for token limits. */
  limitValue: number;
  used: Usage;
}

/** Tokens as budgets count them: input plus output, cache reads and writes included. */
export const tokensOf = (u: Usage): number =>
  u.inputTokens + u.outputTokens + u.cacheReadInputTokens + u.cacheCreationInputTokens;

/** The calendar month (UTC) tenant usage is kept by: `YYYY-MM`. */
export const monthOf = (d: Date): string => d.toISOString().slice(0, 7);

type Check = [BudgetScope, string, number, (u: Usage) => number, Usage | undefined];

/**
 * The first limit the usage reaches. Session and tenant limits come first: they make the
 * session wait; a turn limit only ends its turn.
 */
export function budgetHit(
  b: Budget,
  used: { turn?: Usage | undefined; session: Usage; tenantMonth?: Usage | undefined },
  tenantMonthlyMicroUsd: number,
): BudgetHit | undefined {
  const cost = (u: Usage) => u.costMicroUsd;
  const checks: Check[] = [
    ["session", "max_session_cost_usd", b.maxSessionCostMicroUsd, cost, used.session],
    ["session", "max_session_tokens", b.maxSessionTokens, tokensOf, used.session],
    ["tenant_month", "tenant_monthly_budget_usd", tenantMonthlyMicroUsd, cost, used.tenantMonth],
    ["turn", "max_turn_cost_usd", b.maxTurnCostMicroUsd, cost, used.turn],
    ["turn", "max_turn_tokens", b.maxTurnTokens, tokensOf, used.turn],
  ];
  for (const [scope, limit, limitValue, measure, u] of checks) {
    if (limitValue > 0 && u && measure(u) >= limitValue)
      return { scope, limit, limitValue, used: u };
  }
  return undefined;
}

/** How a hit reads for people: `max_turn_tokens reached (1200 of 1000)`. */
export function describeHit(h: BudgetHit): string {
  const cost = h.limit.endsWith("_usd");
  const show = (v: number) => (cost ? `$${(v / 1_000_000).toFixed(6)}` : String(v));
  const used = cost ? h.used.costMicroUsd : tokensOf(h.used);
  return `budget: ${h.limit} reached (${show(used)} of ${show(h.limitValue)}, ${h.scope})`;
}

/**
 * Budgets: per turn and per session (the profile's, overridden per session), and per tenant
 * per calendar month (UTC) from the server's settings. Tenant usage is counted in the store as
 * each step's usage is known.
 */
export class Budgets {
  constructor(
    private readonly store: PersistenceAdapter,
    private readonly logger: Logger,
    /** 0: no tenant limit. */
    readonly tenantMonthlyMicroUsd = 0,
  ) {}

  /**
   * Adds a session's step usage to the tenant's month; the month's total, or undefined if the
   * store failed (logged: that step is not counted).
   */
  record(tenantId: string, sessionId: string, step: Usage): Promise<Usage | undefined> {
    return this.store
      .addTenantUsage(tenantId, monthOf(new Date()), sessionId, step)
      .catch((err: unknown) => {
        this.logger.warn("counting tenant usage failed", { tenantId, sessionId, err });
        return undefined;
      });
  }

  /**
   * The session or tenant limit that holds a session's next turn, if any. The tenant month is
   * read only when the server sets a tenant limit.
   */
  async holding(
    record: SessionRecord,
    profile: AgentProfile | null,
  ): Promise<BudgetHit | undefined> {
    const budget = effectiveBudget(profile?.budget, record.options.budget);
    const tenantMonth =
      this.tenantMonthlyMicroUsd > 0
        ? await this.store.tenantUsage(record.tenantId, monthOf(new Date()))
        : undefined;
    return budgetHit(budget, { session: record.usage, tenantMonth }, this.tenantMonthlyMicroUsd);
  }

  /** The limits of one running turn, checked after each step's usage and before each model call. */
  forTurn(
    record: SessionRecord,
    profile: AgentProfile,
    used: () => { turn: Usage; session: Usage },
  ) {
    return new TurnBudget(
      this,
      record.tenantId,
      record.id,
      effectiveBudget(profile.budget, record.options.budget),
      used,
    );
  }
}

export class TurnBudget {
  /** The limit the turn reached, once it did. */
  hit: BudgetHit | undefined;
  private tenantMonth: Promise<Usage | undefined> = Promise.resolve(undefined);

  constructor(
    private readonly budgets: Budgets,
    private readonly tenantId: string,
    private readonly sessionId: string,
    private readonly budget: Budget,
    private readonly used: () => { turn: Usage; session: Usage },
  ) {}

  /** A step's usage (the turn's or a subagent's): counted for the tenant's month. */
  step(step: Usage): void {
    // One after another: a session's increments must not overlap (subagents run in parallel).
    this.tenantMonth = this.tenantMonth.then(() =>
      this.budgets.record(this.tenantId, this.sessionId, step),
    );
  }

  /** The reason to stop now, or undefined. */
  check = async (): Promise<string | undefined> => {
    if (this.hit) return describeHit(this.hit);
    const tenantMonth = await this.tenantMonth;
    const { turn, session } = this.used();
    this.hit = budgetHit(
      this.budget,
      { turn, session, tenantMonth },
      this.budgets.tenantMonthlyMicroUsd,
    );
    return this.hit ? describeHit(this.hit) : undefined;
  };
}
