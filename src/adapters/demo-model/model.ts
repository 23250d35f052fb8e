// A deterministic, offline model: the same conversation always gets the same answer, streamed in
// small deltas. It shows the whole agent loop without an API key:
//   step 1 of a turn: a sentence, then Write `notes/demo.md` (content derived from the message);
//   step 2:           a sentence, then Bash `ls -la notes && cat notes/demo.md`;
//   step 3:           a summary quoting the tool results, stop_reason end_turn.
// The step is the number of tool_result blocks since the last user message with text. A tool the
// request does not offer is skipped; with neither, the model just answers in text. A message that
// names an offered tool that is not a built-in one (a profile's custom tool) gets that tool
// called first, once, with `{"request": <the message>}`.
// The provider's own tools (WebSearch, WebFetch: `request.serverTools`) are not offered: the demo
// model cannot reach the web, so a demo profile naming them runs as if it did not. It does no
// compaction or clearing of its own (no `features`): the runtime does both for it.

import { KNOWN_TOOLS } from "../../domain/limits.js";
import {
  type ModelContentBlock,
  ModelError,
  type ModelMessage,
  type ModelProvider,
  type ModelRequest,
  type ModelStepResult,
  type ModelStreamEvent,
  type ModelUsage,
  type StopReason,
} from "../../ports/model.js";
import { planSkill } from "./skill-plan.js";

export const DEMO_NOTE_PATH = "notes/demo.md";
export const DEMO_BASH_COMMAND = `ls -la notes && cat ${DEMO_NOTE_PATH}`;
/** Default pause before each streamed chunk, so a UI shows the text arriving. */
export const DEMO_CHUNK_DELAY_MS = 15;
const JSON_CHUNK_CHARS = 24;
const QUOTE_LIMIT = 1_500;

export interface DemoModelProviderOptions {
  /** Pause before each streamed chunk; default DEMO_CHUNK_DELAY_MS, 0 in tests. */
  chunkDelayMs?: number;
}

interface PlannedStep {
  thinking?: string;
  text: string;
  toolUse?: { name: string; input: Record<string, string> };
  stopReason: StopReason;
}

export class DemoModelProvider implements ModelProvider {
  private readonly chunkDelayMs: number;

  constructor(options: DemoModelProviderOptions = {}) {
    this.chunkDelayMs = options.chunkDelayMs ?? DEMO_CHUNK_DELAY_MS;
  }

  async step(
    request: ModelRequest,
    onEvent: (event: ModelStreamEvent) => void,
  ): Promise<ModelStepResult> {
    const { signal } = request;
    const checkCancelled = () => {
      if (signal?.aborted) throw new ModelError("MODEL_CANCELLED", "The model step was cancelled");
    };
    const pause = async () => {
      if (this.chunkDelayMs > 0) await sleep(this.chunkDelayMs, signal);
      checkCancelled();
    };
    checkCancelled();

    const plan = planStep(request);
    const content: ModelContentBlock[] = [];
    let output = "";

    if (plan.thinking) {
      const index = content.length;
      const signature = `demo-signature-${hash(plan.thinking)}`;
      onEvent({ type: "block_start", index, block: "thinking" });
      for (const chunk of words(plan.thinking)) {
        await pause();
        onEvent({ type: "thinking_delta", index, thinking: chunk });
      }
      onEvent({ type: "signature_delta", index, signature });
      onEvent({ type: "block_stop", index });
      content.push({ type: "thinking", thinking: plan.thinking, signature });
      output += plan.thinking;
    }

    const textIndex = content.length;
    onEvent({ type: "block_start", index: textIndex, block: "text" });
    for (const chunk of words(plan.text)) {
      await pause();
      onEvent({ type: "text_delta", index: textIndex, text: chunk });
    }
    onEvent({ type: "block_stop", index: textIndex });
    content.push({ type: "text", text: plan.text });
    output += plan.text;

    if (plan.toolUse) {
      const index = content.length;
      const id = `toolu_demo_${String(countToolUses(request.messages) + 1).padStart(4, "0")}`;
      const json = JSON.stringify(plan.toolUse.input);
      onEvent({ type: "block_start", index, block: "tool_use", id, name: plan.toolUse.name });
      for (let i = 0; i < json.length; i += JSON_CHUNK_CHARS) {
        await pause();
        onEvent({
          type: "input_json_delta",
          index,
          partialJson: json.slice(i, i + JSON_CHUNK_CHARS),
        });
      }
      onEvent({ type: "block_stop", index });
      content.push({ type: "tool_use", id, name: plan.toolUse.name, input: plan.toolUse.input });
      output += json;
    }

    return {
      message: { role: "assistant", content },
      stopReason: plan.stopReason,
      usage: usageFor(request, output),
      model: request.model || "demo",
    };
  }
}

// ---- The script -------------------------------------------------------------------------------

function planStep(request: ModelRequest): PlannedStep {
  const { messages } = request;
  let turnStart = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message?.role === "user" && message.content.some((block) => block.type === "text")) {
      turnStart = i;
      break;
    }
  }
  const userText =
    turnStart < 0
      ? ""
      : (messages[turnStart]?.content ?? [])
          .flatMap((block) => (block.type === "text" ? [block.text] : []))
          .join("\n")
          .trim();
  const results = toolResultsSince(messages, turnStart + 1);
  const skillStep = planSkill(request, userText, results);
  if (skillStep?.kind === "load") {
    return {
      text: `This asks for the ${skillStep.skill} skill; I'll load it first.`,
      toolUse: { name: "Skill", input: { skill: skillStep.skill } },
      stopReason: "tool_use",
    };
  }
  if (skillStep?.kind === "run") {
    return {
      text: `The skill says to run its script; running it on your text.`,
      toolUse: {
        name: "Bash",
        input: { command: skillStep.command, description: `Run the ${skillStep.skill} skill` },
      },
      stopReason: "tool_use",
    };
  }
  const named = request.tools.find(
    (tool) =>
      !(KNOWN_TOOLS as readonly string[]).includes(tool.name) &&
      !tool.name.startsWith("mcp__") &&
      userText.includes(tool.name),
  )?.name;
  if (named && !results.some((r) => r.name === named)) {
    return {
      text: `You asked for ${named}; calling it.`,
      toolUse: { name: named, input: { request: userText } },
      stopReason: "tool_use",
    };
  }
  const offered = new Set(request.tools.map((tool) => tool.name));
  const plan = (["Write", "Bash"] as const).filter((name) => offered.has(name));
  const step = results.filter((r) => r.name !== named).length;
  const thinking = request.thinking
    ? `Demo reasoning, step ${step + 1}: the message has ${wordCount(userText)} words; ` +
      (step < plan.length ? `next I use ${plan[step]}.` : "time to sum up.")
    : undefined;
  const withThinking = (planned: PlannedStep): PlannedStep =>
    thinking ? { thinking, ...planned } : planned;

  if (plan.length === 0) {
    return withThinking({
      text:
        `Hello from the demo model. You said: "${excerpt(userText, 200)}". ` +
        "This session offers no Write or Bash tool, so I can only answer in text. " +
        "The demo model is scripted and runs offline; no language model was called.",
      stopReason: "end_turn",
    });
  }

  const next = skillStep ? undefined : plan[step];
  if (next === "Write") {
    return withThinking({
      text: `I'll write a short note about your message to \`${DEMO_NOTE_PATH}\`.`,
      toolUse: { name: "Write", input: { file_path: DEMO_NOTE_PATH, content: noteFor(userText) } },
      stopReason: "tool_use",
    });
  }
  if (next === "Bash") {
    const command = plan.includes("Write") ? DEMO_BASH_COMMAND : "pwd && ls -la";
    return withThinking({
      text: "Now let me look at the workspace from the shell.",
      toolUse: {
        name: "Bash",
        input: {
          command,
          description: plan.includes("Write")
            ? "List the notes folder and show the demo note"
            : "Show the working directory and its files",
        },
      },
      stopReason: "tool_use",
    });
  }

  const lines = ["Done. Here is what happened:", ""];
  results.forEach((result, i) => {
    const status = result.isError ? " (failed)" : "";
    lines.push(`${i + 1}. **${result.name}** ${describe(result)}${status}:`);
    lines.push("", "```", excerpt(result.content, QUOTE_LIMIT), "```", "");
  });
  lines.push("This answer came from the demo model: it is scripted and runs offline.");
  return withThinking({ text: lines.join("\n"), stopReason: "end_turn" });
}

interface SeenResult {
  name: string;
  input: unknown;
  content: string;
  isError: boolean;
}

function toolResultsSince(messages: ModelMessage[], from: number): SeenResult[] {
  const uses = new Map<string, { name: string; input: unknown }>();
  for (const message of messages) {
    for (const block of message.content) {
      if (block.type === "tool_use") uses.set(block.id, { name: block.name, input: block.input });
    }
  }
  const results: SeenResult[] = [];
  for (const message of messages.slice(from)) {
    for (const block of message.content) {
      if (block.type !== "tool_result") continue;
      const use = uses.get(block.tool_use_id);
      results.push({
        name: use?.name ?? "tool",
        input: use?.input,
        content: block.content,
        isError: block.is_error === true,
      });
    }
  }
  return results;
}

function describe(result: SeenResult): string {
  const input = (result.input ?? {}) as Record<string, unknown>;
  const target = input.file_path ?? input.command ?? input.skill;
  return typeof target === "string" ? `\`${target}\`` : "";
}

function noteFor(userText: string): string {
  const quoted = (userText || "(no text)")
    .split("\n")
    .map((line) => `> ${line}`)
    .join("\n");
  return [
    "# Demo note",
    "",
    "Written by the demo model (no language model was called).",
    "",
    "## Your message",
    "",
    quoted,
    "",
    "## Stats",
    "",
    `- Characters: ${userText.length}`,
    `- Words: ${wordCount(userText)}`,
    "",
  ].join("\n");
}

function countToolUses(messages: ModelMessage[]): number {
  let count = 0;
  for (const message of messages) {
    for (const block of message.content) if (block.type === "tool_use") count++;
  }
  return count;
}

// ---- Usage ------------------------------------------------------------------------------------

/**
 * Deterministic token counts (4 characters a token), shaped like a cached agent loop: what the
 * previous step sent (system, tools, all but the last message) is read from the cache, the rest
 * is written to it, and 3 uncached tokens remain after the last breakpoint.
 */
function usageFor(request: ModelRequest, output: string): ModelUsage {
  const fixed = request.system.length + JSON.stringify(request.tools).length;
  const messages = request.messages.map((message) => JSON.stringify(message.content).length);
  const all = tokens(fixed + messages.reduce((a, b) => a + b, 0));
  const previous =
    messages.length > 1 ? tokens(fixed + messages.slice(0, -1).reduce((a, b) => a + b, 0)) : 0;
  return {
    inputTokens: 3,
    outputTokens: tokens(output.length),
    cacheReadInputTokens: previous,
    cacheCreationInputTokens: all - previous,
  };
}

function tokens(chars: number): number {
  return Math.ceil(chars / 4);
}

// ---- Helpers ----------------------------------------------------------------------------------

function words(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [text];
}

function wordCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function excerpt(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}…`;
}

function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ModelError("MODEL_CANCELLED", "The model step was cancelled"));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
