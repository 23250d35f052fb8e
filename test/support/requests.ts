// Reading what the model was sent: the requests FakeAnthropic recorded.

import type { RecordedRequest } from "./fake-anthropic.js";

/** A request's system prompt as one text. */
export function systemOf(req: RecordedRequest): string {
  const s = req.body.system as unknown;
  if (typeof s === "string") return s;
  return ((s as Array<{ text: string }> | undefined) ?? []).map((b) => b.text).join("\n");
}

export interface SentToolResult {
  tool_use_id: string;
  /** A string, or content blocks (text, images). */
  content: string;
  is_error?: boolean;
}

/** The tool results sent in a request's last message. */
export function toolResults(req: RecordedRequest): SentToolResult[] {
  const last = req.body.messages?.at(-1);
  return (Array.isArray(last?.content) ? last.content : []).filter(
    (c: { type: string }) => c.type === "tool_result",
  );
}

/** A tool result's text, whether sent as a string or as text blocks. */
export function resultText(r: { content: unknown }): string {
  return typeof r.content === "string"
    ? r.content
    : (r.content as Array<{ text?: string }>).map((c) => c.text ?? "").join("");
}

/** The names of the tools a request offered. */
export function toolNames(req: RecordedRequest): string[] {
  return (req.body.tools ?? []).map((t) => t.name as string);
}
