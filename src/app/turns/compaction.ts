// Keeping a long conversation within the model's context window (the profile's ContextSettings):
// - clearing old tool results once the input passes `clearToolResultsThresholdTokens`;
// - compacting the conversation once it passes `compactionThresholdTokens` (default: 80% of the
//   model's window).
// Where the provider does it itself (ModelProvider.features), the request asks for it and the
// provider's response says what it did. Elsewhere the runtime does it here, between steps:
// clearing replaces old tool results' content with a note; compaction asks the model for a
// summary in one extra call and replaces the conversation with the summary and the latest
// exchange. Only the model's context changes: every block stays listed (ListMessages), and the
// system prompt is sent whole on every step anyway.

import type { ContextSettings, TodoItem } from "../../domain/types.js";
import type {
  ModelContentBlock,
  ModelContextManagement,
  ModelFeatures,
  ModelMessage,
  ModelProvider,
  ModelUsage,
} from "../../ports/model.js";
import { contextWindowOf } from "../shared/pricing.js";

/** Tool results kept when a profile says 0. */
export const DEFAULT_CLEAR_KEEP = 3;
/** The share of the window past which a conversation is compacted when a profile says 0. */
export const DEFAULT_COMPACTION_SHARE = 0.8;
/** What a cleared tool result says instead. */
export const CLEARED_NOTE = "[cleared: an old tool result was removed to save context]";
/** Output allowance of the summarising call. */
export const SUMMARY_MAX_OUTPUT_TOKENS = 8_192;
/** Characters per token when a conversation's size is estimated. */
const CHARS_PER_TOKEN = 4;

export const SUMMARY_INSTRUCTIONS =
  "Your context window is nearly full, so this conversation will be replaced by your summary " +
  "of it. Write that summary now, as text only (call no tool): the user's requests and goals, " +
  "what was done and found (files read and changed, commands run and what they showed, " +
  "decisions and why), errors met and how they were fixed, what is still open, and the next " +
  "step. Be specific: keep file paths, names and values. Leave nothing out that is needed to " +
  "continue the work.";

/** Placed before a provider's compaction block, which must not be the first message. */
export const SERVER_COMPACTED_NOTE = "[The conversation before this point was compacted.]";

/** What a step does about its context, from the profile's settings and the provider. */
export interface ContextPlan {
  /** 0: never compact. */
  compactAtTokens: number;
  serverCompaction: boolean;
  clear?: { triggerTokens: number; keep: number };
  serverClearing: boolean;
}

export function contextPlan(
  settings: ContextSettings | undefined,
  model: string,
  features: ModelFeatures | undefined,
): ContextPlan {
  const compactAtTokens = settings?.compactionDisabled
    ? 0
    : settings?.compactionThresholdTokens ||
      Math.floor(contextWindowOf(model) * DEFAULT_COMPACTION_SHARE);
  const clear = settings?.clearToolResultsThresholdTokens
    ? {
        triggerTokens: settings.clearToolResultsThresholdTokens,
        keep: settings.clearToolResultsKeep || DEFAULT_CLEAR_KEEP,
      }
    : undefined;
  return {
    compactAtTokens,
    serverCompaction: compactAtTokens > 0 && !!features?.serverCompaction,
    ...(clear ? { clear } : {}),
    serverClearing: !!clear && !!features?.serverToolClearing,
  };
}

/** What the request asks the provider to do itself. */
export function requestContextManagement(plan: ContextPlan): ModelContextManagement | undefined {
  const m: ModelContextManagement = {};
  if (plan.serverCompaction) m.compactAtTokens = plan.compactAtTokens;
  if (plan.serverClearing && plan.clear) m.clearToolUses = plan.clear;
  return m.compactAtTokens || m.clearToolUses ? m : undefined;
}

/** What an image costs in the estimate: about a 1,100 x 1,100 pixel image. */
const IMAGE_TOKENS = 1_600;
/** Base64 characters of a PDF per token in the estimate (a page of ~100 KB is ~2,000 tokens). */
const PDF_BASE64_CHARS_PER_TOKEN = 64;

/**
 * A rough size of a request in tokens: characters / 4, but images at IMAGE_TOKENS each and PDFs
 * by their size, since their base64 data is not read as text.
 */
export function estimateTokens(messages: ModelMessage[], system: string): number {
  let chars = system.length;
  let tokens = 0;
  for (const m of messages) {
    for (const c of m.content) {
      if (c.type === "image") tokens += IMAGE_TOKENS;
      else if (c.type === "document" && c.source.type === "base64")
        tokens += Math.ceil(c.source.data.length / PDF_BASE64_CHARS_PER_TOKEN);
      else chars += JSON.stringify(c).length;
    }
  }
  return tokens + Math.ceil(chars / CHARS_PER_TOKEN);
}

/**
 * Replaces the content of every tool result but the last `keep` with CLEARED_NOTE; the
 * tool_use/tool_result pairs stay. Returns how many were cleared and the tokens saved (estimate).
 */
export function clearOldToolResults(
  messages: ModelMessage[],
  keep: number,
): { cleared: number; clearedTokens: number } {
  const results: Extract<ModelContentBlock, { type: "tool_result" }>[] = [];
  for (const m of messages) {
    for (const c of m.content) if (c.type === "tool_result") results.push(c);
  }
  let cleared = 0;
  let chars = 0;
  for (const r of results.slice(0, Math.max(0, results.length - keep))) {
    if (r.content === CLEARED_NOTE) continue;
    chars += r.content.length - CLEARED_NOTE.length;
    r.content = CLEARED_NOTE;
    cleared++;
  }
  return { cleared, clearedTokens: Math.max(0, Math.ceil(chars / CHARS_PER_TOKEN)) };
}

export interface RuntimeCompaction {
  summary: string;
  messagesCompacted: number;
}

/**
 * The runtime's own compaction: one model call for a summary of the conversation, then the
 * conversation becomes [a user message with the summary (and the to-do list), the latest
 * exchange as needed to stay valid]. `messages` is changed in place. Undefined when there is too
 * little to compact. Rejects with the model's error (the conversation is then unchanged).
 */
export async function compactConversation(
  messages: ModelMessage[],
  o: {
    model: ModelProvider;
    modelId: string;
    todos: TodoItem[] | undefined;
    signal: AbortSignal;
    /** The summarising call's usage, to be counted like a step's. */
    onUsage: (usage: ModelUsage, model: string) => void;
  },
): Promise<RuntimeCompaction | undefined> {
  const kept = latestExchange(messages);
  if (messages.length - kept.length < 2) return undefined;
  const result = await o.model.step(
    {
      model: o.modelId,
      system: "You summarise a conversation between a user and an AI agent so the agent can go on.",
      messages: withInstruction(messages),
      tools: [],
      maxOutputTokens: SUMMARY_MAX_OUTPUT_TOKENS,
      signal: o.signal,
    },
    () => {},
  );
  o.onUsage(result.usage, result.model);
  const summary = result.message.content
    .flatMap((c) => (c.type === "text" ? [c.text] : []))
    .join("\n")
    .trim();
  if (!summary) return undefined;
  const intro: ModelContentBlock = { type: "text", text: summaryText(summary, o.todos) };
  const first = kept[0];
  const next: ModelMessage[] =
    first?.role === "user"
      ? [{ role: "user", content: [intro, ...first.content] }, ...kept.slice(1)]
      : [{ role: "user", content: [intro] }, ...kept];
  const messagesCompacted = messages.length - kept.length;
  messages.splice(0, messages.length, ...next);
  return { summary, messagesCompacted };
}

/**
 * The end of the conversation the next step needs verbatim: the last user message, with the
 * assistant message before it when it answers that message's tool calls; or a last assistant
 * message (a paused turn), which the next step continues.
 */
function latestExchange(messages: ModelMessage[]): ModelMessage[] {
  const last = messages.at(-1);
  if (!last) return [];
  if (last.role === "assistant") return [last];
  const answersCalls = last.content.some((c) => c.type === "tool_result");
  const prev = messages.at(-2);
  return answersCalls && prev?.role === "assistant" ? [prev, last] : [last];
}

function withInstruction(messages: ModelMessage[]): ModelMessage[] {
  const ask: ModelContentBlock = { type: "text", text: SUMMARY_INSTRUCTIONS };
  const last = messages.at(-1);
  if (last?.role === "user") {
    return [...messages.slice(0, -1), { role: "user", content: [...last.content, ask] }];
  }
  return [...messages, { role: "user", content: [ask] }];
}

function summaryText(summary: string, todos: TodoItem[] | undefined): string {
  let text =
    "This conversation was compacted to save context. Summary of everything before this " +
    `point:\n\n${summary}`;
  if (todos && todos.length > 0) {
    text += `\n\nThe current to-do list:\n${todos.map((t) => `- [${t.status}] ${t.content}`).join("\n")}`;
  }
  return text;
}

/**
 * After the provider compacted: it ignores everything before its compaction block, so the
 * messages before the assistant message holding it are dropped, and a short user message goes
 * first (a conversation starts with the user). Returns how many messages were dropped.
 */
export function applyServerCompaction(messages: ModelMessage[]): number {
  const at = messages.findLastIndex(
    (m) => m.role === "assistant" && m.content.some((c) => c.type === "compaction"),
  );
  if (at < 1) return 0;
  const dropped = at;
  messages.splice(0, at, {
    role: "user",
    content: [{ type: "text", text: SERVER_COMPACTED_NOTE }],
  });
  return dropped;
}
