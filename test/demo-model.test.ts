import { describe, expect, it } from "vitest";
import {
  DEMO_BASH_COMMAND,
  DEMO_NOTE_PATH,
  DemoModelProvider,
} from "../src/adapters/demo-model/model.js";
import { costOf, DEFAULT_MODEL, MODEL_PRICES, priceOf } from "../src/app/shared/pricing.js";
import {
  ModelError,
  type ModelMessage,
  type ModelRequest,
  type ModelStepResult,
  type ModelStreamEvent,
  type ModelTool,
} from "../src/ports/model.js";

const TOOLS: ModelTool[] = [
  { name: "Write", description: "Write a file", inputSchema: { type: "object" } },
  { name: "Bash", description: "Run a command", inputSchema: { type: "object" } },
];

function request(messages: ModelMessage[], overrides: Partial<ModelRequest> = {}): ModelRequest {
  return {
    model: "claude-sonnet-5-5",
    system: "You are the demo.",
    messages,
    tools: TOOLS,
    maxOutputTokens: 1024,
    ...overrides,
  };
}

const user = (text: string): ModelMessage => ({ role: "user", content: [{ type: "text", text }] });

async function step(model: DemoModelProvider, req: ModelRequest) {
  const events: ModelStreamEvent[] = [];
  const result = await model.step(req, (event) => events.push(event));
  return { events, result };
}

function toolUseOf(result: ModelStepResult) {
  const block = result.message.content.find((b) => b.type === "tool_use");
  if (block?.type !== "tool_use") throw new Error("no tool_use block");
  return block;
}

/** Runs a whole turn, answering each tool call with `answer`. */
async function turn(
  model: DemoModelProvider,
  text: string,
  answer: (name: string, input: Record<string, string>) => string,
  history: ModelMessage[] = [],
) {
  const messages = [...history, user(text)];
  const steps: Array<{ events: ModelStreamEvent[]; result: ModelStepResult }> = [];
  for (let i = 0; i < 5; i++) {
    const s = await step(model, request(messages));
    steps.push(s);
    messages.push(s.result.message);
    if (s.result.stopReason !== "tool_use") break;
    const use = toolUseOf(s.result);
    messages.push({
      role: "user",
      content: [
        {
          type: "tool_result",
          tool_use_id: use.id,
          content: answer(use.name, use.input as Record<string, string>),
        },
      ],
    });
  }
  return { steps, messages };
}

const fakeTools = (name: string, input: Record<string, string>) =>
  name === "Write"
    ? `Wrote ${input.content?.length} bytes to ${input.file_path}`
    : "total 4\n-rw-r--r-- 1 user user 120 demo.md\n# Demo note";

describe("DemoModelProvider", () => {
  it("writes a file, runs Bash, then sums up the results", async () => {
    const model = new DemoModelProvider({ chunkDelayMs: 0 });
    const { steps } = await turn(model, "Please say hello to the world", fakeTools);
    expect(steps).toHaveLength(3);
    const [first, second, third] = steps;

    // Step 1: Write, with content derived from the message, input streamed in pieces.
    expect(first?.result.stopReason).toBe("tool_use");
    const write = toolUseOf(first!.result);
    expect(write.name).toBe("Write");
    expect(write.input).toMatchObject({ file_path: DEMO_NOTE_PATH });
    expect((write.input as { content: string }).content).toContain(
      "> Please say hello to the world",
    );
    const pieces = first!.events.flatMap((e) =>
      e.type === "input_json_delta" ? [e.partialJson] : [],
    );
    expect(pieces.length).toBeGreaterThan(1);
    expect(JSON.parse(pieces.join(""))).toEqual(write.input);
    const textDeltas = first!.events.filter((e) => e.type === "text_delta");
    expect(textDeltas.length).toBeGreaterThan(3);
    expect(first!.events[0]).toEqual({ type: "block_start", index: 0, block: "text" });
    expect(first!.events).toContainEqual({
      type: "block_start",
      index: 1,
      block: "tool_use",
      id: write.id,
      name: "Write",
    });

    // Step 2: Bash.
    const bash = toolUseOf(second!.result);
    expect(bash.name).toBe("Bash");
    expect(bash.input).toEqual({
      command: DEMO_BASH_COMMAND,
      description: "List the notes folder and show the demo note",
    });
    expect(bash.id).not.toBe(write.id);

    // Step 3: a text summary quoting the results.
    expect(third?.result.stopReason).toBe("end_turn");
    expect(third!.result.message.content).toHaveLength(1);
    const summary = third!.result.message.content[0];
    expect(summary?.type).toBe("text");
    const text = summary?.type === "text" ? summary.text : "";
    expect(text).toContain(`bytes to ${DEMO_NOTE_PATH}`);
    expect(text).toContain("-rw-r--r-- 1 user user 120 demo.md");
    expect(text).toContain(DEMO_BASH_COMMAND);
  });

  it("is deterministic", async () => {
    const a = await turn(new DemoModelProvider({ chunkDelayMs: 0 }), "Same input", fakeTools);
    const b = await turn(new DemoModelProvider({ chunkDelayMs: 0 }), "Same input", fakeTools);
    expect(b).toEqual(a);
    const c = await turn(new DemoModelProvider({ chunkDelayMs: 0 }), "Other input", fakeTools);
    expect(c.steps[0]?.result).not.toEqual(a.steps[0]?.result);
  });

  it("starts over on the next user message, with fresh tool ids", async () => {
    const model = new DemoModelProvider({ chunkDelayMs: 0 });
    const first = await turn(model, "First", fakeTools);
    const second = await turn(model, "Second", fakeTools, first.messages);
    expect(second.steps).toHaveLength(3);
    const ids = [...first.steps, ...second.steps].flatMap((s) =>
      s.result.message.content.flatMap((b) => (b.type === "tool_use" ? [b.id] : [])),
    );
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
  });

  it("quotes failed tool results as failed", async () => {
    const { steps } = await turn(new DemoModelProvider({ chunkDelayMs: 0 }), "x", () => "boom");
    const last = steps.at(-1)?.result.message.content[0];
    expect(last?.type === "text" && last.text).toContain("boom");
  });

  it("answers in text when Write and Bash are not offered", async () => {
    const { result, events } = await step(
      new DemoModelProvider({ chunkDelayMs: 0 }),
      request([user("Just chat")], { tools: [] }),
    );
    expect(result.stopReason).toBe("end_turn");
    expect(result.message.content).toHaveLength(1);
    const block = result.message.content[0];
    expect(block?.type === "text" && block.text).toContain('You said: "Just chat"');
    expect(events.some((e) => e.type === "input_json_delta")).toBe(false);
  });

  it("uses Bash alone when Write is not offered", async () => {
    const { result } = await step(
      new DemoModelProvider({ chunkDelayMs: 0 }),
      request([user("x")], { tools: TOOLS.filter((t) => t.name === "Bash") }),
    );
    expect(toolUseOf(result).input).toMatchObject({ command: "pwd && ls -la" });
  });

  it("thinks first when thinking is requested", async () => {
    const { result, events } = await step(
      new DemoModelProvider({ chunkDelayMs: 0 }),
      request([user("Think about it")], { thinking: { budgetTokens: 1024 } }),
    );
    const thinking = result.message.content[0];
    expect(thinking?.type).toBe("thinking");
    expect(thinking?.type === "thinking" && thinking.signature).toMatch(/^demo-signature-/);
    expect(events[0]).toEqual({ type: "block_start", index: 0, block: "thinking" });
    expect(events.some((e) => e.type === "signature_delta")).toBe(true);
  });

  it("reports deterministic, non-zero usage", async () => {
    const { steps } = await turn(new DemoModelProvider({ chunkDelayMs: 0 }), "Usage", fakeTools);
    const [first, second] = steps.map((s) => s.result.usage);
    expect(first?.outputTokens).toBeGreaterThan(0);
    expect(first?.cacheReadInputTokens).toBe(0);
    expect(first?.cacheCreationInputTokens).toBeGreaterThan(0);
    expect(second?.cacheReadInputTokens).toBeGreaterThan(0);
    expect(steps[0]?.result.model).toBe("claude-sonnet-5-5");
  });

  it("streams with a delay between chunks", async () => {
    const model = new DemoModelProvider({ chunkDelayMs: 10 });
    const started = Date.now();
    const { events } = await step(model, request([user("Slowly")]));
    const chunks = events.filter((e) => e.type === "text_delta" || e.type === "input_json_delta");
    // Timers never fire early; half the nominal total leaves room for coarse clocks.
    expect(Date.now() - started).toBeGreaterThanOrEqual(chunks.length * 5);
  });

  it("cancels when the signal aborts", async () => {
    const controller = new AbortController();
    const error = await new DemoModelProvider({ chunkDelayMs: 0 })
      .step(request([user("Stop me")], { signal: controller.signal }), (event) => {
        if (event.type === "text_delta") controller.abort();
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).reason).toBe("MODEL_CANCELLED");

    const slow = new AbortController();
    const pending = new DemoModelProvider({ chunkDelayMs: 60_000 }).step(
      request([user("Stop me")], { signal: slow.signal }),
      () => {},
    );
    slow.abort();
    await expect(pending).rejects.toMatchObject({ reason: "MODEL_CANCELLED" });
  });
});

describe("pricing", () => {
  const usage = (over: Partial<Parameters<typeof costOf>[1]> = {}) => ({
    inputTokens: 0,
    outputTokens: 0,
    cacheReadInputTokens: 0,
    cacheCreationInputTokens: 0,
    ...over,
  });

  it("prices each token kind from the table", () => {
    // Micro-dollars: a million tokens at $2 per million is 2,000,000 micro-dollars.
    expect(costOf("claude-sonnet-5-5", usage({ inputTokens: 1_000_000 }))).toBe(2_000_000);
    expect(costOf("claude-sonnet-5-5", usage({ outputTokens: 1_000_000 }))).toBe(10_000_000);
    expect(costOf("claude-sonnet-5-5", usage({ cacheCreationInputTokens: 1_000_000 }))).toBe(
      2_500_000,
    );
    expect(costOf("claude-sonnet-5-5", usage({ cacheReadInputTokens: 1_000_000 }))).toBe(100_000);
    expect(
      costOf(
        "claude-opus-4-6",
        usage({
          inputTokens: 1000,
          outputTokens: 2000,
          cacheReadInputTokens: 10_000,
          cacheCreationInputTokens: 4000,
        }),
      ),
    ).toBe(1000 * 5 + 2000 * 25 + 10_000 * 0.5 + 4000 * 6.25);
  });

  it("matches dated ids and prices unknown models at 0", () => {
    const u = usage({ inputTokens: 1_000_000 });
    expect(costOf("claude-haiku-4-5-20251001", u)).toBe(1_000_000);
    expect(costOf("claude-sonnet-4-5@20250929", u)).toBe(3_000_000);
    expect(costOf("claude-sonnet-5-5-20261001", u)).toBe(2_000_000);
    expect(costOf("claude-sonnet-5-9", u)).toBe(0);
    expect(costOf("demo", u)).toBe(0);
    expect(costOf("", u)).toBe(0);
    expect(priceOf("claude-opus-5")).not.toBe(priceOf("claude-opus-5-5"));
  });

  it("prices long Haiku 5.5 prompts at the higher rate", () => {
    const short = usage({ inputTokens: 50_000, cacheReadInputTokens: 50_000, outputTokens: 1000 });
    expect(costOf("claude-haiku-5-5", short)).toBe(
      Math.round(50_000 * 0.1 + 50_000 * 0.01 + 1000 * 0.5),
    );
    const long = { ...short, inputTokens: 50_001 };
    expect(costOf("claude-haiku-5-5", long)).toBe(
      Math.round(50_001 * 0.5 + 50_000 * 0.05 + 1000 * 2.5),
    );
  });

  it("keeps money exact: sums of steps show no float noise", () => {
    // 0.000932 USD and 0.0001 USD added as floats print 0.0010320000000000001.
    const a = costOf("claude-sonnet-5-5", usage({ inputTokens: 466 }));
    const b = costOf("claude-sonnet-5-5", usage({ cacheReadInputTokens: 1000 }));
    expect(Number.isInteger(a) && Number.isInteger(b)).toBe(true);
    expect(String((a + b) / 1_000_000)).toBe("0.001032");
  });

  it("has the default model in the table, with write at 1.25x input", () => {
    expect(MODEL_PRICES[DEFAULT_MODEL]).toBeDefined();
    for (const [model, p] of Object.entries(MODEL_PRICES)) {
      expect(p.cacheWrite, model).toBeCloseTo(p.input * 1.25);
      expect(p.cacheRead, model).toBeLessThan(p.input);
      expect(p.output, model).toBeGreaterThan(p.input);
    }
  });
});
