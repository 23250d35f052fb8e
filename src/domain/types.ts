// What a profile, session, turn, block and event are. No imports of generated code or transports:
// the proto <-> domain mapping lives in src/transport.

import type {
  Command,
  ContextSettings,
  Dependencies,
  FileContent,
  InstructionsSettings,
  McpServer,
  Skill,
} from "./profile-extras.js";
import type { Usage } from "./usage.js";
import type {
  Budget,
  BudgetScope,
  CustomTool,
  PendingToolCall,
  PermissionSettings,
  ToolDecision,
} from "./waiting.js";

export * from "./profile-extras.js";
export * from "./usage.js";
export * from "./waiting.js";

export type ModelProviderKind = "anthropic" | "demo";
export type SandboxProviderKind = "default" | "local" | "modal";

export interface SandboxSettings {
  provider: SandboxProviderKind;
  networkAllowed: boolean;
  env: Record<string, string>;
  /** Container image (Modal); empty for the provider default. */
  image: string;
  cpu: number;
  memoryMib: number;
  providerOptions: Record<string, string>;
  /** Environment variables whose value is a tenant secret: variable -> secret name. */
  secretEnv?: Record<string, string>;
}

export interface SubagentDefinition {
  name: string;
  description: string;
  prompt: string;
  tools: string[];
  model: string;
}

export interface ThinkingSettings {
  enabled: boolean;
  budgetTokens: number;
}

export interface AgentProfile {
  id: string;
  tenantId: string;
  name: string;
  description: string;
  systemPrompt: string;
  modelProvider: ModelProviderKind;
  model: string;
  tools: string[];
  maxTurns: number;
  subagents: SubagentDefinition[];
  defaultFiles: FileContent[];
  sandbox: SandboxSettings;
  thinking: ThinkingSettings;
  maxOutputTokens: number;
  // Absent on profiles stored before they existed: read through `profileExtras`.
  instructions?: InstructionsSettings;
  skills?: Skill[];
  commands?: Command[];
  mcpServers?: McpServer[];
  dependencies?: Dependencies;
  context?: ContextSettings;
  // Absent on profiles stored before they existed: allow everything, no custom tools, no limits.
  permissions?: PermissionSettings;
  customTools?: CustomTool[];
  budget?: Budget;
  createTime: Date;
  updateTime: Date;
  /** The create request's request_id, for idempotent retries. */
  requestId?: string;
}

/** A tenant's named secret. Its value never leaves the server but to a sandbox or MCP server. */
export interface Secret {
  tenantId: string;
  name: string;
  value: string;
  createTime: Date;
  updateTime: Date;
}

export type TodoStatus = "pending" | "in_progress" | "completed";

/** One item of the agent's to-do list (Claude Code's TodoWrite). */
export interface TodoItem {
  content: string;
  status: TodoStatus;
  activeForm: string;
}

export interface Citation {
  url: string;
  title: string;
  citedText: string;
}

export type SessionState = "idle" | "running" | "waiting";
export type SandboxStatus = "none" | "starting" | "ready" | "terminated" | "failed";
export type TurnOutcome =
  | "completed"
  | "cancelled"
  | "failed"
  | "interrupted"
  | "max_turns"
  | "budget_exceeded";

export interface Turn {
  id: string;
  userBlockId: string;
  startTime: Date;
  outcome?: TurnOutcome;
  endTime?: Date;
  usage: Usage;
  /**
   * Where the turn's events begin: the feed's next sequence when the turn was claimed (stored
   * before its turn_started event, so recovery knows where to look for it).
   */
  startSequence?: number;
}

export interface Attachment {
  name: string;
  mediaType: string;
  data: Uint8Array;
}

/** A message waiting for its turn; persisted so a restart does not lose it. */
export interface QueuedMessage {
  turnId: string;
  text: string;
  attachments: Attachment[];
  enqueueTime: Date;
  /** CancelTurn reached it before it started: it ends as cancelled when its turn comes. */
  cancelRequested?: boolean;
  /**
   * Sent with policy STEER into this running turn: the turn takes it at its next model step
   * (and drops it from the queue); if the turn ends first, it runs as a turn of its own.
   */
  steerTurnId?: string;
  /** Sent with policy STEER or INTERRUPT: placed before the messages queued without one. */
  runsNext?: true;
}

export interface SessionOptions {
  model: string;
  /** Overrides the profile's limits (a limit left 0 takes the profile's). */
  budget?: Budget;
}

/** A session as stored. What runs right now (sandbox, loaded) is the session manager's. */
/**
 * A replica's hold on a session: its owner until `expiresAt`. `token` grows with every new
 * holder; the holder's writes carry it as their fence, and the store refuses a write whose fence
 * is older than the session's current token.
 */
export interface Lease {
  owner: string;
  token: number;
  expiresAt: Date;
}

export interface SessionRecord {
  id: string;
  tenantId: string;
  agentProfileId: string;
  name: string;
  metadata: Record<string, string>;
  options: SessionOptions;
  state: SessionState;
  usage: Usage;
  /** Sequence of the last event written; the next event gets lastSequence + 1. */
  lastSequence: number;
  /**
   * The turn claimed to run: set (with its startSequence) before its first event is written and
   * cleared after its turn_completed is stored. Set on a record at start means recovery decides,
   * from the feed, whether it never started, completed, or was interrupted.
   */
  currentTurn?: Turn;
  /**
   * Every accepted message whose turn has not completed, oldest first; the head is the running
   * turn's when `currentTurn` is set. A message leaves only with its turn's turn_completed.
   */
  queuedMessages: QueuedMessage[];
  /**
   * Set while workspace files are stored whose events may not be in the feed yet (a sync or a
   * file call between saving files and storing their events). Set on a record at start means
   * recovery compares the stored files with the feed and writes the missing events.
   */
  fileEventsPending?: true;
  /** Tool calls of the current turn waiting for the application, oldest first. */
  pendingToolCalls?: PendingToolCall[];
  /** Rules answers allowed for the rest of the session (`always_allow_rule`). */
  sessionAllowRules?: string[];
  /** Set while the session's turns wait for a budget to be raised: which one. */
  budgetWait?: { scope: BudgetScope; limit: string };
  /** The current turn's step that waits for answers to its tool calls (see ParkedStep). */
  parked?: ParkedStep;
  /**
   * Answers taken (their calls left pendingToolCalls in the same write) and not yet in the
   * session's decision log (DecisionStore), oldest first; removed once appended.
   */
  unloggedDecisions?: ToolDecision[];
  /**
   * Earlier versions' copy of the latest answers (at most 200, texts cut): moved to the decision
   * log like `unloggedDecisions` (and removed) when the outbox is next completed. Not written.
   */
  toolDecisions?: ToolDecision[];
  /** The agent's to-do list as its last TodoWrite left it. */
  todos?: TodoItem[];
  /** The sandbox last used, so it can be found again after a restart. */
  sandbox?: { provider: string; sandboxId: string };
  /** The replica that runs the session, while one does (never written by updates). */
  lease?: Lease;
  createTime: Date;
  updateTime: Date;
  lastActivityTime: Date;
  requestId?: string;
}

export type ToolStatus =
  | "pending"
  | "running"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "waiting"
  | "denied";
export type SubagentStatus = "running" | "completed" | "failed" | "cancelled";

export type BlockContent =
  | {
      type: "user_message";
      /** What the user typed. */
      text: string;
      attachments: Attachment[];
      /** A slash command the text ran, its arguments, and what the model got. */
      command?: { name: string; arguments: string; expandedText: string };
    }
  | { type: "assistant_text"; text: string; citations?: Citation[] }
  | { type: "thinking"; thinking: string; signature: string }
  | {
      type: "tool_use";
      toolUseId: string;
      toolName: string;
      inputJson: string;
      status: ToolStatus;
      /** Run by the model provider (WebSearch, WebFetch). */
      serverTool?: boolean;
    }
  | { type: "tool_result"; toolUseId: string; output: string; isError: boolean; durationMs: number }
  | {
      type: "subagent";
      subagentId: string;
      name: string;
      prompt: string;
      status: SubagentStatus;
      result: string;
      toolUseId: string;
    }
  | { type: "system"; text: string }
  | { type: "error"; reason: string; message: string }
  | { type: "todo_list"; items: TodoItem[]; toolUseId: string }
  | {
      type: "compaction";
      summary: string;
      tokensBefore: number;
      messagesCompacted: number;
      method: "server" | "runtime";
    }
  | {
      type: "web_search_result";
      toolUseId: string;
      results: { url: string; title: string; pageAge: string }[];
      errorCode: string;
    }
  | {
      type: "web_fetch_result";
      toolUseId: string;
      url: string;
      title: string;
      content: string;
      errorCode: string;
    };

export interface Block {
  id: string;
  turnId: string;
  subagentId?: string;
  createTime: Date;
  /** The sequence of the event that started the block: the conversation's order. */
  sequence: number;
  content: BlockContent;
}

export interface FileInfo {
  path: string;
  size: number;
  sha256: string;
  modifyTime: Date;
}

export type BlockDelta =
  | { kind: "text"; value: string }
  | { kind: "thinking"; value: string }
  | { kind: "input_json"; value: string }
  | { kind: "output"; value: string };

export type EventPayload =
  | { type: "block_started"; block: Block }
  | { type: "block_delta"; blockId: string; delta: BlockDelta }
  | { type: "block_updated"; block: Block }
  | { type: "block_completed"; block: Block }
  | { type: "status_changed"; state: SessionState; sandboxStatus: SandboxStatus; message: string }
  | { type: "usage_updated"; step: Usage; turn: Usage; session: Usage; model: string }
  | { type: "file_created"; file: FileInfo }
  | { type: "file_modified"; file: FileInfo }
  | { type: "file_deleted"; path: string }
  | {
      type: "subagent_discovered";
      subagentId: string;
      name: string;
      description: string;
      prompt: string;
      toolUseId: string;
    }
  | { type: "subagent_completed"; subagentId: string; status: SubagentStatus; result: string }
  | { type: "turn_started"; turn: Turn }
  | { type: "turn_completed"; turn: Turn; reason: string }
  | { type: "error"; reason: string; message: string; retryable: boolean }
  | { type: "todos_updated"; items: TodoItem[] }
  | {
      type: "mcp_server_status";
      name: string;
      state: "connected" | "failed";
      message: string;
      tools: string[];
    }
  | { type: "context_compacted"; blockId: string; tokensBefore: number; messagesCompacted: number }
  | { type: "context_edited"; clearedToolResults: number; clearedInputTokens: number }
  | { type: "tool_call_waiting"; call: PendingToolCall }
  | { type: "tool_call_answered"; decision: ToolDecision }
  | {
      type: "budget_exceeded";
      scope: BudgetScope;
      limit: string;
      /** The limit in its unit: micro-dollars for cost limits, tokens for token limits. */
      limitValue: number;
      used: Usage;
    };

export interface SessionEvent {
  sessionId: string;
  sequence: number;
  time: Date;
  turnId?: string;
  subagentId?: string;
  payload: EventPayload;
}

/**
 * The step of the current turn that waits for answers: kept on the record so the turn goes on
 * after an unload or a restart. The step's assistant message and the results of its calls that
 * already ran are in the transcript; `toolUseBlocks` are the waiting calls' blocks (open in the
 * feed); `answers` are given answers not applied yet.
 */
export interface ParkedStep {
  turnId: string;
  toolUseBlocks: Block[];
  answers: ToolDecision[];
  /** CancelTurn reached the parked turn: it ends as cancelled (why), its calls not run. */
  cancelled?: string;
}
