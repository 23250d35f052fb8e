// The runtime's own context management, function by function: which method a model gets, what a
// compacted conversation keeps mid tool loop, the to-do list in the summary, clearing.

import { describe, expect, it } from "vitest";
import { anthropicFeatures } from "../src/adapters/anthropic/features.js";
import { DemoModelProvider } from "../src/adapters/demo-model/model.js";
import { contextWindowOf } from "../src/app/shared/pricing.js";
import {
  applyServerCompaction,
  CLEARED_NOTE,
  clearOldToolResults,
  compactConversation,
  contextPlan,
  estimateTokens,
  requestContextManagement,
  SERVER_COMPACTED_NOTE,
} from "../src/app/turns/compaction.js";
import type { ModelMessage, ModelProvider, ModelRequest } from "../src/ports/model.js";

const settings = (over: Partial<Parameters<typeof contextPlan>[0] & object> = {}) => ({
  compactionThresholdTokens: 0,
  compactionDisabled: false,
  clearToolResultsThresholdTokens: 0,
  clearToolResultsKeep: 0,
  ...over,
});

const toolTurn = (id: string, output: string): ModelMessage[] => [
  { role: "assistant", content: [{ type: "tool_use", id, name: "Bash", input: { command: id } }] },
  { role: "user", content: [{ type: "tool_result", tool_use_id: id, content: output }] },
];

describe("contextPlan", () => {
  it("defaults to 80% of the model's window, by the API where the model has compaction", () => {
    expect(contextWindowOf("claude-sonnet-5-5")).toBe(200_000);
    expect(contextWindowOf("some-unknown-model")).toBe(200_000);
    const plan = contextPlan(
      settings(),
      "claude-sonnet-5-5",
      anthropicFeatures("claude-sonnet-5-5"),
    );
    expect(plan).toEqual({
      compactAtTokens: 160_000,
      serverCompaction: true,
      serverClearing: false,
    });
    expect(requestContextManagement(plan)).toEqual({ compactAtTokens: 160_000 });
  });

  it("leaves older models and the demo model to the runtime", () => {
    expect(anthropicFeatures("claude-haiku-4-5")).toEqual({
      serverCompaction: false,
      serverToolClearing: false,
    });
    const plan = contextPlan(
      settings({ clearToolResultsThresholdTokens: 5_000 }),
      "demo",
      (new DemoModelProvider() as ModelProvider).features?.("demo"),
    );
    expect(plan).toMatchObject({
      compactAtTokens: 160_000,
      serverCompaction: false,
      clear: { triggerTokens: 5_000, keep: 3 },
      serverClearing: false,
    });
    expect(requestContextManagement(plan)).toBeUndefined();
  });

  it("never compacts when disabled", () => {
    const plan = contextPlan(settings({ compactionDisabled: true }), "claude-opus-5-5", {
      serverCompaction: true,
      serverToolClearing: true,
    });
    expect(plan.compactAtTokens).toBe(0);
    expect(requestContextManagement(plan)).toBeUndefined();
  });
});

describe("compactConversation", () => {
  function summariser(text: string): ModelProvider & { requests: ModelRequest[] } {
    const requests: ModelRequest[] = [];
    return {
      requests,
      async step(request) {
        requests.push(request);
        return {
          message: { role: "assistant", content: [{ type: "text", text }] },
          stopReason: "end_turn",
          usage: {
            inputTokens: 7,
            outputTokens: 3,
            cacheReadInputTokens: 0,
            cacheCreationInputTokens: 0,
          },
          model: request.model,
        };
      },
    };
  }

  it("mid tool loop: keeps the last call and its result after the summary, and the to-do list", async () => {
    const messages: ModelMessage[] = [
      { role: "user", content: [{ type: "text", text: "do the work" }] },
      ...toolTurn("t1", "first output"),
      ...toolTurn("t2", "second output"),
    ];
    const model = summariser("SUMMARY");
    const usages: number[] = [];
    const result = await compactConversation(messages, {
      model,
      modelId: "m",
      todos: [{ content: "Write tests", status: "in_progress", activeForm: "Writing tests" }],
      signal: new AbortController().signal,
      onUsage: (u) => usages.push(u.inputTokens),
    });
    expect(result).toEqual({ summary: "SUMMARY", messagesCompacted: 3 });
    expect(usages).toEqual([7]);
    expect(model.requests[0]!.tools).toEqual([]);
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    const intro = messages[0]!.content[0]!;
    expect(intro.type === "text" && intro.text).toContain("SUMMARY");
    expect(intro.type === "text" && intro.text).toContain("- [in_progress] Write tests");
    expect(messages.slice(1)).toEqual(toolTurn("t2", "second output"));
  });

  it("does nothing when there is too little to compact", async () => {
    const messages: ModelMessage[] = [
      { role: "user", content: [{ type: "text", text: "hi" }] },
      ...toolTurn("t1", "out"),
    ];
    const model = summariser("SUMMARY");
    const result = await compactConversation(messages, {
      model,
      modelId: "m",
      todos: undefined,
      signal: new AbortController().signal,
      onUsage: () => {},
    });
    expect(result).toBeUndefined();
    expect(model.requests).toHaveLength(0);
    expect(messages).toHaveLength(3);
  });
});

describe("estimateTokens", () => {
  it("counts text by characters, and images by a fixed amount rather than their base64", () => {
    const text: ModelMessage = {
      role: "user",
      content: [{ type: "text", text: "a".repeat(4_000) }],
    };
    expect(estimateTokens([text], "")).toBeGreaterThan(1_000);
    expect(estimateTokens([text], "")).toBeLessThan(1_020);
    const image: ModelMessage = {
      role: "user",
      content: [
        {
          type: "image",
          source: { type: "base64", media_type: "image/png", data: "A".repeat(4_000_000) },
        },
      ],
    };
    expect(estimateTokens([image], "")).toBeLessThan(2_000);
  });
});

describe("clearOldToolResults", () => {
  it("clears all but the last `keep`, once, and keeps every pair", () => {
    const messages: ModelMessage[] = [
      { role: "user", content: [{ type: "text", text: "go" }] },
      ...toolTurn("t1", "x".repeat(400)),
      ...toolTurn("t2", "y".repeat(400)),
      ...toolTurn("t3", "z".repeat(400)),
    ];
    expect(clearOldToolResults(messages, 2)).toEqual({
      cleared: 1,
      clearedTokens: Math.ceil((400 - CLEARED_NOTE.length) / 4),
    });
    expect(clearOldToolResults(messages, 2)).toEqual({ cleared: 0, clearedTokens: 0 });
    const results = messages.flatMap((m) => m.content.filter((c) => c.type === "tool_result"));
    expect(results.map((r) => r.type === "tool_result" && r.content.length)).toEqual([
      CLEARED_NOTE.length,
      400,
      400,
    ]);
  });
});

describe("applyServerCompaction", () => {
  it("drops what precedes the compaction block and starts with a user note", () => {
    const messages: ModelMessage[] = [
      { role: "user", content: [{ type: "text", text: "long" }] },
      ...toolTurn("t1", "out"),
      {
        role: "assistant",
        content: [
          { type: "compaction", content: "S", encrypted_content: "e" },
          { type: "text", text: "go on" },
        ],
      },
    ];
    expect(applyServerCompaction(messages)).toBe(3);
    expect(messages).toEqual([
      { role: "user", content: [{ type: "text", text: SERVER_COMPACTED_NOTE }] },
      {
        role: "assistant",
        content: [
          { type: "compaction", content: "S", encrypted_content: "e" },
          { type: "text", text: "go on" },
        ],
      },
    ]);
  });
});
