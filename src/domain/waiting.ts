// Turns that wait for the application: tool permissions, custom tools, the answers to waiting
// calls, and budgets.

/** What a tool call gets when no rule matches it. */
export type PermissionMode = "allow" | "ask" | "deny";

/** Tool permissions with Claude Code's rule syntax (checked deny, then ask, then allow). */
export interface PermissionSettings {
  mode: PermissionMode;
  allow: string[];
  ask: string[];
  deny: string[];
  /** 0: a call waits for an answer without limit. */
  approvalTimeoutSeconds: number;
  allowOnTimeout: boolean;
}

/** A tool the application runs itself. */
export interface CustomTool {
  name: string;
  description: string;
  /** JSON Schema of the input, as JSON text (an object schema). */
  inputSchemaJson: string;
}

/** Spending limits; 0 means none. Cost in micro-dollars, tokens input plus output. */
export interface Budget {
  maxTurnCostMicroUsd: number;
  maxTurnTokens: number;
  maxSessionCostMicroUsd: number;
  maxSessionTokens: number;
}

export type PendingKind = "approval" | "custom_tool";

/** A tool call waiting for the application, kept on the session record. */
export interface PendingToolCall {
  toolUseId: string;
  turnId: string;
  toolName: string;
  inputJson: string;
  kind: PendingKind;
  /** For an approval: the rule that asked, or `mode`. */
  matchedRule: string;
  requestTime: Date;
  timeoutTime?: Date;
}

export type ToolDecisionKind = "allow" | "deny" | "result";

/** An answer to a waiting tool call, as recorded. */
export interface ToolDecision {
  toolUseId: string;
  turnId: string;
  toolName: string;
  kind: ToolDecisionKind;
  message: string;
  updatedInputJson: string;
  alwaysAllowRule: string;
  output: string;
  isError: boolean;
  /** `key:<name>`, `open`, or `timeout`. */
  decidedBy: string;
  decideTime: Date;
}

export type SendPolicy = "queue" | "reject" | "interrupt" | "steer";

export type BudgetScope = "turn" | "session" | "tenant_month";

export function emptyBudget(): Budget {
  return {
    maxTurnCostMicroUsd: 0,
    maxTurnTokens: 0,
    maxSessionCostMicroUsd: 0,
    maxSessionTokens: 0,
  };
}

/** The session's budget: each limit the session sets, else the profile's. */
export function effectiveBudget(profile: Budget | undefined, session: Budget | undefined): Budget {
  const p = profile ?? emptyBudget();
  const s = session ?? emptyBudget();
  return {
    maxTurnCostMicroUsd: s.maxTurnCostMicroUsd || p.maxTurnCostMicroUsd,
    maxTurnTokens: s.maxTurnTokens || p.maxTurnTokens,
    maxSessionCostMicroUsd: s.maxSessionCostMicroUsd || p.maxSessionCostMicroUsd,
    maxSessionTokens: s.maxSessionTokens || p.maxSessionTokens,
  };
}
