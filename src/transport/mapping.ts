// Proto <-> domain mapping: the only place that knows both shapes.

import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { SubagentStatus as PbSubagentStatus, ToolStatus as PbToolStatus } from "#gen/block_pb.js";
import {
  AgentProfileSchema,
  ModelProvider,
  type AgentProfile as PbAgentProfile,
  SandboxProviderKind,
} from "#gen/profile_pb.js";
import {
  SandboxStatus as PbSandboxStatus,
  type Session as PbSession,
  SessionState as PbSessionState,
  type Turn as PbTurn,
  TurnOutcome as PbTurnOutcome,
  type Usage as PbUsage,
  SessionSchema,
  TurnSchema,
  UsageSchema,
} from "#gen/session_pb.js";
import { FileInfoSchema, type FileInfo as PbFileInfo } from "#gen/workspace_pb.js";
import type { ProfileInput } from "../app/profiles/profiles.js";
import type { SessionView } from "../app/sessions/sessions.js";
import { invalidField } from "../domain/errors.js";
import type {
  AgentProfile,
  SandboxProviderKind as DomainSandboxProvider,
  FileContent,
  FileInfo,
  ModelProviderKind,
  SandboxStatus,
  SessionState,
  SubagentStatus,
  ToolStatus,
  Turn,
  TurnOutcome,
  Usage,
} from "../domain/types.js";
import {
  profileExtrasFromProto,
  profileExtrasToProto,
  todosToProto,
} from "./profile-extras-mapping.js";
import {
  budgetToProto,
  pendingCallToProto,
  waitingProfileFromProto,
  waitingProfileToProto,
  waitingReason,
} from "./waiting-mapping.js";

/** A two-way enum table; decoding an unknown number is InvalidArgument naming the field. */
function enumMap<P extends number, D extends string>(pairs: Array<[P, D]>, unspecified?: D) {
  const toDomain = new Map<number, D>(pairs);
  const toProto = new Map<D, P>(pairs.map(([p, d]) => [d, p]));
  return {
    decode(field: string, value: number): D {
      if (value === 0 && unspecified !== undefined) return unspecified;
      const d = toDomain.get(value);
      if (d === undefined) throw invalidField(field, `unknown enum value ${value}`);
      return d;
    },
    encode(value: D): P {
      return toProto.get(value) ?? (0 as P);
    },
  };
}

export const modelProviders = enumMap<ModelProvider, ModelProviderKind>(
  [
    [ModelProvider.ANTHROPIC, "anthropic"],
    [ModelProvider.DEMO, "demo"],
  ],
  "anthropic",
);
export const sandboxProviders = enumMap<SandboxProviderKind, DomainSandboxProvider>(
  [
    [SandboxProviderKind.UNSPECIFIED, "default"],
    [SandboxProviderKind.LOCAL, "local"],
    [SandboxProviderKind.MODAL, "modal"],
  ],
  "default",
);
export const sessionStates = enumMap<PbSessionState, SessionState>([
  [PbSessionState.IDLE, "idle"],
  [PbSessionState.RUNNING, "running"],
  [PbSessionState.WAITING, "waiting"],
]);
export const sandboxStatuses = enumMap<PbSandboxStatus, SandboxStatus>([
  [PbSandboxStatus.NONE, "none"],
  [PbSandboxStatus.STARTING, "starting"],
  [PbSandboxStatus.READY, "ready"],
  [PbSandboxStatus.TERMINATED, "terminated"],
  [PbSandboxStatus.FAILED, "failed"],
]);
export const turnOutcomes = enumMap<PbTurnOutcome, TurnOutcome>([
  [PbTurnOutcome.COMPLETED, "completed"],
  [PbTurnOutcome.CANCELLED, "cancelled"],
  [PbTurnOutcome.FAILED, "failed"],
  [PbTurnOutcome.INTERRUPTED, "interrupted"],
  [PbTurnOutcome.MAX_TURNS, "max_turns"],
  [PbTurnOutcome.BUDGET_EXCEEDED, "budget_exceeded"],
]);
export const toolStatuses = enumMap<PbToolStatus, ToolStatus>([
  [PbToolStatus.PENDING, "pending"],
  [PbToolStatus.RUNNING, "running"],
  [PbToolStatus.SUCCEEDED, "succeeded"],
  [PbToolStatus.FAILED, "failed"],
  [PbToolStatus.CANCELLED, "cancelled"],
  [PbToolStatus.WAITING, "waiting"],
  [PbToolStatus.DENIED, "denied"],
]);
export const subagentStatuses = enumMap<PbSubagentStatus, SubagentStatus>([
  [PbSubagentStatus.RUNNING, "running"],
  [PbSubagentStatus.COMPLETED, "completed"],
  [PbSubagentStatus.FAILED, "failed"],
  [PbSubagentStatus.CANCELLED, "cancelled"],
]);

export const ts = (d: Date): Timestamp => timestampFromDate(d);

// --- profiles ---

export function profileToProto(p: AgentProfile): PbAgentProfile {
  return create(AgentProfileSchema, {
    id: p.id,
    name: p.name,
    description: p.description,
    systemPrompt: p.systemPrompt,
    modelProvider: modelProviders.encode(p.modelProvider),
    model: p.model,
    tools: p.tools,
    maxTurns: p.maxTurns,
    subagents: p.subagents,
    defaultFiles: p.defaultFiles,
    sandbox: {
      provider: sandboxProviders.encode(p.sandbox.provider),
      networkAllowed: p.sandbox.networkAllowed,
      env: p.sandbox.env,
      image: p.sandbox.image,
      cpu: p.sandbox.cpu,
      memoryMib: p.sandbox.memoryMib,
      providerOptions: p.sandbox.providerOptions,
      secretEnv: p.sandbox.secretEnv ?? {},
    },
    thinking: p.thinking,
    maxOutputTokens: p.maxOutputTokens,
    ...profileExtrasToProto(p),
    ...waitingProfileToProto(p),
    createTime: ts(p.createTime),
    updateTime: ts(p.updateTime),
  });
}

export function profileFromProto(p: PbAgentProfile | undefined, prefix = "profile"): ProfileInput {
  if (!p) throw invalidField(prefix, "is required");
  return {
    name: p.name,
    description: p.description,
    systemPrompt: p.systemPrompt,
    modelProvider: modelProviders.decode(`${prefix}.model_provider`, p.modelProvider),
    model: p.model,
    tools: [...p.tools],
    maxTurns: p.maxTurns,
    subagents: p.subagents.map((s) => ({
      name: s.name,
      description: s.description,
      prompt: s.prompt,
      tools: [...s.tools],
      model: s.model,
    })),
    defaultFiles: filesFromProto(p.defaultFiles),
    sandbox: {
      provider: sandboxProviders.decode(`${prefix}.sandbox.provider`, p.sandbox?.provider ?? 0),
      networkAllowed: p.sandbox?.networkAllowed ?? false,
      env: { ...p.sandbox?.env },
      image: p.sandbox?.image ?? "",
      cpu: p.sandbox?.cpu ?? 0,
      memoryMib: p.sandbox?.memoryMib ?? 0,
      providerOptions: { ...p.sandbox?.providerOptions },
      secretEnv: { ...p.sandbox?.secretEnv },
    },
    thinking: {
      enabled: p.thinking?.enabled ?? false,
      budgetTokens: p.thinking?.budgetTokens ?? 0,
    },
    maxOutputTokens: p.maxOutputTokens,
    ...profileExtrasFromProto(p, prefix),
    ...waitingProfileFromProto(p),
  };
}

export function filesFromProto(files: Array<{ path: string; content: Uint8Array }>): FileContent[] {
  return files.map((f) => ({ path: f.path, content: f.content }));
}

// --- sessions ---

export function usageToProto(u: Usage): PbUsage {
  return create(UsageSchema, {
    inputTokens: BigInt(u.inputTokens),
    outputTokens: BigInt(u.outputTokens),
    cacheReadInputTokens: BigInt(u.cacheReadInputTokens),
    cacheCreationInputTokens: BigInt(u.cacheCreationInputTokens),
    costUsd: u.costMicroUsd / 1_000_000,
    costMicroUsd: BigInt(u.costMicroUsd),
    webSearchRequests: BigInt(u.webSearchRequests ?? 0),
    webFetchRequests: BigInt(u.webFetchRequests ?? 0),
  });
}

export function turnToProto(t: Turn): PbTurn {
  return create(TurnSchema, {
    id: t.id,
    userBlockId: t.userBlockId,
    startTime: ts(t.startTime),
    outcome: t.outcome ? turnOutcomes.encode(t.outcome) : PbTurnOutcome.UNSPECIFIED,
    ...(t.endTime ? { endTime: ts(t.endTime) } : {}),
    usage: usageToProto(t.usage),
  });
}

export function sessionToProto({ record: s, runtime }: SessionView): PbSession {
  return create(SessionSchema, {
    id: s.id,
    agentProfileId: s.agentProfileId,
    name: s.name,
    metadata: s.metadata,
    options: { model: s.options.model, budget: budgetToProto(s.options.budget) },
    state: sessionStates.encode(s.state),
    runtime: {
      loaded: runtime.loaded,
      sandboxStatus: sandboxStatuses.encode(runtime.sandboxStatus),
      sandboxId: runtime.sandboxId,
      ...(runtime.currentTurn ? { currentTurn: turnToProto(runtime.currentTurn) } : {}),
      queuedMessages: runtime.queuedMessages.map((q) => ({
        turnId: q.turnId,
        text: q.text,
        enqueueTime: ts(q.enqueueTime),
      })),
      pendingToolCalls: (s.pendingToolCalls ?? []).map(pendingCallToProto),
      waitingReason: waitingReason(s),
    },
    usage: usageToProto(s.usage),
    lastSequence: BigInt(s.lastSequence),
    createTime: ts(s.createTime),
    updateTime: ts(s.updateTime),
    lastActivityTime: ts(s.lastActivityTime),
    todos: todosToProto(s.todos ?? []),
  });
}

export function fileInfoToProto(f: FileInfo): PbFileInfo {
  return create(FileInfoSchema, {
    path: f.path,
    size: BigInt(f.size),
    sha256: f.sha256,
    modifyTime: ts(f.modifyTime),
  });
}
