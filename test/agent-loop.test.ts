// The agent loop against fakes only: a scripted model, a tool, and a sink that records what the
// loop writes. No session manager, no store, no sandbox.

import { describe, expect, it } from "vitest";
import type { Tool } from "../src/app/tools/types.js";
import { runAgentLoop, TurnAborted } from "../src/app/turns/agent-loop.js";
import type { TurnSink } from "../src/app/turns/blocks.js";
import type { Block, EventPayload } from "../src/domain/types.js";
import type {
  ModelMessage,
  ModelProvider,
  ModelRequest,
  ModelStepResult,
  ModelStreamEvent,
} from "../src/ports/model.js";

/** A model that answers each step with the next scripted message, streamed block by block. */
function scriptedModel(
  steps: ModelStepResult["message"][],
): ModelProvider & { requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  return {
    requests,
    async step(request, onEvent: (e: ModelStreamEvent) => void) {
      const { signal: _signal, ...copy } = request;
      requests.push(structuredClone(copy));
      const message = steps.shift();
      if (!message) throw new Error("no more scripted steps");
      message.content.forEach((c, index) => {
        if (c.type === "text") {
          onEvent({ type: "block_start", index, block: "text" });
          onEvent({ type: "text_delta", index, text: c.text });
        } else if (c.type === "tool_use") {
          onEvent({ type: "block_start", index, block: "tool_use", id: c.id, name: c.name });
          onEvent({ type: "input_json_delta", index, partialJson: JSON.stringify(c.input) });
        }
        onEvent({ type: "block_stop", index });
      });
      const calls = message.content.some((c) => c.type === "tool_use");
      return {
        message,
        stopReason: calls ? "tool_use" : "end_turn",
        usage: {
          inputTokens: 10,
          outputTokens: 5,
          cacheReadInputTokens: 0,
          cacheCreationInputTokens: 0,
        },
        model: "claude-sonnet-5-5",
      };
    },
  };
}

function fakeSink(options: { failSaves?: boolean } = {}) {
  const events: Array<{ payload: EventPayload; turnId?: string }> = [];
  const saved: Block[] = [];
  let syncs = 0;
  const sink: TurnSink = {
    get nextSequence() {
      return events.length + 1;
    },
    emit: (payload, context) => {
      events.push({ payload, ...(context.turnId ? { turnId: context.turnId } : {}) });
    },
    saveBlock: async (block) => {
      if (options.failSaves) throw new Error("store down");
      saved.push(block);
    },
    syncWorkspace: async () => {
      syncs++;
    },
  };
  return { sink, events, saved, syncs: () => syncs };
}

const echo: Tool = {
  name: "Echo",
  description: "Echoes its input",
  inputSchema: { type: "object" },
  async run(input) {
    return { output: `echo ${JSON.stringify(input)}`, isError: false };
  },
};

const base = {
  modelId: "claude-sonnet-5-5",
  system: "test",
  sandbox: () => Promise.reject(new Error("no sandbox in this test")),
  maxSteps: 5,
  maxOutputTokens: 1000,
  context: { turnId: "trn_1" },
};

describe("the agent loop with a fake session", () => {
  it("streams blocks, runs a tool, answers the model and saves every completed block", async () => {
    const model = scriptedModel([
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "t1", name: "Echo", input: { x: 1 } }],
      },
      { role: "assistant", content: [{ type: "text", text: "done" }] },
    ]);
    const { sink, events, saved, syncs } = fakeSink();
    const usage: number[] = [];
    const messages: ModelMessage[] = [{ role: "user", content: [{ type: "text", text: "go" }] }];
    const result = await runAgentLoop(messages, {
      ...base,
      sink,
      model,
      tools: [echo],
      signal: new AbortController().signal,
      onUsage: (u) => usage.push(u.costMicroUsd),
    });
    expect(result).toEqual({ outcome: "completed", finalText: "done" });
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(JSON.stringify(messages[2])).toContain('echo {\\"x\\":1}');
    expect(saved.map((b) => b.content.type)).toEqual(["tool_result", "tool_use", "assistant_text"]);
    expect(events.every((e) => e.turnId === "trn_1")).toBe(true);
    expect(usage).toEqual([70, 70]); // 10 x $2 + 5 x $10 per million tokens, in micro-dollars
    expect(syncs()).toBe(1);
    expect(model.requests[1]!.messages).toHaveLength(3);
  });

  it("stops at max steps", async () => {
    const call = { type: "tool_use" as const, id: "t", name: "Echo", input: {} };
    const model = scriptedModel([
      { role: "assistant", content: [call] },
      { role: "assistant", content: [{ ...call, id: "t2" }] },
    ]);
    const { sink } = fakeSink();
    const result = await runAgentLoop([{ role: "user", content: [{ type: "text", text: "go" }] }], {
      ...base,
      maxSteps: 2,
      sink,
      model,
      tools: [echo],
      signal: new AbortController().signal,
      onUsage: () => {},
    });
    expect(result.outcome).toBe("max_turns");
  });

  it("tells the model how a cancelled tool ended, with the output it printed", async () => {
    const abort = new AbortController();
    const slow: Tool = {
      ...echo,
      name: "Slow",
      async run(_input, ctx) {
        ctx.onOutput?.("first line\n");
        abort.abort(new Error("cancelled by the user"));
        throw new Error("killed");
      },
    };
    const model = scriptedModel([
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Slow", input: {} }] },
    ]);
    const { sink } = fakeSink();
    const messages: ModelMessage[] = [{ role: "user", content: [{ type: "text", text: "go" }] }];
    await expect(
      runAgentLoop(messages, {
        ...base,
        sink,
        model,
        tools: [slow],
        signal: abort.signal,
        onUsage: () => {},
      }),
    ).rejects.toBeInstanceOf(TurnAborted);
    const answer = JSON.stringify(messages.at(-1));
    expect(answer).toContain("first line");
    expect(answer).toMatch(/Slow was stopped after \d+\.\d s: cancelled by the user/);
  });

  it("fails with the store's error when blocks cannot be saved, and leaves nothing unobserved", async () => {
    // Before: saves were chained and awaited only at the end, so a failed save mid-turn was an
    // unhandled rejection (which ends a Node process); vitest fails a test on one.
    const model = scriptedModel([
      { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "Echo", input: {} }] },
      { role: "assistant", content: [{ type: "text", text: "hi" }] },
    ]);
    const { sink } = fakeSink({ failSaves: true });
    await expect(
      runAgentLoop([{ role: "user", content: [{ type: "text", text: "go" }] }], {
        ...base,
        sink,
        model,
        tools: [echo],
        signal: new AbortController().signal,
        onUsage: () => {},
      }),
    ).rejects.toThrow("store down");
  });
});
