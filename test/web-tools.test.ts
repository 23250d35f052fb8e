// WebSearch and WebFetch: the Anthropic API's own tools, switched on by naming them in a
// profile's tools. Through the public API, against the real SDK and FakeAnthropic.

import { afterEach, describe, expect, it } from "vitest";
import type { Block } from "#gen/block_pb.js";
import { ToolStatus } from "#gen/block_pb.js";
import type { SessionEvent } from "#gen/event_pb.js";
import { ModelProvider } from "#gen/profile_pb.js";
import { TurnOutcome } from "#gen/session_pb.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import {
  type FakeBlock,
  streamResponse,
  textResponse,
  transcriptProblems,
} from "./support/fake-anthropic.js";

let h: AgentHarness;
afterEach(() => h?.close());

const completed = (events: SessionEvent[]): Block[] =>
  events.flatMap((e) => (e.payload.case === "blockCompleted" ? [e.payload.value.block!] : []));

const searchTurn: FakeBlock[] = [
  { type: "text", text: "Let me search." },
  {
    type: "server_tool_use",
    id: "srvtoolu_1",
    name: "web_search",
    input: { query: "vitest latest version" },
  },
  {
    type: "web_search_tool_result",
    tool_use_id: "srvtoolu_1",
    content: [
      {
        type: "web_search_result",
        url: "https://vitest.dev/blog",
        title: "Vitest blog",
        encrypted_content: "enc-1",
        page_age: "2 days ago",
      },
      {
        type: "web_search_result",
        url: "https://example.com/news",
        title: "News",
        encrypted_content: "enc-2",
        page_age: null,
      },
    ],
  },
  {
    type: "text",
    text: "Vitest 4.1 is the latest.",
    citations: [
      {
        type: "web_search_result_location",
        url: "https://vitest.dev/blog",
        title: "Vitest blog",
        cited_text: "Vitest 4.1 is out",
        encrypted_index: "idx-1",
      },
    ],
  },
];

describe("WebSearch", () => {
  it("offers the server tool, shows its call, results and citations, counts its cost, and sends it all back", async () => {
    h = await agentHarness({ profile: { tools: ["Read", "WebSearch"] } });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse(searchTurn, {
        usage: {
          input_tokens: 1_000,
          output_tokens: 100,
          server_tool_use: { web_search_requests: 1, web_fetch_requests: 0 },
        },
      }),
      textResponse("Anything else?", { usage: { input_tokens: 10, output_tokens: 5 } }),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "what is the latest vitest?" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));

    // The request offered Read and web search (and not web fetch). Web search needs no beta
    // value; the one sent is for compaction, on by default at 80% of the 200k window.
    const first = h.fake.requests[0]!;
    const tools = first.body.tools ?? [];
    expect(tools.map((t) => t.name)).toEqual(["Read", "web_search"]);
    expect(tools[1]).toMatchObject({ type: "web_search_20260318", name: "web_search" });
    expect(first.headers["anthropic-beta"]).toBe("compact-2026-01-12");
    expect(first.body.context_management).toEqual({
      edits: [{ type: "compact_20260112", trigger: { type: "input_tokens", value: 160_000 } }],
    });

    const blocks = completed(events);
    const use = blocks.find((b) => b.content.case === "toolUse")!;
    expect(use.content.value).toMatchObject({
      toolUseId: "srvtoolu_1",
      toolName: "WebSearch",
      serverTool: true,
      status: ToolStatus.SUCCEEDED,
      inputJson: JSON.stringify({ query: "vitest latest version" }),
    });
    const result = blocks.find((b) => b.content.case === "webSearchResult")!;
    expect(result.content.value).toMatchObject({
      toolUseId: "srvtoolu_1",
      errorCode: "",
      results: [
        { url: "https://vitest.dev/blog", title: "Vitest blog", pageAge: "2 days ago" },
        { url: "https://example.com/news", title: "News", pageAge: "" },
      ],
    });
    // The call completes before its result, and the result before the cited text.
    const order = blocks.map((b) => b.content.case);
    expect(order).toEqual([
      "userMessage",
      "assistantText",
      "toolUse",
      "webSearchResult",
      "assistantText",
    ]);
    const cited = blocks.at(-1)!;
    expect(cited.content.case === "assistantText" && cited.content.value.citations).toEqual([
      expect.objectContaining({
        url: "https://vitest.dev/blog",
        title: "Vitest blog",
        citedText: "Vitest 4.1 is out",
      }),
    ]);
    // No tool ran in the runtime: no tool_result block, no sandbox.
    expect(order).not.toContain("toolResult");

    // Cost: Sonnet 5.5 tokens ($2 / $10 per MTok) plus $0.01 for the search.
    const usage = events.flatMap((e) =>
      e.payload.case === "usageUpdated" ? [e.payload.value] : [],
    );
    expect(usage[0]!.step).toMatchObject({
      webSearchRequests: 1n,
      costMicroUsd: 1_000n * 2n + 100n * 10n + 10_000n,
    });
    const session = (await h.client.sessions.getSession({ sessionId })).session!;
    expect(session.usage?.webSearchRequests).toBe(1n);

    // ListMessages holds the same blocks.
    const listed = (await h.client.sessions.listMessages({ sessionId })).blocks;
    expect(listed.map((b) => b.content.case)).toEqual(order);

    // The next request carries the assistant's blocks exactly as the API sent them.
    await h.client.sessions.sendMessage({ sessionId, text: "thanks" });
    await readEvents(h.client, sessionId, turnsCompleted(2));
    const next = h.fake.requests[1]!;
    expect(transcriptProblems(next.body)).toEqual([]);
    const assistant = next.body.messages![1]!;
    expect(assistant.role).toBe("assistant");
    const content = assistant.content as Array<Record<string, unknown>>;
    expect(content.map((c) => c.type)).toEqual([
      "text",
      "server_tool_use",
      "web_search_tool_result",
      "text",
    ]);
    expect(content[1]).toMatchObject({
      id: "srvtoolu_1",
      name: "web_search",
      input: { query: "vitest latest version" },
    });
    const sent = searchTurn[2] as Extract<FakeBlock, { type: "web_search_tool_result" }>;
    expect(content[2]).toMatchObject({ tool_use_id: "srvtoolu_1", content: sent.content });
    const sentText = searchTurn[3] as Extract<FakeBlock, { type: "text" }>;
    expect(content[3]).toMatchObject({ text: sentText.text, citations: sentText.citations });
  });

  it("shows a failed search as a failed call with its error code", async () => {
    h = await agentHarness({ profile: { tools: ["WebSearch"] } });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        { type: "server_tool_use", id: "srvtoolu_9", name: "web_search", input: { query: "x" } },
        {
          type: "web_search_tool_result",
          tool_use_id: "srvtoolu_9",
          content: { type: "web_search_tool_result_error", error_code: "max_uses_exceeded" },
        },
        { type: "text", text: "The search failed." },
      ]),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "search" });
    const blocks = completed(await readEvents(h.client, sessionId, turnsCompleted(1)));
    const use = blocks.find((b) => b.content.case === "toolUse")!;
    expect(use.content.value).toMatchObject({ serverTool: true, status: ToolStatus.FAILED });
    const result = blocks.find((b) => b.content.case === "webSearchResult")!;
    expect(result.content.value).toMatchObject({ errorCode: "max_uses_exceeded", results: [] });
  });
});

describe("WebFetch", () => {
  it("fetches through the API, continues a paused turn, and keeps the transcript valid", async () => {
    h = await agentHarness({ profile: { tools: ["WebFetch", "WebSearch"] } });
    const sessionId = await h.newSession();
    const fetched: FakeBlock[] = [
      {
        type: "server_tool_use",
        id: "srvtoolu_f",
        name: "web_fetch",
        input: { url: "https://example.com/page" },
      },
      {
        type: "web_fetch_tool_result",
        tool_use_id: "srvtoolu_f",
        content: {
          type: "web_fetch_result",
          url: "https://example.com/page",
          retrieved_at: "2026-11-28T10:00:00Z",
          content: {
            type: "document",
            title: "The page",
            citations: null,
            source: { type: "text", media_type: "text/plain", data: "The page says hello." },
          },
        },
      },
    ];
    h.fake.enqueue(
      // The API paused its own tool loop; the runtime sends the paused message back as is.
      streamResponse(fetched, {
        stopReason: "pause_turn",
        usage: {
          input_tokens: 500,
          output_tokens: 50,
          server_tool_use: { web_search_requests: 0, web_fetch_requests: 1 },
        },
      }),
      textResponse("The page says hello.", { usage: { input_tokens: 600, output_tokens: 10 } }),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "read example.com/page" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const end = events.at(-1)!;
    expect(end.payload.case === "turnCompleted" && end.payload.value.turn?.outcome).toBe(
      TurnOutcome.COMPLETED,
    );

    const tools = h.fake.requests[0]!.body.tools ?? [];
    expect(tools.map((t) => t.type)).toEqual(["web_search_20260318", "web_fetch_20260318"]);

    // The paused step's message went back unchanged, as the conversation's last message.
    expect(h.fake.requests).toHaveLength(2);
    const resumed = h.fake.requests[1]!.body;
    expect(transcriptProblems(resumed)).toEqual([]);
    const last = resumed.messages!.at(-1)!;
    expect(last.role).toBe("assistant");
    expect(last.content).toMatchObject([
      { type: "server_tool_use", id: "srvtoolu_f", name: "web_fetch" },
      {
        type: "web_fetch_tool_result",
        tool_use_id: "srvtoolu_f",
        content: (fetched[1] as { content: unknown }).content,
      },
    ]);

    const blocks = completed(events);
    expect(blocks.map((b) => b.content.case)).toEqual([
      "userMessage",
      "toolUse",
      "webFetchResult",
      "assistantText",
    ]);
    expect(blocks[1]!.content.value).toMatchObject({
      toolName: "WebFetch",
      serverTool: true,
      status: ToolStatus.SUCCEEDED,
    });
    expect(blocks[2]!.content.value).toMatchObject({
      toolUseId: "srvtoolu_f",
      url: "https://example.com/page",
      title: "The page",
      content: "The page says hello.",
      errorCode: "",
    });
    // Fetches cost their tokens only.
    const session = (await h.client.sessions.getSession({ sessionId })).session!;
    expect(session.usage).toMatchObject({
      webFetchRequests: 1n,
      webSearchRequests: 0n,
      costMicroUsd: 1_100n * 2n + 60n * 10n,
    });

    // The next turn's request is valid too.
    h.fake.enqueue(textResponse("ok"));
    await h.client.sessions.sendMessage({ sessionId, text: "thanks" });
    await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(transcriptProblems(h.fake.requests[2]!.body)).toEqual([]);
  });
});

describe("the demo model", () => {
  it("does not offer the web tools: a demo profile naming them still runs its turn", async () => {
    h = await agentHarness({
      profile: { modelProvider: ModelProvider.DEMO, model: "", tools: ["WebSearch", "WebFetch"] },
    });
    const sessionId = await h.newSession();
    await h.client.sessions.sendMessage({ sessionId, text: "search the web" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const end = events.at(-1)!;
    expect(end.payload.case === "turnCompleted" && end.payload.value.turn?.outcome).toBe(
      TurnOutcome.COMPLETED,
    );
    const cases = completed(events).map((b) => b.content.case);
    expect(cases).not.toContain("webSearchResult");
    expect(cases).not.toContain("toolUse");
    expect(h.fake.requests).toHaveLength(0);
  });
});
