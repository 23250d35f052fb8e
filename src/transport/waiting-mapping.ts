// Proto <-> domain for turns that wait: permissions, custom tools, budgets, waiting tool calls
// and their answers.

import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Budget as PbBudget,
  PermissionMode as PbPermissionMode,
  type AgentProfile as PbProfile,
} from "#gen/profile_pb.js";
import {
  ToolDecisionKind as PbDecisionKind,
  PendingKind as PbPendingKind,
} from "#gen/session_pb.js";
import { SendPolicy as PbSendPolicy } from "#gen/session_service_pb.js";
import { invalidField } from "../domain/errors.js";
import type {
  AgentProfile,
  Budget,
  CustomTool,
  PendingToolCall,
  PermissionSettings,
  ToolDecision,
} from "../domain/types.js";
import { emptyBudget, type SendPolicy } from "../domain/types.js";

const MICRO = 1_000_000;
const timestamp = timestampFromDate;

export function budgetToProto(b: Budget | undefined) {
  const x = b ?? emptyBudget();
  return {
    maxTurnCostUsd: x.maxTurnCostMicroUsd / MICRO,
    maxTurnTokens: BigInt(x.maxTurnTokens),
    maxSessionCostUsd: x.maxSessionCostMicroUsd / MICRO,
    maxSessionTokens: BigInt(x.maxSessionTokens),
  };
}

/** Dollars become whole micro-dollars (rounded); validation rejects what is not finite. */
export function budgetFromProto(b: PbBudget | undefined): Budget {
  const usd = (v: number | undefined) =>
    Number.isFinite(v) ? Math.round((v ?? 0) * MICRO) : Number.NaN;
  return {
    maxTurnCostMicroUsd: usd(b?.maxTurnCostUsd ?? 0),
    maxTurnTokens: Number(b?.maxTurnTokens ?? 0n),
    maxSessionCostMicroUsd: usd(b?.maxSessionCostUsd ?? 0),
    maxSessionTokens: Number(b?.maxSessionTokens ?? 0n),
  };
}

const POLICIES: Partial<Record<PbSendPolicy, SendPolicy>> = {
  [PbSendPolicy.UNSPECIFIED]: "queue",
  [PbSendPolicy.QUEUE]: "queue",
  [PbSendPolicy.REJECT]: "reject",
  [PbSendPolicy.INTERRUPT]: "interrupt",
  [PbSendPolicy.STEER]: "steer",
};

/** SendMessage's policy; an unknown value is INVALID_ARGUMENT naming `policy`. */
export function sendPolicyFromProto(p: PbSendPolicy): SendPolicy {
  const policy = POLICIES[p];
  if (!policy) throw invalidField("policy", `is not a known SendPolicy (${p})`);
  return policy;
}

const MODES: Array<[PbPermissionMode, PermissionSettings["mode"]]> = [
  [PbPermissionMode.ALLOW, "allow"],
  [PbPermissionMode.ASK, "ask"],
  [PbPermissionMode.DENY, "deny"],
];

export function defaultPermissions(): PermissionSettings {
  return {
    mode: "allow",
    allow: [],
    ask: [],
    deny: [],
    approvalTimeoutSeconds: 0,
    allowOnTimeout: false,
  };
}

/** The profile's waiting-related fields, as AgentProfile init fields. */
export function waitingProfileToProto(p: AgentProfile) {
  const perm = p.permissions ?? defaultPermissions();
  return {
    permissions: {
      mode: MODES.find(([, d]) => d === perm.mode)?.[0] ?? PbPermissionMode.ALLOW,
      allow: perm.allow,
      ask: perm.ask,
      deny: perm.deny,
      approvalTimeoutSeconds: BigInt(perm.approvalTimeoutSeconds),
      allowOnTimeout: perm.allowOnTimeout,
    },
    customTools: p.customTools ?? [],
    budget: budgetToProto(p.budget),
  };
}

/** The same fields of a profile from the API, before validation. */
export function waitingProfileFromProto(p: PbProfile): {
  permissions: PermissionSettings;
  customTools: CustomTool[];
  budget: Budget;
} {
  const perm = p.permissions;
  return {
    permissions: {
      mode: MODES.find(([pb]) => pb === perm?.mode)?.[1] ?? "allow",
      allow: [...(perm?.allow ?? [])],
      ask: [...(perm?.ask ?? [])],
      deny: [...(perm?.deny ?? [])],
      approvalTimeoutSeconds: Number(perm?.approvalTimeoutSeconds ?? 0n),
      allowOnTimeout: perm?.allowOnTimeout ?? false,
    },
    customTools: p.customTools.map((t) => ({
      name: t.name,
      description: t.description,
      inputSchemaJson: t.inputSchemaJson,
    })),
    budget: budgetFromProto(p.budget),
  };
}

export function pendingCallToProto(c: PendingToolCall) {
  return {
    toolUseId: c.toolUseId,
    turnId: c.turnId,
    toolName: c.toolName,
    inputJson: c.inputJson,
    kind: c.kind === "approval" ? PbPendingKind.APPROVAL : PbPendingKind.CUSTOM_TOOL,
    matchedRule: c.matchedRule,
    requestTime: timestamp(c.requestTime),
    ...(c.timeoutTime ? { timeoutTime: timestamp(c.timeoutTime) } : {}),
  };
}

const DECISIONS: Record<ToolDecision["kind"], PbDecisionKind> = {
  allow: PbDecisionKind.ALLOW,
  deny: PbDecisionKind.DENY,
  result: PbDecisionKind.RESULT,
};

export function decisionToProto(d: ToolDecision) {
  return {
    toolUseId: d.toolUseId,
    turnId: d.turnId,
    toolName: d.toolName,
    kind: DECISIONS[d.kind],
    message: d.message,
    updatedInputJson: d.updatedInputJson,
    alwaysAllowRule: d.alwaysAllowRule,
    output: d.output,
    isError: d.isError,
    decidedBy: d.decidedBy,
    decideTime: timestamp(d.decideTime),
  };
}

/** Why a session waits, for `SessionRuntime.waiting_reason`; empty when it does not. */
export function waitingReason(r: {
  pendingToolCalls?: PendingToolCall[];
  budgetWait?: { scope: string; limit: string };
}): string {
  const first = r.pendingToolCalls?.[0];
  if (first) return first.kind;
  if (r.budgetWait) return `budget: ${r.budgetWait.limit} (${r.budgetWait.scope})`;
  return "";
}
