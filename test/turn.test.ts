import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { ToolStatus } from "#gen/block_pb.js";
import { ModelProvider } from "#gen/profile_pb.js";
import { SessionState, TurnOutcome } from "#gen/session_pb.js";
import {
  type AgentHarness,
  agentHarness,
  kinds,
  readEvents,
  turnsCompleted,
} from "./support/agent.js";
import { type FakeResponse, streamResponse, textResponse } from "./support/fake-anthropic.js";
import { toolResults } from "./support/requests.js";

let h: AgentHarness;
afterEach(() => h?.close());

const decoder = new TextDecoder();

describe("the agent turn", () => {
  it("streams a multi-step tool turn in order; tools really run in the sandbox", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse(
        [
          { type: "text", text: "I will write the file." },
          {
            type: "tool_use",
            id: "toolu_1",
            name: "Write",
            input: { file_path: "/workspace/out/hello.txt", content: "hello from Write\n" },
          },
        ],
        { usage: { input_tokens: 100, output_tokens: 20, cache_creation_input_tokens: 50 } },
      ),
      streamResponse(
        [
          {
            type: "tool_use",
            id: "toolu_2",
            name: "Bash",
            input: { command: "cat out/hello.txt && echo more >> out/hello.txt" },
          },
        ],
        { usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 150 } },
      ),
      textResponse("Done: the file says hello.", { usage: { input_tokens: 5, output_tokens: 7 } }),
    );
    const sent = await h.client.sessions.sendMessage({ sessionId, text: "write hello" });
    expect(sent.turnId).toMatch(/^trn_/);
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));

    // Sequences are 1, 2, 3, ... with no gaps.
    expect(events.map((e) => Number(e.sequence))).toEqual(events.map((_, i) => i + 1));
    expect(events.every((e) => e.turnId === sent.turnId || e.turnId === "")).toBe(true);
    const k = kinds(events);
    // The session goes to RUNNING when the message arrives, then the turn starts.
    expect(k.slice(0, 2)).toEqual(["statusChanged", "turnStarted"]);
    expect((events[0]!.payload.value as { state: SessionState }).state).toBe(SessionState.RUNNING);
    expect(k.at(-1)).toBe("turnCompleted");
    const end = events.at(-1)!.payload.value as { turn: { outcome: TurnOutcome } };
    expect(end.turn.outcome).toBe(TurnOutcome.COMPLETED);

    // The order of the first step: user message, text, tool use, sandbox start, tool result, file event.
    const firstIndex = (pred: (e: (typeof events)[number]) => boolean) => events.findIndex(pred);
    const userDone = firstIndex(
      (e) =>
        e.payload.case === "blockCompleted" &&
        e.payload.value.block?.content.case === "userMessage",
    );
    const textDone = firstIndex(
      (e) =>
        e.payload.case === "blockCompleted" &&
        e.payload.value.block?.content.case === "assistantText",
    );
    const toolStart = firstIndex(
      (e) => e.payload.case === "blockStarted" && e.payload.value.block?.content.case === "toolUse",
    );
    const sandboxReady = firstIndex(
      (e) => e.payload.case === "statusChanged" && e.payload.value.message.startsWith("sandbox"),
    );
    const resultDone = firstIndex(
      (e) =>
        e.payload.case === "blockCompleted" && e.payload.value.block?.content.case === "toolResult",
    );
    const created = firstIndex((e) => e.payload.case === "fileCreated");
    expect(userDone).toBeGreaterThan(0);
    expect(textDone).toBeGreaterThan(userDone);
    expect(toolStart).toBeGreaterThan(textDone);
    expect(sandboxReady).toBeGreaterThan(toolStart);
    expect(resultDone).toBeGreaterThan(sandboxReady);
    expect(created).toBeGreaterThan(resultDone);
    expect(k).toContain("fileModified");
    expect(k.filter((x) => x === "usageUpdated")).toHaveLength(3);
    expect(k).toContain("blockDelta");

    // Bash read what Write wrote; ReadFile sees what Bash appended.
    const bashResult = toolResults(h.fake.requests[2]!)[0]!;
    expect(bashResult.content).toContain("hello from Write");
    expect(bashResult.is_error).toBeFalsy();
    const file = await h.client.workspace.readFile({ sessionId, path: "out/hello.txt" });
    expect(decoder.decode(file.content)).toBe("hello from Write\nmore\n");

    // Tool blocks end with their status; the conversation is saved as blocks.
    const blocks = (await h.client.sessions.listMessages({ sessionId })).blocks;
    expect(blocks.map((b) => b.content.case)).toEqual([
      "userMessage",
      "assistantText",
      "toolUse",
      "toolResult",
      "toolUse",
      "toolResult",
      "assistantText",
    ]);
    const toolUse = blocks[2]!.content.value as { status: ToolStatus; inputJson: string };
    expect(toolUse.status).toBe(ToolStatus.SUCCEEDED);
    expect(JSON.parse(toolUse.inputJson)).toEqual({
      file_path: "/workspace/out/hello.txt",
      content: "hello from Write\n",
    });
    // Block ids are the same live and in storage.
    const liveIds = events.flatMap((e) =>
      e.payload.case === "blockStarted" ? [e.payload.value.block!.id] : [],
    );
    expect(blocks.map((b) => b.id)).toEqual(liveIds);

    // Usage and cost per session.
    const { session } = await h.client.sessions.getSession({ sessionId });
    expect(session?.usage?.inputTokens).toBe(115n);
    expect(session?.usage?.outputTokens).toBe(32n);
    expect(session?.usage?.cacheReadInputTokens).toBe(150n);
    expect(session?.usage?.costUsd).toBeGreaterThan(0);
    // Exact: the dollars are the micro-dollars over a million, with no float noise.
    expect(session?.usage?.costUsd).toBe(Number(session?.usage?.costMicroUsd) / 1_000_000);
    expect(String(session?.usage?.costUsd)).toMatch(/^\d+(\.\d{1,6})?$/);
    expect(session?.state).toBe(SessionState.IDLE);
    expect(session?.runtime?.loaded).toBe(true);

    // Prompt caching marks went out with the request.
    expect(JSON.stringify(h.fake.requests[1]!.body)).toContain("cache_control");
  });

  it("offers only the profile's tools and feeds tool errors back to the model", async () => {
    h = await agentHarness({ profile: { tools: ["Read"] } });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        { type: "tool_use", id: "t1", name: "Read", input: { file_path: "missing.txt" } },
      ]),
      streamResponse([{ type: "tool_use", id: "t2", name: "Bash", input: { command: "id" } }]),
      textResponse("ok"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "read it" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect((events.at(-1)!.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome).toBe(
      TurnOutcome.COMPLETED,
    );
    expect(h.fake.requests[0]!.body.tools!.map((t) => t.name)).toEqual(["Read"]);
    expect(toolResults(h.fake.requests[1]!)[0]!.is_error).toBe(true);
    const unknown = toolResults(h.fake.requests[2]!)[0]!;
    expect(unknown.is_error).toBe(true);
    expect(unknown.content).toContain("Unknown tool Bash");
  });

  it("cancels during the model stream, keeps the text so far, then runs the next queued message", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([{ type: "text", text: "one two three four five six" }], {
        stallAfterEvents: 4,
      }),
      textResponse("second answer"),
    );
    const first = await h.client.sessions.sendMessage({ sessionId, text: "first" });
    const second = await h.client.sessions.sendMessage({ sessionId, text: "second" });
    expect(second.queued).toBe(true);
    const queuedView = await h.client.sessions.getSession({ sessionId });
    expect(queuedView.session?.runtime?.queuedMessages.map((q) => q.turnId)).toContain(
      second.turnId,
    );
    expect(queuedView.session?.state).toBe(SessionState.RUNNING);
    // Wait until some text streamed.
    await readEvents(h.client, sessionId, (ev) => ev.some((e) => e.payload.case === "blockDelta"));
    const closed = h.fake.requests[0]!.outcome;
    expect(
      (await h.client.sessions.cancelTurn({ sessionId, turnId: first.turnId })).cancelled,
    ).toBe(true);
    expect(await closed).toBe("client_closed");
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    const ends = events
      .filter((e) => e.payload.case === "turnCompleted")
      .map((e) => e.payload.value as { turn: { id: string; outcome: TurnOutcome } });
    expect(ends.map((t) => [t.turn.id, t.turn.outcome])).toEqual([
      [first.turnId, TurnOutcome.CANCELLED],
      [second.turnId, TurnOutcome.COMPLETED],
    ]);
    // Every started block was completed; the partial text is kept.
    const started = events
      .filter((e) => e.payload.case === "blockStarted")
      .map((e) => (e.payload.value as { block: { id: string } }).block.id);
    const completed = events
      .filter((e) => e.payload.case === "blockCompleted")
      .map((e) => (e.payload.value as { block: { id: string } }).block.id);
    expect(new Set(completed)).toEqual(new Set(started));
    const blocks = (await h.client.sessions.listMessages({ sessionId })).blocks;
    const partial = blocks[1]!.content.value as { text: string };
    expect(blocks[1]!.content.case).toBe("assistantText");
    expect(partial.text.length).toBeGreaterThan(0);
    expect("one two three four five six").toContain(partial.text.trim());
    // The next request carries a valid conversation: user, assistant (partial), user.
    const roles = h.fake.requests[1]!.body.messages!.map((m) => m.role);
    expect(roles).toEqual(["user", "assistant", "user"]);
  });

  it("cancels a long Bash command and kills it", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        {
          type: "tool_use",
          id: "t1",
          name: "Bash",
          input: { command: "echo started; sleep 30; echo never" },
        },
      ]),
    );
    const sent = await h.client.sessions.sendMessage({ sessionId, text: "wait" });
    await readEvents(h.client, sessionId, (ev) =>
      ev.some((e) => e.payload.case === "blockDelta" && e.payload.value.delta.case === "output"),
    );
    const t0 = Date.now();
    await h.client.sessions.cancelTurn({ sessionId });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(Date.now() - t0).toBeLessThan(10_000);
    const end = events.at(-1)!.payload.value as { turn: { id: string; outcome: TurnOutcome } };
    expect(end.turn).toMatchObject({ id: sent.turnId, outcome: TurnOutcome.CANCELLED });
    const blocks = (await h.client.sessions.listMessages({ sessionId })).blocks;
    const use = blocks.find((b) => b.content.case === "toolUse")!.content.value as {
      status: ToolStatus;
    };
    expect(use.status).toBe(ToolStatus.CANCELLED);
    const result = blocks.find((b) => b.content.case === "toolResult")!.content.value as {
      output: string;
    };
    expect(result.output).toContain("started");
    expect(result.output).not.toContain("never");
    // The model is told what happened: it ran, printed "started" and was stopped, not "Not run".
    h.fake.enqueue(textResponse("ok"));
    await h.client.sessions.sendMessage({ sessionId, text: "what happened?" });
    await readEvents(h.client, sessionId, turnsCompleted(2));
    const told = JSON.stringify(h.fake.requests.at(-1)!.body.messages);
    expect(told).toMatch(/started[^"]*Command was killed after \d+\.\d s: the turn was cancelled/);
    expect(told).not.toContain("Not run");
  });

  it("gives every turn event its turn id, and a cancelled waiting turn a start and an end", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("slow", { chunkDelayMs: 100 }), textResponse("third"));
    const first = await h.client.sessions.sendMessage({ sessionId, text: "one" });
    const second = await h.client.sessions.sendMessage({ sessionId, text: "two" });
    const third = await h.client.sessions.sendMessage({ sessionId, text: "three" });
    expect(
      (await h.client.sessions.cancelTurn({ sessionId, turnId: second.turnId })).cancelled,
    ).toBe(true);
    const events = await readEvents(h.client, sessionId, turnsCompleted(3));
    const turnEvents = events.filter(
      (e) => e.payload.case !== "fileCreated" && e.payload.case !== "fileModified",
    );
    for (const e of turnEvents) expect(e.turnId, `${e.sequence} ${e.payload.case}`).not.toBe("");
    const marks = events
      .filter((e) => e.payload.case === "turnStarted" || e.payload.case === "turnCompleted")
      .map((e) => `${e.payload.case}:${e.turnId}`);
    expect(marks).toEqual([
      `turnStarted:${first.turnId}`,
      `turnCompleted:${first.turnId}`,
      `turnStarted:${second.turnId}`,
      `turnCompleted:${second.turnId}`,
      `turnStarted:${third.turnId}`,
      `turnCompleted:${third.turnId}`,
    ]);
    const cancelled = events.find(
      (e) => e.payload.case === "turnCompleted" && e.turnId === second.turnId,
    )!.payload.value as { turn: { outcome: TurnOutcome } };
    expect(cancelled.turn.outcome).toBe(TurnOutcome.CANCELLED);
  });

  it("runs queued messages one at a time in order", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.scriptFromFunction((req) => {
      const last = req.body.messages!.at(-1)!;
      const text = (last.content as Array<{ type: string; text?: string }>).find(
        (c) => c.type === "text",
      )?.text;
      return textResponse(`echo: ${text}`, { chunkDelayMs: 5 });
    });
    const ids: string[] = [];
    for (const text of ["a", "b", "c"])
      ids.push((await h.client.sessions.sendMessage({ sessionId, text })).turnId);
    const events = await readEvents(h.client, sessionId, turnsCompleted(3));
    const order = events
      .filter((e) => e.payload.case === "turnStarted" || e.payload.case === "turnCompleted")
      .map((e) => `${e.payload.case}:${e.turnId}`);
    expect(order).toEqual(ids.flatMap((id) => [`turnStarted:${id}`, `turnCompleted:${id}`]));
    const texts = (await h.client.sessions.listMessages({ sessionId })).blocks
      .filter((b) => b.content.case === "assistantText")
      .map((b) => (b.content.value as { text: string }).text);
    expect(texts).toEqual(["echo: a", "echo: b", "echo: c"]);
  });

  it("a subscriber that drops mid-turn and resumes by sequence sees every event exactly once", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("a b c d e f g h i j k l m n o p", { chunkDelayMs: 10 }));
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    const firstPart = await readEvents(
      h.client,
      sessionId,
      (ev) => ev.filter((e) => e.payload.case === "blockDelta").length >= 3,
    );
    const resumeAfter = firstPart.at(-1)!.sequence;
    const rest = await readEvents(h.client, sessionId, turnsCompleted(1), resumeAfter);
    const all = [...firstPart, ...rest].map((e) => Number(e.sequence));
    expect(all).toEqual(all.map((_, i) => i + 1));
    const full = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(full.map((e) => Number(e.sequence))).toEqual(all);
    const text = full
      .flatMap((e) =>
        e.payload.case === "blockDelta" && e.payload.value.delta.case === "text"
          ? [e.payload.value.delta.value]
          : [],
      )
      .join("");
    expect(text).toBe("a b c d e f g h i j k l m n o p");
  });

  it("stops at max_turns with a clear reason", async () => {
    h = await agentHarness({ profile: { maxTurns: 2 } });
    const sessionId = await h.newSession();
    h.fake.scriptFromFunction(() =>
      streamResponse([{ type: "tool_use", name: "Bash", input: { command: "true" } }]),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "loop" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const end = events.at(-1)!.payload.value as { turn: { outcome: TurnOutcome }; reason: string };
    expect(end.turn.outcome).toBe(TurnOutcome.MAX_TURNS);
    expect(end.reason).toContain("max_turns reached (2");
    expect(h.fake.requests).toHaveLength(2);
  });

  it("fails cleanly when the model refuses the key or retries run out", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    const refused: FakeResponse = { kind: "error", status: 401 };
    h.fake.enqueue(refused);
    await h.client.sessions.sendMessage({ sessionId, text: "hi" });
    let events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const error = events.find((e) => e.payload.case === "error")!.payload.value as {
      reason: string;
    };
    expect(error.reason).toBe("MODEL_AUTH_FAILED");
    expect((events.at(-1)!.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome).toBe(
      TurnOutcome.FAILED,
    );

    for (let i = 0; i < 5; i++) h.fake.enqueue({ kind: "error", status: 529 });
    h.fake.enqueue(textResponse("recovered"));
    await h.client.sessions.sendMessage({ sessionId, text: "again" });
    events = await readEvents(h.client, sessionId, turnsCompleted(2));
    const errors = events
      .filter((e) => e.payload.case === "error")
      .map((e) => (e.payload.value as { reason: string }).reason);
    expect(errors).toEqual(["MODEL_AUTH_FAILED", "MODEL_OVERLOADED"]);
    // A 529 then success is retried inside one turn.
    h.fake.enqueue({ kind: "error", status: 529 }, { kind: "error", status: 429, retryAfter: 0 });
    await h.client.sessions.sendMessage({ sessionId, text: "third" });
    events = await readEvents(h.client, sessionId, turnsCompleted(3));
    expect((events.at(-1)!.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome).toBe(
      TurnOutcome.COMPLETED,
    );
  });

  it("runs a subagent through the Task tool with its own prompt and tagged events", async () => {
    h = await agentHarness({
      profile: {
        tools: ["Read", "Write", "Task"],
        subagents: [
          {
            name: "writer",
            description: "writes files",
            prompt: "You write files.",
            tools: ["Write"],
          },
        ],
      },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        {
          type: "tool_use",
          id: "task1",
          name: "Task",
          input: { description: "write", prompt: "write sub.txt", subagent_type: "writer" },
        },
      ]),
      streamResponse([
        {
          type: "tool_use",
          id: "w1",
          name: "Write",
          input: { file_path: "sub.txt", content: "by the subagent" },
        },
      ]),
      textResponse("I wrote sub.txt."),
      textResponse("The subagent is done."),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "delegate" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const discovered = events.find((e) => e.payload.case === "subagentDiscovered")!;
    const subId = (discovered.payload.value as { subagentId: string }).subagentId;
    expect(subId).toMatch(/^sub_/);
    expect((discovered.payload.value as { toolUseId: string }).toolUseId).toBe("task1");
    const completedSub = events.find((e) => e.payload.case === "subagentCompleted")!.payload
      .value as { result: string };
    expect(completedSub.result).toBe("I wrote sub.txt.");
    const subBlocks = events.filter(
      (e) => e.subagentId === subId && e.payload.case === "blockCompleted",
    );
    expect(subBlocks.length).toBeGreaterThanOrEqual(3);
    expect(
      subBlocks.every(
        (e) => (e.payload.value as { block: { subagentId: string } }).block.subagentId === subId,
      ),
    ).toBe(true);
    expect(h.fake.requests[1]!.body.system).toEqual([
      expect.objectContaining({ text: "You write files." }),
    ]);
    expect(h.fake.requests[1]!.body.tools!.map((t) => t.name)).toEqual(["Write"]);
    expect(toolResults(h.fake.requests[3]!)[0]!.content).toBe("I wrote sub.txt.");
    const file = await h.client.workspace.readFile({ sessionId, path: "sub.txt" });
    expect(decoder.decode(file.content)).toBe("by the subagent");
  });

  it("runs the offline demo model end to end with no API key", async () => {
    h = await agentHarness({ profile: { modelProvider: ModelProvider.DEMO, model: "" } });
    const sessionId = await h.newSession();
    await h.client.sessions.sendMessage({ sessionId, text: "show me" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect((events.at(-1)!.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome).toBe(
      TurnOutcome.COMPLETED,
    );
    expect(kinds(events)).toEqual(
      expect.arrayContaining(["fileCreated", "usageUpdated", "blockDelta"]),
    );
    const files = await h.client.workspace.listFiles({ sessionId });
    expect(files.files.map((f) => f.path)).toContain("notes/demo.md");
    expect(h.fake.requests).toHaveLength(0);
  });

  it("validates SendMessage, CancelTurn, StreamEvents and ListMessages input", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    const code = async (p: Promise<unknown>) =>
      ConnectError.from(
        await p.then(
          () => undefined,
          (e: unknown) => e,
        ),
      ).code;
    expect(await code(h.client.sessions.sendMessage({ sessionId, text: "" }))).toBe(
      Code.InvalidArgument,
    );
    expect(
      await code(h.client.sessions.sendMessage({ sessionId, text: "x".repeat(100_001) })),
    ).toBe(Code.InvalidArgument);
    expect(
      await code(
        h.client.sessions.sendMessage({
          sessionId,
          text: "x",
          attachments: [{ name: "a", mediaType: "application/x-evil", data: new Uint8Array(1) }],
        }),
      ),
    ).toBe(Code.InvalidArgument);
    expect(
      await code(
        h.client.sessions.sendMessage({ sessionId: "ses_00000000000000000000000000", text: "x" }),
      ),
    ).toBe(Code.NotFound);
    expect(await code(h.client.sessions.cancelTurn({ sessionId, turnId: "bad" }))).toBe(
      Code.InvalidArgument,
    );
    expect((await h.client.sessions.cancelTurn({ sessionId })).cancelled).toBe(false);
    expect(await code(h.client.sessions.listMessages({ sessionId, pageSize: -1 }))).toBe(
      Code.InvalidArgument,
    );
    expect(await code(readEvents(h.client, sessionId, () => true, -1n))).toBe(Code.InvalidArgument);
    expect(await code(readEvents(h.client, sessionId, () => true, 99n))).toBe(Code.OutOfRange);
  });
});
