// @agent-runtime/client: the Agent Runtime client for browsers and Node. This entry has no
// Node-only import; `@agent-runtime/client/node` adds Node transports (gRPC, TLS, environment).

import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { apiKeyInterceptor } from "./auth.js";
import { AgentRuntimeClient } from "./client.js";

export interface ClientOptions {
  /** The server, for example `https://agents.example.com` (or "/" behind the same origin). */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Use this transport instead of the Connect protocol over fetch (then `baseUrl` is unused). */
  transport?: Transport;
  /** A fetch to use (for example one that sets `credentials`). */
  fetch?: typeof globalThis.fetch;
  /** JSON instead of binary protobuf on the wire. */
  json?: boolean;
  interceptors?: Interceptor[];
}

/** A client over the Connect protocol with fetch (browsers, Node 20+, Deno, Bun). */
export function createClient(options: ClientOptions = {}): AgentRuntimeClient {
  if (options.transport) return new AgentRuntimeClient(options.transport);
  if (!options.baseUrl) throw new TypeError("createClient needs a baseUrl or a transport");
  const interceptors = [...(options.interceptors ?? [])];
  if (options.apiKey) interceptors.unshift(apiKeyInterceptor(options.apiKey));
  const transport = createConnectTransport({
    baseUrl: options.baseUrl,
    useBinaryFormat: !options.json,
    interceptors,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  return new AgentRuntimeClient(transport);
}

export type {
  Block,
  SubagentBlock,
  TodoItem,
  ToolResultBlock,
  ToolUseBlock,
} from "../../../gen/ts/agentruntime/v1/block_pb.js";
export {
  SubagentStatus,
  TodoStatus,
  ToolStatus,
} from "../../../gen/ts/agentruntime/v1/block_pb.js";
export type { SessionEvent } from "../../../gen/ts/agentruntime/v1/event_pb.js";
export type { AgentProfile } from "../../../gen/ts/agentruntime/v1/profile_pb.js";
export {
  ModelProvider,
  PermissionMode,
} from "../../../gen/ts/agentruntime/v1/profile_pb.js";
export type { Secret } from "../../../gen/ts/agentruntime/v1/secret_service_pb.js";
export type {
  PendingToolCall,
  Session,
  ToolDecision,
  Turn,
  Usage,
} from "../../../gen/ts/agentruntime/v1/session_pb.js";
export {
  PendingKind,
  SandboxStatus,
  SessionState,
  ToolDecisionKind,
  TurnOutcome,
} from "../../../gen/ts/agentruntime/v1/session_pb.js";
export { SendPolicy } from "../../../gen/ts/agentruntime/v1/session_service_pb.js";
export type { FileInfo } from "../../../gen/ts/agentruntime/v1/workspace_pb.js";
export type { ToolAnswer } from "./answers.js";
export { apiKeyInterceptor } from "./auth.js";
export { AgentRuntimeClient } from "./client.js";
export { Conversation, type Subagent, type ToolCall } from "./conversation.js";
export { AgentRuntimeError, codeName, type ErrorCodeName, toAgentRuntimeError } from "./errors.js";
export type { RetryOptions, WatchOptions } from "./feed.js";
export { outcomeName, type RunTurnOptions, type TurnInput, TurnRun } from "./turn.js";
