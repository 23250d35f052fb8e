// Blocks and events, domain -> proto (the feed is only ever written by the server).

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { BlockSchema, type Block as PbBlock } from "#gen/block_pb.js";
import {
  McpServerState,
  type SessionEvent as PbSessionEvent,
  SessionEventSchema,
} from "#gen/event_pb.js";
import type { Block, BlockContent, SessionEvent } from "../domain/types.js";
import {
  fileInfoToProto,
  sandboxStatuses,
  sessionStates,
  subagentStatuses,
  toolStatuses,
  ts,
  turnToProto,
  usageToProto,
} from "./mapping.js";
import { todosToProto } from "./profile-extras-mapping.js";
import { decisionToProto, pendingCallToProto } from "./waiting-mapping.js";

type BlockInit = MessageInitShape<typeof BlockSchema>;
type EventInit = MessageInitShape<typeof SessionEventSchema>;

function blockContentToProto(c: BlockContent): NonNullable<BlockInit["content"]> {
  switch (c.type) {
    case "user_message":
      return {
        case: "userMessage",
        value: {
          text: c.text,
          attachments: c.attachments,
          ...(c.command
            ? {
                command: c.command.name,
                commandArguments: c.command.arguments,
                expandedText: c.command.expandedText,
              }
            : {}),
        },
      };
    case "assistant_text":
      return { case: "assistantText", value: { text: c.text, citations: c.citations ?? [] } };
    case "thinking":
      return { case: "thinking", value: { thinking: c.thinking, signature: c.signature } };
    case "tool_use":
      return {
        case: "toolUse",
        value: {
          $typeName: "agentruntime.v1.ToolUseBlock",
          toolUseId: c.toolUseId,
          toolName: c.toolName,
          inputJson: c.inputJson,
          status: toolStatuses.encode(c.status),
          serverTool: c.serverTool ?? false,
        },
      };
    case "tool_result":
      return {
        case: "toolResult",
        value: {
          $typeName: "agentruntime.v1.ToolResultBlock",
          toolUseId: c.toolUseId,
          output: c.output,
          isError: c.isError,
          duration: durationFromMs(c.durationMs),
        },
      };
    case "subagent":
      return {
        case: "subagent",
        value: {
          $typeName: "agentruntime.v1.SubagentBlock",
          subagentId: c.subagentId,
          name: c.name,
          prompt: c.prompt,
          status: subagentStatuses.encode(c.status),
          result: c.result,
          toolUseId: c.toolUseId,
        },
      };
    case "system":
      return { case: "system", value: { text: c.text } };
    case "error":
      return { case: "error", value: { reason: c.reason, message: c.message } };
    case "todo_list":
      return {
        case: "todoList",
        value: { items: todosToProto(c.items), toolUseId: c.toolUseId },
      };
    case "compaction":
      return {
        case: "compaction",
        value: {
          summary: c.summary,
          tokensBefore: BigInt(c.tokensBefore),
          messagesCompacted: c.messagesCompacted,
          method: c.method,
        },
      };
    case "web_search_result":
      return {
        case: "webSearchResult",
        value: { toolUseId: c.toolUseId, results: c.results, errorCode: c.errorCode },
      };
    case "web_fetch_result":
      return {
        case: "webFetchResult",
        value: {
          toolUseId: c.toolUseId,
          url: c.url,
          title: c.title,
          content: c.content,
          errorCode: c.errorCode,
        },
      };
  }
}

export function blockToProto(b: Block): PbBlock {
  return create(BlockSchema, {
    id: b.id,
    turnId: b.turnId,
    subagentId: b.subagentId ?? "",
    createTime: ts(b.createTime),
    content: blockContentToProto(b.content),
  });
}

export function eventToProto(e: SessionEvent): PbSessionEvent {
  const p = e.payload;
  let payload: NonNullable<EventInit["payload"]>;
  switch (p.type) {
    case "block_started":
      payload = { case: "blockStarted", value: { block: blockToProto(p.block) } };
      break;
    case "block_delta":
      payload = {
        case: "blockDelta",
        value: {
          blockId: p.blockId,
          delta: {
            case: (
              {
                text: "text",
                thinking: "thinking",
                input_json: "inputJson",
                output: "output",
              } as const
            )[p.delta.kind],
            value: p.delta.value,
          },
        },
      };
      break;
    case "block_updated":
      payload = { case: "blockUpdated", value: { block: blockToProto(p.block) } };
      break;
    case "block_completed":
      payload = { case: "blockCompleted", value: { block: blockToProto(p.block) } };
      break;
    case "status_changed":
      payload = {
        case: "statusChanged",
        value: {
          state: sessionStates.encode(p.state),
          sandboxStatus: sandboxStatuses.encode(p.sandboxStatus),
          message: p.message,
        },
      };
      break;
    case "usage_updated":
      payload = {
        case: "usageUpdated",
        value: {
          step: usageToProto(p.step),
          turn: usageToProto(p.turn),
          session: usageToProto(p.session),
          model: p.model,
        },
      };
      break;
    case "file_created":
      payload = { case: "fileCreated", value: { file: fileInfoToProto(p.file) } };
      break;
    case "file_modified":
      payload = { case: "fileModified", value: { file: fileInfoToProto(p.file) } };
      break;
    case "file_deleted":
      payload = { case: "fileDeleted", value: { path: p.path } };
      break;
    case "subagent_discovered":
      payload = {
        case: "subagentDiscovered",
        value: {
          subagentId: p.subagentId,
          name: p.name,
          description: p.description,
          prompt: p.prompt,
          toolUseId: p.toolUseId,
        },
      };
      break;
    case "subagent_completed":
      payload = {
        case: "subagentCompleted",
        value: {
          subagentId: p.subagentId,
          status: subagentStatuses.encode(p.status),
          result: p.result,
        },
      };
      break;
    case "turn_started":
      payload = { case: "turnStarted", value: { turn: turnToProto(p.turn) } };
      break;
    case "turn_completed":
      payload = {
        case: "turnCompleted",
        value: { turn: turnToProto(p.turn), reason: p.reason },
      };
      break;
    case "error":
      payload = {
        case: "error",
        value: {
          reason: p.reason,
          message: p.message,
          retryable: p.retryable,
        },
      };
      break;
    case "todos_updated":
      payload = { case: "todosUpdated", value: { items: todosToProto(p.items) } };
      break;
    case "mcp_server_status":
      payload = {
        case: "mcpServerStatus",
        value: {
          name: p.name,
          state: p.state === "connected" ? McpServerState.CONNECTED : McpServerState.FAILED,
          message: p.message,
          tools: p.tools,
        },
      };
      break;
    case "context_compacted":
      payload = {
        case: "contextCompacted",
        value: {
          blockId: p.blockId,
          tokensBefore: BigInt(p.tokensBefore),
          messagesCompacted: p.messagesCompacted,
        },
      };
      break;
    case "tool_call_waiting":
      payload = { case: "toolCallWaiting", value: { call: pendingCallToProto(p.call) } };
      break;
    case "tool_call_answered":
      payload = { case: "toolCallAnswered", value: { decision: decisionToProto(p.decision) } };
      break;
    case "budget_exceeded":
      payload = {
        case: "budgetExceeded",
        value: {
          scope: p.scope,
          limit: p.limit,
          limitValue: p.limit.endsWith("_usd") ? p.limitValue / 1_000_000 : p.limitValue,
          used: usageToProto(p.used),
        },
      };
      break;
    case "context_edited":
      payload = {
        case: "contextEdited",
        value: {
          clearedToolResults: p.clearedToolResults,
          clearedInputTokens: BigInt(p.clearedInputTokens),
        },
      };
      break;
  }
  return create(SessionEventSchema, {
    sessionId: e.sessionId,
    sequence: BigInt(e.sequence),
    time: ts(e.time),
    turnId: e.turnId ?? "",
    subagentId: e.subagentId ?? "",
    payload,
  });
}
