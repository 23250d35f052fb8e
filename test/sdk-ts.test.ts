// The TypeScript SDK (sdk/ts) against the real server: running a turn, watching and resuming a
// feed across cut connections, the conversation fold, cancelling with an AbortSignal, and
// answering approvals.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AgentRuntimeClient,
  AgentRuntimeError,
  createNodeClient,
  type SessionEvent,
  SessionState,
  ToolStatus,
  TurnOutcome,
} from "../sdk/ts/src/node.js";
import { type CutProxy, startCutProxy } from "./support/cut-proxy.js";
import { type StartedServer, startServer } from "./support/server.js";

const KEY = "sdk-ts-key-acme-0123456789";
let server: StartedServer;
let proxy: CutProxy;
let client: AgentRuntimeClient;
let demoProfileId: string;

beforeAll(async () => {
  server = await startServer({ env: { AGENT_RUNTIME_API_KEYS: `${KEY}=acme` } });
  proxy = await startCutProxy(server.port);
  client = createNodeClient({ baseUrl: server.url, apiKey: KEY });
  demoProfileId = (await client.findProfile("demo")).id;
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});

const newSession = async (profileId = demoProfileId) =>
  (await client.createSession({ agentProfileId: profileId })).id;

/** The session once it is idle (its turn's last event, the status change, is stored). */
async function idle(sessionId: string) {
  for (;;) {
    const session = await client.getSession(sessionId);
    if (session.state === SessionState.IDLE) return session;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sequencesOf = (events: SessionEvent[]) => events.map((e) => Number(e.sequence));
const from = (first: number, count: number) => Array.from({ length: count }, (_, i) => first + i);

describe("runTurn", () => {
  it("yields the turn's events from send to turn_completed and folds them", async () => {
    const sessionId = await newSession();
    await client.runTurn(sessionId, "first").done();
    // The session going idle is the first turn's last event (after its turn_completed).
    const before = Number((await idle(sessionId)).lastSequence);

    const turn = client.runTurn(sessionId, "hello");
    const events: SessionEvent[] = [];
    for await (const event of turn) events.push(event);

    expect(turn.turnId).toMatch(/^trn_/);
    expect(events.every((e) => e.turnId === turn.turnId)).toBe(true);
    // Nothing of the turn is missed: its events start right after the sequence before sending.
    expect(sequencesOf(events)).toEqual(from(before + 1, events.length));
    expect(events.at(-1)?.payload.case).toBe("turnCompleted");
    expect(turn.outcome).toBe(TurnOutcome.COMPLETED);

    const { conversation } = turn;
    const calls = conversation.toolCalls;
    expect(calls.map((c) => c.name)).toEqual(["Write", "Bash"]);
    expect(calls[0]).toMatchObject({
      input: { file_path: "notes/demo.md" },
      status: ToolStatus.SUCCEEDED,
    });
    expect(calls[1]!.result?.output).toContain("> hello");
    expect(conversation.finalText).toContain("demo model");
    expect(conversation.transcript().split("\n")[0]).toBe("user: hello");
    expect(conversation.usage.turn?.outputTokens).toBeGreaterThan(0n);
  });

  it("folds a whole session into the blocks the server saved", async () => {
    const sessionId = await newSession();
    await client.runTurn(sessionId, "one").done();
    await client.runTurn(sessionId, "two").done();
    const conversation = await client.conversation(sessionId);
    const saved = (await client.raw.sessions.listMessages({ sessionId })).blocks;
    expect(conversation.blocks.length).toBe(saved.length);
    expect(conversation.blocks.map((b) => b.content)).toEqual(saved.map((b) => b.content));
    expect(conversation.blocks.every((b) => conversation.isComplete(b.id))).toBe(true);
    expect([...conversation.turns.values()].map((t) => t.outcome)).toEqual([
      TurnOutcome.COMPLETED,
      TurnOutcome.COMPLETED,
    ]);
  });

  it("resumes after every connection is cut, with no gap or duplicate", async () => {
    for (const protocol of ["connect", "grpc", "grpc-web"] as const) {
      const viaProxy = createNodeClient({ baseUrl: proxy.url, apiKey: KEY, protocol });
      const sessionId = await newSession();
      const reconnects: number[] = [];
      const turn = viaProxy.runTurn(sessionId, "cut me", {
        onReconnect: (r) => reconnects.push(r.afterSequence),
      });
      const events: SessionEvent[] = [];
      let cut = 0;
      for await (const event of turn) {
        events.push(event);
        if (events.length === 15 || events.length === 40) cut += proxy.cut();
      }
      expect(cut, protocol).toBeGreaterThan(0);
      // Events already on their way when the cut came may still arrive before the error.
      expect(reconnects.length, protocol).toBe(2);
      expect(reconnects[0]!, protocol).toBeGreaterThanOrEqual(15);
      expect(reconnects[1]!, protocol).toBeGreaterThanOrEqual(40);
      expect(sequencesOf(events), protocol).toEqual(from(1, events.length));
      expect(turn.outcome, protocol).toBe(TurnOutcome.COMPLETED);
      const last = Number((await client.getSession(sessionId)).lastSequence);
      expect(Number(events.at(-1)!.sequence)).toBeLessThanOrEqual(last);
    }
  });

  it("stops on an AbortSignal and cancels the turn", async () => {
    const sessionId = await newSession();
    const controller = new AbortController();
    const turn = client.runTurn(sessionId, "stop soon", { signal: controller.signal });
    const error = await (async () => {
      for await (const event of turn) {
        if (event.payload.case === "blockDelta") controller.abort();
      }
    })().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(AgentRuntimeError);
    expect(error).toMatchObject({ code: "CANCELED", reason: "ABORTED" });
    // The turn was cancelled on the server too.
    for await (const event of client.watch(sessionId)) {
      if (event.payload.case === "turnCompleted" && event.turnId === turn.turnId) {
        expect(event.payload.value.turn?.outcome).toBe(TurnOutcome.CANCELLED);
        break;
      }
    }
  });
});

describe("watch", () => {
  it("replays after a sequence, follows live, and ends on abort", async () => {
    const sessionId = await newSession();
    await client.runTurn(sessionId, "one").done();
    const controller = new AbortController();
    const seen: number[] = [];
    const watching = (async () => {
      for await (const event of client.watch(sessionId, {
        afterSequence: 5,
        signal: controller.signal,
      })) {
        seen.push(Number(event.sequence));
      }
    })().catch((err: unknown) => err);
    const second = client.runTurn(sessionId, "two");
    await second.done();
    const last = Number((await idle(sessionId)).lastSequence);
    while ((seen.at(-1) ?? 0) < last) await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    expect(await watching).toMatchObject({ code: "CANCELED" });
    expect(seen).toEqual(from(6, last - 5));
  });
});

describe("approvals", () => {
  it("answers waiting tool calls with onToolCall, and by hand", async () => {
    const approvals = (await client.findProfile("demo-approvals")).id;

    const allowed = await client
      .runTurn(await newSession(approvals), "hello", {
        onToolCall: (call) =>
          call.toolName === "Bash" ? { allow: true, message: "ok" } : undefined,
      })
      .done();
    expect(allowed.outcome).toBe(TurnOutcome.COMPLETED);
    const bash = allowed.conversation.toolCalls.find((c) => c.name === "Bash");
    expect(bash).toMatchObject({ status: ToolStatus.SUCCEEDED });
    expect(bash?.result?.output).toContain("demo.md");

    const sessionId = await newSession(approvals);
    const turn = client.runTurn(sessionId, "hello");
    let waited = 0;
    for await (const event of turn) {
      if (event.payload.case !== "toolCallWaiting") continue;
      const call = event.payload.value.call!;
      expect(turn.conversation.pendingToolCalls.has(call.toolUseId)).toBe(true);
      waited++;
      const decision = await client.deny(sessionId, call.toolUseId, "not now");
      expect(decision).toMatchObject({ toolUseId: call.toolUseId, message: "not now" });
      // A second answer is refused, with its reason.
      await expect(client.allow(sessionId, call.toolUseId)).rejects.toMatchObject({
        code: "FAILED_PRECONDITION",
      });
    }
    expect(waited).toBe(1);
    expect(turn.conversation.pendingToolCalls.size).toBe(0);
    expect(turn.conversation.toolCalls.find((c) => c.name === "Bash")?.status).toBe(
      ToolStatus.DENIED,
    );
  });
});
