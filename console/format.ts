// Small display helpers: enum values as words, money, token counts, sizes.

import {
  SandboxStatus,
  SessionState,
  SubagentStatus,
  TodoStatus,
  ToolStatus,
  type Usage,
} from "./deps.js";

/** `SESSION_STATE_RUNNING` style enum value as a lowercase word ("running"). */
function word(names: Record<number, string>, value: number): string {
  return (names[value] ?? "unspecified").toLowerCase().replaceAll("_", " ");
}

export const stateName = (s: SessionState) => word(SessionState, s);
export const sandboxName = (s: SandboxStatus) => word(SandboxStatus, s);
export const toolStatusName = (s: ToolStatus) => word(ToolStatus, s);
export const subagentStatusName = (s: SubagentStatus) => word(SubagentStatus, s);
export const todoStatusName = (s: TodoStatus) => word(TodoStatus, s);

export function usd(value: number): string {
  return `$${value.toFixed(value >= 1 ? 2 : 4)}`;
}

export function tokens(usage: Usage | undefined): string {
  if (!usage) return "0 in / 0 out";
  return `${Number(usage.inputTokens).toLocaleString("en")} in / ${Number(usage.outputTokens).toLocaleString("en")} out`;
}

export function size(bytes: number | bigint): string {
  const n = Number(bytes);
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Pretty JSON when the text is JSON, else the text as it is. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** A short summary of a tool call's input: its command, path or first value. */
export function inputSummary(input: unknown): string {
  if (!input || typeof input !== "object") return "";
  const o = input as Record<string, unknown>;
  const value = o.command ?? o.file_path ?? o.path ?? o.pattern ?? o.url ?? Object.values(o)[0];
  const text = typeof value === "string" ? value : JSON.stringify(value ?? "");
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}
