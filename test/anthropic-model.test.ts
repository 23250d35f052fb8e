// The real @anthropic-ai/sdk, driven through AnthropicModelProvider, against FakeAnthropic (a real
// HTTP server speaking the Messages streaming protocol).

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  AnthropicModelProvider,
  type AnthropicModelProviderOptions,
} from "../src/adapters/anthropic/model.js";
import { thinkingFor, usesAdaptiveThinking } from "../src/adapters/anthropic/thinking.js";
import { DEFAULT_MODEL } from "../src/app/shared/pricing.js";
import { ModelError, type ModelRequest, type ModelStreamEvent } from "../src/ports/model.js";
import {
  errorResponse,
  FakeAnthropic,
  type FakeError,
  overloaded,
  rateLimited,
  serverError,
  streamResponse,
  textResponse,
  unauthorized,
} from "./support/fake-anthropic.js";

let fake: FakeAnthropic;

beforeEach(async () => {
  fake = new FakeAnthropic();
  await fake.start();
});

afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await fake.stop();
});

function provider(options: AnthropicModelProviderOptions = {}) {
  return new AnthropicModelProvider({
    apiKey: "test-key",
    baseURL: fake.url,
    streamRetryDelayMs: 1,
    ...options,
  });
}

function request(overrides: Partial<ModelRequest> = {}): ModelRequest {
  return {
    model: "claude-sonnet-5-5",
    system: "You are a test.",
    messages: [{ role: "user", content: [{ type: "text", text: "Hi" }] }],
    tools: [],
    maxOutputTokens: 1024,
    ...overrides,
  };
}

async function run(p: AnthropicModelProvider, req: ModelRequest = request()) {
  const events: ModelStreamEvent[] = [];
  const result = await p.step(req, (event) => events.push(event));
  return { events, result };
}

async function rejection(promise: Promise<unknown>): Promise<ModelError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelError);
  return error as ModelError;
}

type Json = Record<string, unknown>;
const bodyOf = (i: number) => fake.requests[i]?.body as Json;
/** The SDK numbers its own retries of a request in this header: "0" on a first attempt. */
const sdkRetryCounts = () => fake.requests.map((r) => r.headers["x-stainless-retry-count"]);
/** An error response that asks for a 1 ms wait, so the SDK's retry is quick. */
const quick = (error: FakeError): FakeError => ({
  ...error,
  headers: { ...error.headers, "retry-after-ms": "1" },
});

describe("streaming", () => {
  it("streams text deltas before the response has ended", async () => {
    fake.enqueue(textResponse("one two three four", { chunkDelayMs: 40 }));
    let serverDone = false;
    let doneAtFirstDelta: boolean | undefined;
    const events: ModelStreamEvent[] = [];
    const pending = provider().step(request(), (event) => {
      if (event.type === "text_delta" && doneAtFirstDelta === undefined) {
        doneAtFirstDelta = serverDone;
      }
      events.push(event);
    });
    await fake.waitForRequests(1);
    void fake.requests[0]?.outcome.then(() => {
      serverDone = true;
    });
    const result = await pending;

    expect(doneAtFirstDelta).toBe(false);
    expect(serverDone).toBe(true);
    expect(events).toEqual([
      { type: "block_start", index: 0, block: "text" },
      { type: "text_delta", index: 0, text: "one " },
      { type: "text_delta", index: 0, text: "two " },
      { type: "text_delta", index: 0, text: "three " },
      { type: "text_delta", index: 0, text: "four" },
      { type: "block_stop", index: 0 },
    ]);
    expect(result.message).toEqual({
      role: "assistant",
      content: [{ type: "text", text: "one two three four" }],
    });
    expect(result.stopReason).toBe("end_turn");
  });

  it("streams thinking with its signature", async () => {
    fake.enqueue(
      streamResponse([
        { type: "thinking", thinking: "Let me think.", signature: "sig-abc" },
        { type: "text", text: "Answer." },
      ]),
    );
    const { events, result } = await run(provider());

    expect(events.slice(0, 5)).toEqual([
      { type: "block_start", index: 0, block: "thinking" },
      { type: "thinking_delta", index: 0, thinking: "Let " },
      { type: "thinking_delta", index: 0, thinking: "me " },
      { type: "thinking_delta", index: 0, thinking: "think." },
      { type: "signature_delta", index: 0, signature: "sig-abc" },
    ]);
    expect(events[5]).toEqual({ type: "block_stop", index: 0 });
    expect(events[6]).toEqual({ type: "block_start", index: 1, block: "text" });
    expect(result.message.content).toEqual([
      { type: "thinking", thinking: "Let me think.", signature: "sig-abc" },
      { type: "text", text: "Answer." },
    ]);
  });

  it("streams tool input in pieces and parses the whole", async () => {
    const input = { command: "ls -la && echo 'done'", description: "List", n: [1, 2, { a: "é" }] };
    fake.enqueue(
      streamResponse([
        { type: "text", text: "Running it." },
        { type: "tool_use", id: "toolu_01", name: "Bash", input, jsonChunks: 5 },
      ]),
    );
    const { events, result } = await run(provider());

    expect(events).toContainEqual({
      type: "block_start",
      index: 1,
      block: "tool_use",
      id: "toolu_01",
      name: "Bash",
    });
    const pieces = events.flatMap((e) => (e.type === "input_json_delta" ? [e.partialJson] : []));
    expect(pieces).toHaveLength(5);
    expect(JSON.parse(pieces.join(""))).toEqual(input);
    expect(result.message.content[1]).toEqual({
      type: "tool_use",
      id: "toolu_01",
      name: "Bash",
      input,
    });
    expect(result.stopReason).toBe("tool_use");
  });

  it("maps usage and the model, and passes the model through", async () => {
    fake.enqueue(
      textResponse("ok", {
        model: "claude-sonnet-5-5-20261001",
        usage: {
          input_tokens: 1200,
          output_tokens: 345,
          cache_read_input_tokens: 1000,
          cache_creation_input_tokens: 200,
        },
      }),
    );
    const { result } = await run(provider(), request({ model: "claude-sonnet-5-5" }));

    expect(bodyOf(0).model).toBe("claude-sonnet-5-5");
    expect(bodyOf(0).stream).toBe(true);
    expect(result.model).toBe("claude-sonnet-5-5-20261001");
    expect(result.usage).toEqual({
      inputTokens: 1200,
      outputTokens: 345,
      cacheReadInputTokens: 1000,
      cacheCreationInputTokens: 200,
    });
  });

  it("answers tool results through a scripted function", async () => {
    fake.scriptFromFunction((req) => {
      const last = req.body.messages?.at(-1);
      const content = Array.isArray(last?.content) ? (last.content as Json[]) : [];
      const result = content.find((block) => block.type === "tool_result");
      return result
        ? textResponse(`The tool said: ${String(result.content)}`)
        : streamResponse([
            { type: "tool_use", id: "toolu_x", name: "Bash", input: { command: "pwd" } },
          ]);
    });
    const p = provider();
    const first = await run(p);
    expect(first.result.stopReason).toBe("tool_use");
    const second = await run(
      p,
      request({
        messages: [
          { role: "user", content: [{ type: "text", text: "Hi" }] },
          first.result.message,
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: "toolu_x", content: "/workspace" }],
          },
        ],
      }),
    );
    expect(second.result.message.content).toEqual([
      { type: "text", text: "The tool said: /workspace" },
    ]);
  });
});

describe("request shape", () => {
  const tools = [
    {
      name: "Read",
      description: "Read a file",
      inputSchema: { type: "object", properties: { path: { type: "string" } } },
    },
    {
      name: "Bash",
      description: "Run a command",
      inputSchema: { type: "object", properties: { command: { type: "string" } } },
    },
  ];

  it("marks the system prompt, the last tool and the latest messages for caching", async () => {
    fake.enqueue(textResponse("ok"));
    await run(
      provider(),
      request({
        system: "You are careful.",
        tools,
        messages: [
          { role: "user", content: [{ type: "text", text: "List files" }] },
          {
            role: "assistant",
            content: [
              { type: "thinking", thinking: "hm", signature: "s" },
              { type: "tool_use", id: "t1", name: "Bash", input: { command: "ls" } },
            ],
          },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "t1", content: "a.txt", is_error: false },
            ],
          },
        ],
      }),
    );
    const body = bodyOf(0);
    const ephemeral = { type: "ephemeral" };
    expect(body.system).toEqual([
      { type: "text", text: "You are careful.", cache_control: ephemeral },
    ]);
    expect(body.tools).toEqual([
      {
        name: "Read",
        description: "Read a file",
        input_schema: { type: "object", properties: { path: { type: "string" } } },
      },
      {
        name: "Bash",
        description: "Run a command",
        input_schema: { type: "object", properties: { command: { type: "string" } } },
        cache_control: ephemeral,
      },
    ]);
    expect(body.messages).toEqual([
      {
        role: "user",
        content: [{ type: "text", text: "List files", cache_control: ephemeral }],
      },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "hm", signature: "s" },
          { type: "tool_use", id: "t1", name: "Bash", input: { command: "ls" } },
        ],
      },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: "t1",
            content: "a.txt",
            is_error: false,
            cache_control: ephemeral,
          },
        ],
      },
    ]);
    expect(JSON.stringify(body).match(/"cache_control"/g)).toHaveLength(4);
  });

  it("never sends more than 4 cache breakpoints", async () => {
    fake.enqueue(textResponse("ok"));
    const messages: ModelRequest["messages"] = [];
    for (let i = 0; i < 6; i++) {
      messages.push({ role: "user", content: [{ type: "text", text: `q${i}` }] });
      messages.push({ role: "assistant", content: [{ type: "text", text: `a${i}` }] });
    }
    messages.push({ role: "user", content: [{ type: "text", text: "last" }] });
    await run(provider(), request({ tools, messages }));
    expect(JSON.stringify(bodyOf(0)).match(/"cache_control"/g)).toHaveLength(4);

    fake.enqueue(textResponse("ok"));
    await run(provider(), request({ system: "", tools: [], messages }));
    // Without system and tools only the last two user messages are marked.
    expect(JSON.stringify(bodyOf(1)).match(/"cache_control"/g)).toHaveLength(2);
    expect(bodyOf(1).system).toBeUndefined();
    expect(bodyOf(1).tools).toBeUndefined();
  });

  it("sends the thinking form the model takes", async () => {
    fake.enqueue(textResponse("ok"), textResponse("ok"));
    const p = provider();
    await run(
      p,
      request({
        model: "claude-haiku-4-5",
        thinking: { budgetTokens: 2048 },
        maxOutputTokens: 1024,
      }),
    );
    expect(bodyOf(0).thinking).toEqual({ type: "enabled", budget_tokens: 2048 });
    expect(bodyOf(0).max_tokens).toBe(3072);

    await run(
      p,
      request({
        model: "claude-sonnet-5-5",
        thinking: { budgetTokens: 2048 },
        maxOutputTokens: 8000,
      }),
    );
    expect(bodyOf(1).thinking).toEqual({ type: "adaptive", display: "summarized" });
    expect(bodyOf(1).max_tokens).toBe(8000);
  });

  it("decides the thinking form from the model id", () => {
    for (const id of [
      "claude-sonnet-5-5",
      "claude-opus-5",
      "claude-fable-5-2",
      "claude-mythos-preview",
      "claude-opus-4-7",
      "claude-opus-4-6",
      "claude-sonnet-4-6",
    ]) {
      expect(usesAdaptiveThinking(id), id).toBe(true);
    }
    for (const id of ["claude-haiku-4-5-20251001", "claude-opus-4-5", "claude-sonnet-4-5", "x"]) {
      expect(usesAdaptiveThinking(id), id).toBe(false);
    }
    expect(thinkingFor("claude-opus-4-5", 1024, 4096)).toEqual({
      thinking: { type: "enabled", budget_tokens: 1024 },
      maxTokens: 4096,
    });
  });

  it("uses a default model the SDK does not warn about", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    fake.enqueue(textResponse("ok"), textResponse("ok"));
    await run(provider(), request({ model: DEFAULT_MODEL }));
    expect(warn).not.toHaveBeenCalled();
    // The check is live: a deprecated id does draw the SDK's warning.
    await run(provider(), request({ model: "claude-sonnet-4-5" }));
    expect(String(warn.mock.calls[0]?.[0])).toContain("deprecated");
  });
});

describe("retries", () => {
  it("lets the SDK retry a 429 after the retry-after it names", async () => {
    fake.enqueue(rateLimited(1), textResponse("after the wait"));
    const started = Date.now();
    const { result } = await run(provider());

    expect(result.message.content).toEqual([{ type: "text", text: "after the wait" }]);
    expect(sdkRetryCounts()).toEqual(["0", "1"]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it("lets the SDK retry a 529 overloaded response", async () => {
    fake.enqueue(overloaded(), textResponse("ok"));
    const { result } = await run(provider());
    expect(result.message.content).toEqual([{ type: "text", text: "ok" }]);
    expect(sdkRetryCounts()).toEqual(["0", "1"]);
  });

  it("lets the SDK retry a 500, then retries an overloaded event before any content", async () => {
    fake.enqueue(
      quick(serverError()),
      textResponse("x", { errorAfterEvents: { events: 2, type: "overloaded_error" } }),
      textResponse("third time"),
    );
    const { result } = await run(provider());
    // The SDK's retry of the 500 (count 1), then the provider's new request (count 0).
    expect(sdkRetryCounts()).toEqual(["0", "1", "0"]);
    expect(result.message.content).toEqual([{ type: "text", text: "third time" }]);
  });

  it("gives up after maxRetries with the last error's reason", async () => {
    fake.enqueue(quick(overloaded()), quick(overloaded()), quick(overloaded()), textResponse("x"));
    const error = await rejection(provider({ maxRetries: 2 }).step(request(), () => {}));
    expect(error.reason).toBe("MODEL_OVERLOADED");
    expect(error.retryable).toBe(true);
    expect(error.message).toContain("(529)");
    expect(sdkRetryCounts()).toEqual(["0", "1", "2"]);
  });

  it("does not wait for a retry-after beyond the limit", async () => {
    fake.enqueue(rateLimited(3600), textResponse("never"));
    const started = Date.now();
    const error = await rejection(provider().step(request(), () => {}));
    expect(error.reason).toBe("MODEL_RATE_LIMITED");
    expect(error.message).toContain("asked to wait 3600 s; not retried");
    expect(fake.requests).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("waits for a retry-after within the limit", async () => {
    fake.enqueue(rateLimited(1), textResponse("ok"));
    const error = await rejection(provider({ maxRetryAfterMs: 500 }).step(request(), () => {}));
    expect(error.message).toContain("asked to wait 1 s; not retried");
    expect(fake.requests).toHaveLength(1);

    fake.enqueue(rateLimited(1), textResponse("ok"));
    const { result } = await run(provider({ maxRetryAfterMs: 1_000 }));
    expect(result.message.content).toEqual([{ type: "text", text: "ok" }]);
  });

  it("obeys x-should-retry: false", async () => {
    fake.enqueue(errorResponse(500, { headers: { "x-should-retry": "false" } }), textResponse("x"));
    const error = await rejection(provider().step(request(), () => {}));
    expect(error.reason).toBe("MODEL_SERVER_ERROR");
    expect(fake.requests).toHaveLength(1);
  });

  it("fails a 401 at once with MODEL_AUTH_FAILED", async () => {
    fake.enqueue(unauthorized(), textResponse("never"));
    const error = await rejection(provider().step(request(), () => {}));
    expect(error.reason).toBe("MODEL_AUTH_FAILED");
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("invalid x-api-key");
    expect(fake.requests).toHaveLength(1);
    expect(fake.pending).toBe(1);
  });

  it("fails a 400 at once with MODEL_BAD_REQUEST", async () => {
    fake.enqueue(errorResponse(400, { message: "max_tokens: too large" }), textResponse("never"));
    const error = await rejection(provider().step(request(), () => {}));
    expect(error.reason).toBe("MODEL_BAD_REQUEST");
    expect(error.message).toContain("max_tokens: too large");
    expect(fake.requests).toHaveLength(1);
  });
});

describe("broken streams and cancellation", () => {
  it("fails with MODEL_STREAM_FAILED when the stream is cut after content began", async () => {
    // message_start, ping, block_start, one delta, then the socket is destroyed.
    fake.enqueue(textResponse("one two three", { cutAfterEvents: 4 }), textResponse("never"));
    const events: ModelStreamEvent[] = [];
    const error = await rejection(provider().step(request(), (e) => events.push(e)));

    expect(error.reason).toBe("MODEL_STREAM_FAILED");
    expect(error.retryable).toBe(true);
    expect(error.message).toContain("after content had been streamed, so not retried");
    expect(events).toEqual([
      { type: "block_start", index: 0, block: "text" },
      { type: "text_delta", index: 0, text: "one " },
    ]);
    expect(fake.requests).toHaveLength(1);
    expect(fake.pending).toBe(1);
    expect(await fake.requests[0]?.outcome).toBe("cut");
  });

  it("retries a stream cut before any content once", async () => {
    fake.enqueue(textResponse("lost", { cutAfterEvents: 1 }), textResponse("second try"));
    const { events, result } = await run(provider());
    expect(fake.requests).toHaveLength(2);
    expect(await fake.requests[0]?.outcome).toBe("cut");
    expect(result.message.content).toEqual([{ type: "text", text: "second try" }]);
    expect(events.filter((e) => e.type === "block_start")).toHaveLength(1);
  });

  it("does not retry a stream cut before any content a second time", async () => {
    fake.enqueue(
      textResponse("lost", { cutAfterEvents: 2 }),
      textResponse("lost again", { cutAfterEvents: 2 }),
      textResponse("never"),
    );
    const events: ModelStreamEvent[] = [];
    const error = await rejection(provider().step(request(), (e) => events.push(e)));
    expect(error.reason).toBe("MODEL_STREAM_FAILED");
    expect(error.retryable).toBe(true);
    expect(error.message).toContain("also on the retry");
    expect(events).toEqual([]);
    expect(fake.requests).toHaveLength(2);
    expect(fake.pending).toBe(1);
  });

  it("retries a stream that goes silent before any content", async () => {
    fake.enqueue(textResponse("lost", { stallAfterEvents: 2 }), textResponse("second try"));
    const { result } = await run(provider({ streamIdleTimeoutMs: 200 }));
    expect(result.message.content).toEqual([{ type: "text", text: "second try" }]);
    expect(await fake.requests[0]?.outcome).toBe("client_closed");
    expect(fake.requests).toHaveLength(2);
  });

  it("cancels a stalled stream and closes the HTTP request", async () => {
    fake.enqueue(textResponse("one two three", { stallAfterEvents: 4 }));
    const controller = new AbortController();
    const events: ModelStreamEvent[] = [];
    const pending = provider().step(request({ signal: controller.signal }), (event) => {
      events.push(event);
      if (event.type === "text_delta") controller.abort();
    });
    const error = await rejection(pending);

    expect(error.reason).toBe("MODEL_CANCELLED");
    expect(events.at(-1)).toEqual({ type: "text_delta", index: 0, text: "one " });
    expect(await fake.requests[0]?.outcome).toBe("client_closed");
    expect(fake.requests).toHaveLength(1);
  });

  it("cancels while the SDK waits to retry", async () => {
    fake.enqueue(rateLimited(30), textResponse("never"));
    const controller = new AbortController();
    const pending = provider().step(request({ signal: controller.signal }), () => {});
    const started = Date.now();
    await fake.waitForRequests(1);
    controller.abort();
    const error = await rejection(pending);
    expect(error.reason).toBe("MODEL_CANCELLED");
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(fake.requests).toHaveLength(1);
  });

  it("rejects at once when the signal is already aborted", async () => {
    const error = await rejection(
      provider().step(request({ signal: AbortSignal.abort() }), () => {}),
    );
    expect(error.reason).toBe("MODEL_CANCELLED");
    expect(fake.requests).toHaveLength(0);
  });

  it("treats a stream that goes silent as broken", async () => {
    fake.enqueue(textResponse("one two", { stallAfterEvents: 4 }));
    const p = provider({ streamIdleTimeoutMs: 300 });
    const error = await rejection(p.step(request(), () => {}));
    expect(error.reason).toBe("MODEL_STREAM_FAILED");
    expect(error.message).toContain("sent nothing for 300 ms");
    expect(await fake.requests[0]?.outcome).toBe("client_closed");
    expect(fake.requests).toHaveLength(1);
  });

  it("passes an exception from onEvent through and closes the request", async () => {
    fake.enqueue(textResponse("one two three", { stallAfterEvents: 4 }));
    const boom = new Error("consumer failed");
    const error = await provider()
      .step(request(), (event) => {
        if (event.type === "text_delta") throw boom;
      })
      .catch((e: unknown) => e);
    expect(error).toBe(boom);
    expect(await fake.requests[0]?.outcome).toBe("client_closed");
  });
});

describe("configuration", () => {
  it("rejects with MODEL_NOT_CONFIGURED when there is no API key", async () => {
    vi.stubEnv("ANTHROPIC_API_KEY", "");
    const p = new AnthropicModelProvider({ baseURL: fake.url });
    const error = await rejection(p.step(request(), () => {}));
    expect(error.reason).toBe("MODEL_NOT_CONFIGURED");
    expect(error.message).toContain("ANTHROPIC_API_KEY");
    expect(fake.requests).toHaveLength(0);
  });

  it("takes the key from ANTHROPIC_API_KEY and the URL from ANTHROPIC_BASE_URL", async () => {
    vi.stubEnv("ANTHROPIC_API_KEY", "env-key");
    vi.stubEnv("ANTHROPIC_BASE_URL", fake.url);
    fake.enqueue(textResponse("via env"));
    const { result } = await run(new AnthropicModelProvider());
    expect(result.message.content).toEqual([{ type: "text", text: "via env" }]);
    expect(fake.requests[0]?.apiKey).toBe("env-key");
    expect(fake.requests[0]?.path).toBe("/v1/messages");
  });

  it("reports an unreachable API as a retryable server error", async () => {
    const url = fake.url;
    await fake.stop();
    const p = new AnthropicModelProvider({ apiKey: "k", baseURL: url, maxRetries: 0 });
    const error = await rejection(p.step(request(), () => {}));
    expect(error.reason).toBe("MODEL_SERVER_ERROR");
    expect(error.retryable).toBe(true);
    fake = new FakeAnthropic();
    await fake.start();
  });
});

describe("FakeAnthropic", () => {
  it("accepts the key as x-api-key and records headers", async () => {
    const strict = new FakeAnthropic({ apiKey: "right" });
    await strict.start();
    try {
      strict.enqueue(textResponse("hi"));
      const post = (headers: Record<string, string>) =>
        fetch(`${strict.url}/v1/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ model: "m", max_tokens: 1, stream: true, messages: [] }),
        });
      expect((await post({ "x-api-key": "wrong" })).status).toBe(401);
      const ok = await post({ "x-api-key": "right" });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("event: message_stop");
      expect(strict.requests.map((r) => r.apiKey)).toEqual(["wrong", "right"]);
      expect(strict.requests[1]?.headers["content-type"]).toBe("application/json");
    } finally {
      await strict.stop();
    }
  });

  it("answers with a clear error when the script is exhausted", async () => {
    const error = await rejection(provider().step(request(), () => {}));
    expect(error.reason).toBe("MODEL_BAD_REQUEST");
    expect(error.message).toContain("no response left");
  });
});
