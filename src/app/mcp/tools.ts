// An MCP server's tool as one of the agent's tools: `mcp__<server>__<tool>`, run through the same
// pipeline as the built-in ones. Failures, timeouts and `isError` results go back to the model as
// error results; text and images of the result become text, capped like other tools' output.

import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { MCP_LIMITS } from "../../domain/limits.js";
import { inSpan } from "../observe/tracing.js";
import { HeadTailBuffer } from "../tools/bash.js";
import type { Tool, ToolResult } from "../tools/types.js";

/** What the model may call a tool: the Messages API's tool name rule. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

export const mcpToolName = (server: string, tool: string) => `mcp__${server}__${tool}`;

export function isValidToolName(name: string): boolean {
  return TOOL_NAME.test(name);
}

export interface McpToolInfo {
  name: string;
  description?: string | undefined;
  inputSchema: Record<string, unknown>;
}

/** One MCP result content item, as text for the model. */
function contentText(item: Record<string, unknown>): string {
  switch (item.type) {
    case "text":
      return String(item.text ?? "");
    case "image":
    case "audio": {
      const bytes = Buffer.byteLength(String(item.data ?? ""), "base64");
      return `[${item.type}: ${String(item.mimeType ?? "unknown type")}, ${bytes} bytes, not shown]`;
    }
    case "resource": {
      const r = (item.resource ?? {}) as Record<string, unknown>;
      if (typeof r.text === "string") return `[resource ${String(r.uri ?? "")}]\n${r.text}`;
      return `[resource ${String(r.uri ?? "")}: ${String(r.mimeType ?? "binary")}, not shown]`;
    }
    case "resource_link":
      return `[resource link: ${String(item.uri ?? "")}${item.name ? ` (${String(item.name)})` : ""}]`;
    default:
      return `[${String(item.type)} content, not shown]`;
  }
}

/** An MCP tool result as the tool result the model gets. */
export function resultText(result: Record<string, unknown>): ToolResult {
  const out = new HeadTailBuffer(MCP_LIMITS.maxResultChars);
  const content = Array.isArray(result.content)
    ? (result.content as Record<string, unknown>[])
    : [];
  const parts = content.map(contentText);
  if (parts.length === 0 && result.structuredContent !== undefined) {
    parts.push(JSON.stringify(result.structuredContent));
  }
  if (parts.length === 0 && result.toolResult !== undefined) {
    parts.push(JSON.stringify(result.toolResult)); // protocol 2024-10-07
  }
  out.push(parts.join("\n") || "(no output)");
  let text = out.toString();
  if (out.length > MCP_LIMITS.maxResultChars) {
    text +=
      `\n[Output was ${out.length} characters; only the first and last ` +
      `${Math.floor(MCP_LIMITS.maxResultChars / 2)} are shown.]`;
  }
  return { output: text, isError: result.isError === true };
}

/** The agent's tool for `tool` of server `server`, called through `client`. */
export function mcpTool(
  server: string,
  tool: McpToolInfo,
  client: () => Client | undefined,
  /** The end of the server's stderr, for failure messages. */
  stderr: () => string = () => "",
): Tool {
  const name = mcpToolName(server, tool.name);
  return {
    name,
    description: tool.description || `Tool ${tool.name} of MCP server ${server}.`,
    inputSchema: tool.inputSchema,
    async run(input, context): Promise<ToolResult> {
      const c = client();
      if (!c) {
        const tail = stderr();
        return {
          output: `MCP server ${server} is not running.${tail ? ` Its stderr: ${tail}` : ""}`,
          isError: true,
        };
      }
      const args =
        input && typeof input === "object" && !Array.isArray(input)
          ? (input as Record<string, unknown>)
          : {};
      try {
        const span = { "mcp.server": server, "mcp.tool": tool.name };
        const result = await inSpan(`mcp tools/call ${tool.name}`, span, () =>
          c.callTool({ name: tool.name, arguments: args }, undefined, {
            signal: context.signal,
            timeout: MCP_LIMITS.toolCallTimeoutMs,
          }),
        );
        return resultText(result as Record<string, unknown>);
      } catch (err) {
        if (context.signal.aborted) throw context.signal.reason;
        const why = err instanceof Error ? err.message : String(err);
        const timedOut = /timed out/i.test(why);
        const tail = stderr();
        return {
          output: timedOut
            ? `MCP tool ${name} timed out after ${MCP_LIMITS.toolCallTimeoutMs / 1000} s.`
            : `MCP tool ${name} failed: ${why}${tail ? `\nServer stderr: ${tail}` : ""}`,
          isError: true,
        };
      }
    },
  };
}
