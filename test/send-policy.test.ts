import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import type { SessionEvent } from "#gen/event_pb.js";
import { PermissionMode } from "#gen/profile_pb.js";
import { SessionState, TurnOutcome } from "#gen/session_pb.js";
import { SendPolicy } from "#gen/session_service_pb.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { streamResponse, textResponse } from "./support/fake-anthropic.js";

const bash = (id: string, command: string) =>
  streamResponse([{ type: "tool_use", id, name: "Bash", input: { command } }]);
const waitingFor = (n: number) => (events: SessionEvent[]) =>
  events.filter((e) => e.payload.case === "toolCallWaiting").length >= n;

let h: AgentHarness;
afterEach(() => h?.close());

const ends = (events: SessionEvent[]) =>
  events
    .filter((e) => e.payload.case === "turnCompleted")
    .map((e) => {
      const t = (e.payload.value as { turn: { id: string; outcome: TurnOutcome } }).turn;
      return [t.id, t.outcome];
    });

const userTexts = (events: SessionEvent[]) =>
  events.flatMap((e) => {
    if (e.payload.case !== "blockCompleted") return [];
    const b = e.payload.value.block!;
    return b.content.case === "userMessage" ? [[b.turnId, b.content.value.text]] : [];
  });

/** The turn is over once its message left the queue (just after its turn_completed). */
async function idle(sessionId: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const view = await h.client.sessions.getSession({ sessionId });
    if (view.session?.state === SessionState.IDLE) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the session never became idle");
}

const streaming = (events: SessionEvent[]) => events.some((e) => e.payload.case === "blockDelta");

describe("SendMessage policies", () => {
  it("QUEUE (the default): the message waits for the running turn", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("one two three", { chunkDelayMs: 50 }), textResponse("second"));
    const first = await h.client.sessions.sendMessage({ sessionId, text: "one" });
    const second = await h.client.sessions.sendMessage({
      sessionId,
      text: "two",
      policy: SendPolicy.QUEUE,
    });
    expect(second).toMatchObject({ queued: true, steered: false });
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(ends(events)).toEqual([
      [first.turnId, TurnOutcome.COMPLETED],
      [second.turnId, TurnOutcome.COMPLETED],
    ]);
  });

  it("REJECT: FAILED_PRECONDITION SESSION_BUSY while a turn runs; accepted when idle", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("one two three", { chunkDelayMs: 50 }), textResponse("again"));
    await h.client.sessions.sendMessage({ sessionId, text: "one", policy: SendPolicy.REJECT });
    const err = await h.client.sessions
      .sendMessage({ sessionId, text: "two", policy: SendPolicy.REJECT })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.FailedPrecondition);
    expect(err?.rawMessage).toContain("policy REJECT");
    await readEvents(h.client, sessionId, turnsCompleted(1));
    await idle(sessionId);
    // Nothing runs any more: accepted.
    const after = await h.client.sessions.sendMessage({
      sessionId,
      text: "three",
      policy: SendPolicy.REJECT,
    });
    expect(after.queued).toBe(false);
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(userTexts(events).map(([, t]) => t)).toEqual(["one", "three"]);
    expect(h.fake.requests).toHaveLength(2);
  });

  it("INTERRUPT: the running turn ends CANCELLED with what it produced; the message runs next", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.enqueue(
      textResponse("alpha beta gamma delta epsilon zeta eta theta", { chunkDelayMs: 100 }),
      textResponse("interrupt answered"),
      textResponse("queued answered"),
    );
    const first = await h.client.sessions.sendMessage({ sessionId, text: "long" });
    const queued = await h.client.sessions.sendMessage({ sessionId, text: "queued" });
    await readEvents(h.client, sessionId, streaming);
    const interrupt = await h.client.sessions.sendMessage({
      sessionId,
      text: "stop, do this",
      policy: SendPolicy.INTERRUPT,
    });
    expect(interrupt).toMatchObject({ queued: true, steered: false });
    const events = await readEvents(h.client, sessionId, turnsCompleted(3));
    // Ahead of the message queued before it.
    expect(ends(events)).toEqual([
      [first.turnId, TurnOutcome.CANCELLED],
      [interrupt.turnId, TurnOutcome.COMPLETED],
      [queued.turnId, TurnOutcome.COMPLETED],
    ]);
    // The cut turn's text is kept and the next request's conversation is valid.
    const blocks = (await h.client.sessions.listMessages({ sessionId })).blocks;
    const partial = blocks.find(
      (b) => b.content.case === "assistantText" && b.turnId === first.turnId,
    );
    expect((partial!.content.value as { text: string }).text.length).toBeGreaterThan(0);
    const roles = h.fake.requests[1]!.body.messages!.map((m) => m.role);
    expect(roles).toEqual(["user", "assistant", "user"]);
    expect(JSON.stringify(h.fake.requests[1]!.body.messages!.at(-1))).toContain("stop, do this");
  });

  it("INTERRUPT and STEER with no turn running behave as QUEUE", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("a"), textResponse("b"));
    const a = await h.client.sessions.sendMessage({
      sessionId,
      text: "a",
      policy: SendPolicy.INTERRUPT,
    });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    await idle(sessionId);
    const b = await h.client.sessions.sendMessage({
      sessionId,
      text: "b",
      policy: SendPolicy.STEER,
    });
    expect(b).toMatchObject({ queued: false, steered: false });
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(ends(events)).toEqual([
      [a.turnId, TurnOutcome.COMPLETED],
      [b.turnId, TurnOutcome.COMPLETED],
    ]);
  });

  it("STEER: the message goes into the running turn at its next model step", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse(
        [
          { type: "text", text: "Let me look at the file first, then answer." },
          { type: "tool_use", id: "toolu_1", name: "Read", input: { file_path: "missing.txt" } },
        ],
        { chunkDelayMs: 80 },
      ),
      textResponse("done, in French"),
    );
    const first = await h.client.sessions.sendMessage({ sessionId, text: "read it" });
    await readEvents(h.client, sessionId, streaming);
    const steer = await h.client.sessions.sendMessage({
      sessionId,
      text: "answer in French",
      policy: SendPolicy.STEER,
    });
    expect(steer).toEqual(expect.objectContaining({ turnId: first.turnId, steered: true }));
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(ends(events)).toEqual([[first.turnId, TurnOutcome.COMPLETED]]);
    // A user_message block of the running turn, after its tool result.
    expect(userTexts(events)).toEqual([
      [first.turnId, "read it"],
      [first.turnId, "answer in French"],
    ]);
    // The second model call got it as text after the tool result, in the same user message.
    expect(h.fake.requests).toHaveLength(2);
    const last = h.fake.requests[1]!.body.messages!.at(-1)!;
    expect(last.role).toBe("user");
    const content = last.content as Array<{ type: string; text?: string }>;
    expect(content.map((c) => c.type)).toEqual(["tool_result", "text"]);
    expect(content[1]!.text).toBe("answer in French");
    // Not run again as a turn of its own.
    const view = await h.client.sessions.getSession({ sessionId });
    expect(view.session?.runtime?.queuedMessages).toEqual([]);
    expect(view.session?.state).toBe(SessionState.IDLE);
  });

  it("STEER when the turn ends before another step: it runs as a turn of its own, once", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.enqueue(
      textResponse("the final answer comes slowly here", { chunkDelayMs: 80 }),
      textResponse("steer answered"),
    );
    const first = await h.client.sessions.sendMessage({ sessionId, text: "hello" });
    await readEvents(h.client, sessionId, streaming);
    const steer = await h.client.sessions.sendMessage({
      sessionId,
      text: "one more thing",
      policy: SendPolicy.STEER,
    });
    expect(steer).toMatchObject({ turnId: first.turnId, steered: true });
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    const [, own] = ends(events);
    expect(ends(events)[0]).toEqual([first.turnId, TurnOutcome.COMPLETED]);
    expect(own![1]).toBe(TurnOutcome.COMPLETED);
    expect(userTexts(events)).toEqual([
      [first.turnId, "hello"],
      [own![0], "one more thing"],
    ]);
    expect(h.fake.requests).toHaveLength(2);
    expect(JSON.stringify(h.fake.requests[1]!.body.messages!.at(-1))).toContain("one more thing");
    await new Promise((r) => setTimeout(r, 200));
    expect(h.fake.requests).toHaveLength(2);
  });

  it("INTERRUPT a turn waiting for an approval: it ends CANCELLED, the message runs next", async () => {
    h = await agentHarness({
      profile: { permissions: { mode: PermissionMode.ALLOW, ask: ["Bash"] } },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(bash("toolu_w1", "echo never > never.txt"), textResponse("after"));
    const first = await h.client.sessions.sendMessage({ sessionId, text: "one" });
    await readEvents(h.client, sessionId, waitingFor(1));
    const second = await h.client.sessions.sendMessage({
      sessionId,
      text: "two",
      policy: SendPolicy.INTERRUPT,
    });
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(ends(events)).toEqual([
      [first.turnId, TurnOutcome.CANCELLED],
      [second.turnId, TurnOutcome.COMPLETED],
    ]);
    // The waiting call never ran; the model was told so.
    const files = await h.client.workspace.listFiles({ sessionId });
    expect(files.files.map((f) => f.path)).not.toContain("never.txt");
    await idle(sessionId);
  });

  it("STEER into a turn waiting for an approval: the model reads it when the turn goes on", async () => {
    h = await agentHarness({
      profile: { permissions: { mode: PermissionMode.ALLOW, ask: ["Bash"] } },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(bash("toolu_w2", "echo ok"), textResponse("done"));
    const first = await h.client.sessions.sendMessage({ sessionId, text: "one" });
    await readEvents(h.client, sessionId, waitingFor(1));
    const steered = await h.client.sessions.sendMessage({
      sessionId,
      text: "also check the logs",
      policy: SendPolicy.STEER,
    });
    expect(steered).toMatchObject({ steered: true, turnId: first.turnId });
    await h.client.sessions.answerToolCall({
      sessionId,
      toolUseId: "toolu_w2",
      answer: { case: "approval", value: { allow: true } },
    });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(ends(events)).toEqual([[first.turnId, TurnOutcome.COMPLETED]]);
    expect(userTexts(events)).toEqual([
      [first.turnId, "one"],
      [first.turnId, "also check the logs"],
    ]);
    // The second request carries the tool result and the steered text together.
    const last = h.fake.requests.at(-1)!.body.messages!.at(-1)!;
    expect(JSON.stringify(last.content)).toContain("also check the logs");
    await idle(sessionId);
  });

  it("rejects an unknown policy, naming the field", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    const err = await h.client.sessions
      .sendMessage({ sessionId, text: "x", policy: 42 as SendPolicy })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toContain("policy");
  });
});
