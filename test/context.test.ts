// Keeping a conversation within the context window: automatic compaction (the API's own, and the
// runtime's where the model has none) and clearing old tool results (likewise). Through the
// public API, against the real SDK and FakeAnthropic.

import { afterEach, describe, expect, it } from "vitest";
import type { Block } from "#gen/block_pb.js";
import type { SessionEvent } from "#gen/event_pb.js";
import { TurnOutcome } from "#gen/session_pb.js";
import { CLEARED_NOTE, SUMMARY_INSTRUCTIONS } from "../src/app/turns/compaction.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import {
  conversationChars,
  errorResponse,
  type FakeRequestBody,
  streamResponse,
  textResponse,
  transcriptProblems,
} from "./support/fake-anthropic.js";

let h: AgentHarness;
afterEach(() => h?.close());

const completed = (events: SessionEvent[]): Block[] =>
  events.flatMap((e) => (e.payload.case === "blockCompleted" ? [e.payload.value.block!] : []));
const bash = (id: string, command: string) =>
  streamResponse([{ type: "tool_use", id, name: "Bash", input: { command } }]);
/** ~12,500 tokens by the runtime's estimate: past a 10,000-token threshold. */
const LONG_TEXT = `Please remember this: ${"lorem ipsum dolor ".repeat(2_800)}`;
const contentOf = (body: FakeRequestBody, i: number) =>
  body.messages![i]!.content as Array<Record<string, unknown>>;

async function listAll(sessionId: string): Promise<Block[]> {
  return (await h.client.sessions.listMessages({ sessionId, pageSize: 1000 })).blocks;
}

describe("automatic compaction", () => {
  it("by the runtime, for a model without server compaction: summary, smaller next request", async () => {
    h = await agentHarness({
      profile: {
        model: "claude-haiku-4-5",
        tools: ["Bash"],
        context: { compactionThresholdTokens: 10_000 },
      },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(bash("toolu_a", "echo one"), textResponse("Done one."));
    await h.client.sessions.sendMessage({ sessionId, text: LONG_TEXT });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    // The second step of turn 1 was past the threshold, but too little to compact: no summary.
    expect(h.fake.requests).toHaveLength(2);

    h.fake.enqueue(
      textResponse("SUMMARY: the user sent a long text to remember; Bash printed one."),
      bash("toolu_b", "echo two"),
      textResponse("Done two."),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "second question" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    const [r0, r1, summary, afterCompaction, last] = h.fake.requests.map((r) => r.body);

    // The summarising call: the whole conversation, no tools, the request for a summary last.
    expect(summary!.tools).toBeUndefined();
    expect(summary!.context_management).toBeUndefined();
    expect(summary!.messages).toHaveLength(5);
    const ask = contentOf(summary!, 4);
    expect(ask.map((c) => c.text)).toEqual(["second question", SUMMARY_INSTRUCTIONS]);

    // The next step gets the summary and the new message, and is much smaller.
    expect(afterCompaction!.messages).toHaveLength(1);
    const first = contentOf(afterCompaction!, 0);
    expect(first[0]!.text).toContain("SUMMARY: the user sent a long text");
    expect(first[1]).toMatchObject({ type: "text", text: "second question" });
    expect(conversationChars(afterCompaction!)).toBeLessThan(conversationChars(r1!) / 10);
    expect(afterCompaction!.system).toEqual(r1!.system);
    for (const body of [r0, r1, summary, afterCompaction, last]) {
      expect(transcriptProblems(body!)).toEqual([]);
    }
    expect(last!.messages).toHaveLength(3);

    // A compaction block and a context_compacted event naming it.
    const blocks = completed(events);
    const compaction = blocks.find((b) => b.content.case === "compaction")!;
    expect(compaction.content.value).toMatchObject({
      method: "runtime",
      messagesCompacted: 4,
      summary: "SUMMARY: the user sent a long text to remember; Bash printed one.",
    });
    const tokensBefore = (compaction.content.value as { tokensBefore: bigint }).tokensBefore;
    expect(tokensBefore).toBeGreaterThan(10_000n);
    const compacted = events.find((e) => e.payload.case === "contextCompacted")!;
    expect(compacted.payload.value).toMatchObject({
      blockId: compaction.id,
      messagesCompacted: 4,
      tokensBefore,
    });
    // The summary's call is counted: 3 model calls in turn 2.
    const turn2 = events.filter((e) => e.turnId === compaction.turnId);
    expect(turn2.filter((e) => e.payload.case === "usageUpdated")).toHaveLength(3);

    // ListMessages still holds every block, the compacted ones included.
    const listed = await listAll(sessionId);
    expect(listed.map((b) => b.content.case)).toEqual([
      "userMessage",
      "toolUse",
      "toolResult",
      "assistantText",
      "userMessage",
      "compaction",
      "toolUse",
      "toolResult",
      "assistantText",
    ]);
    expect(listed[0]!.content.value).toMatchObject({ text: LONG_TEXT });
  });

  it("by the API where the model has it: the compaction block is kept and sent back", async () => {
    h = await agentHarness({
      profile: { model: "claude-sonnet-5-5", context: { compactionThresholdTokens: 10_000 } },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("Noted."));
    await h.client.sessions.sendMessage({ sessionId, text: LONG_TEXT });
    await readEvents(h.client, sessionId, turnsCompleted(1));

    h.fake.enqueue(
      streamResponse([
        {
          type: "compaction",
          content: "SUMMARY S: a long text to remember.",
          encrypted_content: "enc-s",
        },
        { type: "text", text: "Continuing." },
      ]),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "second" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    h.fake.enqueue(textResponse("Third answer."));
    await h.client.sessions.sendMessage({ sessionId, text: "third" });
    await readEvents(h.client, sessionId, turnsCompleted(3));

    const [r0, r1, r2] = h.fake.requests;
    for (const r of [r0, r1, r2]) {
      expect(r!.headers["anthropic-beta"]).toBe("compact-2026-01-12");
      expect(r!.body.context_management).toEqual({
        edits: [{ type: "compact_20260112", trigger: { type: "input_tokens", value: 10_000 } }],
      });
    }
    // No summarising call of the runtime's own: one request per step.
    expect(h.fake.requests).toHaveLength(3);
    // The next request starts at the compaction block, sent back as the API sent it.
    const next = r2!.body;
    expect(transcriptProblems(next)).toEqual([]);
    expect(next.messages!.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(contentOf(next, 1)).toEqual([
      {
        type: "compaction",
        content: "SUMMARY S: a long text to remember.",
        encrypted_content: "enc-s",
      },
      { type: "text", text: "Continuing." },
    ]);
    expect(conversationChars(next)).toBeLessThan(conversationChars(r1!.body) / 10);

    const compaction = completed(events).find((b) => b.content.case === "compaction")!;
    expect(compaction.content.value).toMatchObject({
      method: "server",
      summary: "SUMMARY S: a long text to remember.",
      messagesCompacted: 3,
    });
    const compacted = events.find((e) => e.payload.case === "contextCompacted")!;
    expect(compacted.payload.value).toMatchObject({ blockId: compaction.id, messagesCompacted: 3 });
    expect((await listAll(sessionId)).map((b) => b.content.case)).toEqual([
      "userMessage",
      "assistantText",
      "userMessage",
      "compaction",
      "assistantText",
      "userMessage",
      "assistantText",
    ]);
  });

  it("by the runtime: a summarising call that fails ends the turn and leaves the conversation whole", async () => {
    h = await agentHarness({
      profile: { model: "claude-haiku-4-5", context: { compactionThresholdTokens: 10_000 } },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("Noted."), errorResponse(400, { message: "bad summary request" }));
    await h.client.sessions.sendMessage({ sessionId, text: LONG_TEXT });
    await h.client.sessions.sendMessage({ sessionId, text: "second" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    const end = events.at(-1)!;
    expect(end.payload.case === "turnCompleted" && end.payload.value.turn?.outcome).toBe(
      TurnOutcome.FAILED,
    );
    expect(events.some((e) => e.payload.case === "contextCompacted")).toBe(false);

    // The next turn compacts the conversation as it was (nothing was lost), then answers.
    h.fake.enqueue(textResponse("SUMMARY again."), textResponse("Third answer."));
    await h.client.sessions.sendMessage({ sessionId, text: "third" });
    const more = await readEvents(h.client, sessionId, turnsCompleted(3));
    const summary = h.fake.requests[2]!.body;
    expect(JSON.stringify(summary.messages)).toContain("Please remember this");
    expect(transcriptProblems(summary)).toEqual([]);
    const after = h.fake.requests[3]!.body;
    expect(after.messages).toHaveLength(1);
    expect(transcriptProblems(after)).toEqual([]);
    expect(more.some((e) => e.payload.case === "contextCompacted")).toBe(true);
  });

  it("is not asked for when a profile disables it", async () => {
    h = await agentHarness({
      profile: { model: "claude-haiku-4-5", context: { compactionDisabled: true } },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("Noted."), textResponse("Again."));
    await h.client.sessions.sendMessage({ sessionId, text: LONG_TEXT });
    await h.client.sessions.sendMessage({ sessionId, text: LONG_TEXT });
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(h.fake.requests).toHaveLength(2);
    expect(h.fake.requests[1]!.body.context_management).toBeUndefined();
    expect(events.some((e) => e.payload.case === "contextCompacted")).toBe(false);
  });
});

describe("clearing old tool results", () => {
  const big = "head -c 8000 /dev/zero | tr '\\0' a";

  it("by the runtime: old results become a note, the pairs stay, context_edited says so", async () => {
    h = await agentHarness({
      profile: {
        model: "claude-haiku-4-5",
        tools: ["Bash"],
        context: { clearToolResultsThresholdTokens: 1_000, clearToolResultsKeep: 1 },
      },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(bash("toolu_1", big), bash("toolu_2", big), textResponse("Done."));
    await h.client.sessions.sendMessage({ sessionId, text: "make output" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));

    const [r0, r1, r2] = h.fake.requests.map((r) => r.body);
    const results = (body: FakeRequestBody) =>
      body.messages!.flatMap((m) =>
        (m.content as Array<Record<string, unknown>>).filter((c) => c.type === "tool_result"),
      );
    // Step 2: one result, kept. Step 3: the older of two is cleared, the latest kept.
    expect(results(r1!).map((r) => (r.content as string).length)).toEqual([8000]);
    expect(results(r2!).map((r) => r.content)).toEqual([CLEARED_NOTE, "a".repeat(8000)]);
    expect(results(r2!).map((r) => r.tool_use_id)).toEqual(["toolu_1", "toolu_2"]);
    for (const body of [r0, r1, r2]) expect(transcriptProblems(body!)).toEqual([]);
    expect(r2!.context_management).toBeUndefined();

    const edited = events.filter((e) => e.payload.case === "contextEdited");
    expect(edited).toHaveLength(1);
    expect(edited[0]!.payload.value).toMatchObject({ clearedToolResults: 1 });
    expect(
      (edited[0]!.payload.value as { clearedInputTokens: bigint }).clearedInputTokens,
    ).toBeGreaterThan(1_900n);
    // The blocks keep the whole output.
    const listed = await listAll(sessionId);
    const outputs = listed.flatMap((b) =>
      b.content.case === "toolResult" ? [b.content.value.output.length] : [],
    );
    expect(outputs).toEqual([8000, 8000]);
  });

  it("by the API where the model has it: the request asks, the response says what it cleared", async () => {
    h = await agentHarness({
      profile: {
        model: "claude-sonnet-5-5",
        tools: ["Bash"],
        context: { clearToolResultsThresholdTokens: 1_000, clearToolResultsKeep: 2 },
      },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      bash("toolu_1", big),
      textResponse("Done.", {
        contextManagement: {
          applied_edits: [
            { type: "clear_tool_uses_20250919", cleared_tool_uses: 1, cleared_input_tokens: 2_000 },
          ],
        },
      }),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "make output" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));

    const r1 = h.fake.requests[1]!;
    expect(r1.headers["anthropic-beta"]).toBe("context-management-2025-06-27,compact-2026-01-12");
    expect(r1.body.context_management?.edits?.[0]).toEqual({
      type: "clear_tool_uses_20250919",
      trigger: { type: "input_tokens", value: 1_000 },
      keep: { type: "tool_uses", value: 2 },
    });
    // The runtime cleared nothing itself.
    expect(JSON.stringify(r1.body.messages)).not.toContain(CLEARED_NOTE);
    const edited = events.filter((e) => e.payload.case === "contextEdited");
    expect(edited.map((e) => e.payload.value)).toMatchObject([
      { clearedToolResults: 1, clearedInputTokens: 2_000n },
    ]);
  });
});
