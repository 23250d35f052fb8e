// The session core when the store fails halfway: in process, on the memory store with faults
// injected per method. Nothing may end the process, nothing acknowledged may be lost, and every
// turn completes exactly once.

import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { SessionState, TurnOutcome } from "#gen/session_pb.js";
import { MemoryPersistence } from "../src/adapters/memory/persistence.js";
import { AppError } from "../src/domain/errors.js";
import type { PersistenceAdapter } from "../src/ports/persistence.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { streamResponse, textResponse } from "./support/fake-anthropic.js";
import { faultyStore } from "./support/faulty-store.js";

let h: AgentHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const outcomes = (events: Awaited<ReturnType<typeof readEvents>>) =>
  events
    .filter((e) => e.payload.case === "turnCompleted")
    .map((e) => (e.payload.value as { turn: { id: string; outcome: TurnOutcome } }).turn);

describe("the session core under store faults", () => {
  it("answers UNAVAILABLE and queues nothing when the record cannot be written", async () => {
    const f = faultyStore();
    h = await agentHarness({ persistence: f.store });
    const sessionId = await h.newSession();
    f.failing.add("updateSessionRecord");
    const err = await h.client.sessions
      .sendMessage({ sessionId, text: "hi" })
      .catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.Unavailable);
    f.failing.clear();
    const got = await h.client.sessions.getSession({ sessionId });
    expect(got.session?.runtime?.queuedMessages ?? []).toHaveLength(0);
    h.fake.enqueue(textResponse("back"));
    const sent = await h.client.sessions.sendMessage({ sessionId, text: "again" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(outcomes(events)).toEqual([
      expect.objectContaining({ id: sent.turnId, outcome: TurnOutcome.COMPLETED }),
    ]);
  });

  it("survives block saves failing mid-turn: the turn ends once, and the next one runs", async () => {
    const f = faultyStore();
    h = await agentHarness({ persistence: f.store });
    const sessionId = await h.newSession();
    f.failing.add("saveBlock");
    h.fake.enqueue(textResponse("lost in the outage", { chunkDelayMs: 5 }));
    const first = await h.client.sessions.sendMessage({ sessionId, text: "one" });
    // The turn cannot complete while blocks cannot be saved; the store comes back.
    await new Promise((r) => setTimeout(r, 300));
    f.failing.clear();
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const [done] = outcomes(events);
    expect(done).toMatchObject({ id: first.turnId, outcome: TurnOutcome.INTERRUPTED });
    h.fake.enqueue(textResponse("fine"));
    const second = await h.client.sessions.sendMessage({ sessionId, text: "two" });
    const all = await readEvents(h.client, sessionId, turnsCompleted(2));
    const ends = outcomes(all);
    expect(ends.map((t) => t.id)).toEqual([first.turnId, second.turnId]);
    expect(ends[1]!.outcome).toBe(TurnOutcome.COMPLETED);
    const starts = all.filter((e) => e.payload.case === "turnStarted").map((e) => e.turnId);
    expect(starts).toEqual([first.turnId, second.turnId]);
    // Every block the feed completed is listed.
    const completed = all.filter((e) => e.payload.case === "blockCompleted").length;
    const listed = (await h.client.sessions.listMessages({ sessionId, pageSize: 1000 })).blocks
      .length;
    expect(listed).toBe(completed);
  });

  it("delivers every event in order when appends fail for a while", async () => {
    const f = faultyStore();
    h = await agentHarness({ persistence: f.store });
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("a b c d e f g", { chunkDelayMs: 20 }));
    const reading = readEvents(h.client, sessionId, turnsCompleted(1));
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    await new Promise((r) => setTimeout(r, 60));
    f.failing.add("appendEvents");
    await new Promise((r) => setTimeout(r, 400));
    f.failing.clear();
    const events = await reading;
    const sequences = events.map((e) => Number(e.sequence));
    expect(sequences).toEqual(sequences.map((_, i) => i + 1));
    expect(outcomes(events)[0]!.outcome).toBe(TurnOutcome.COMPLETED);
    expect(f.calls.get("appendEvents")).toBeGreaterThan(1);
  });

  it("lets a completed turn go as soon as the store answers again, whatever the backoff", async () => {
    const f = faultyStore();
    // A backoff far longer than the test: only the store's return can end the wait.
    h = await agentHarness({
      persistence: f.store,
      storeCheckIntervalMs: 20,
      turnRetryMs: { min: 600_000, max: 600_000 },
    });
    const sessionId = await h.newSession();
    let releases = 0;
    // The outage starts between turn_completed (stored) and the record letting the turn go.
    f.failWhen.test = (name, args) => {
      const change = args[1] as Record<string, unknown> | undefined;
      const release =
        name === "updateSessionRecord" &&
        change !== undefined &&
        "currentTurn" in change &&
        change.currentTurn === undefined;
      if (release) releases++;
      return release || (releases > 0 && name === "ping");
    };
    h.fake.enqueue(textResponse("done"));
    const sent = await h.client.sessions.sendMessage({ sessionId, text: "go" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(outcomes(events)[0]).toMatchObject({ id: sent.turnId, outcome: TurnOutcome.COMPLETED });
    await until(() => releases > 0 && !h!.runtime.health.isOk("store"));
    const during = await h.client.sessions.getSession({ sessionId });
    expect(during.session?.state).toBe(SessionState.RUNNING);
    f.failWhen.test = undefined;
    await until(async () => {
      const got = await h!.client.sessions.getSession({ sessionId });
      return got.session?.state === SessionState.IDLE;
    });
    const stored = await f.store.loadSession(sessionId);
    expect(stored).toMatchObject({ state: "idle", queuedMessages: [] });
    expect(stored?.currentTurn).toBeUndefined();
  });
});

/** Polls `check` until it holds (the test's own timeout bounds it). */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
}

describe("the health check and a store that stops answering", () => {
  it("turns NOT_SERVING as soon as a call finds the store unavailable, not at its next tick", async () => {
    const f = faultyStore();
    // A check interval far longer than the test: only the failing call can start a check.
    h = await agentHarness({ persistence: f.store, storeCheckIntervalMs: 600_000 });
    const sessionId = await h.newSession();
    expect(h.runtime.health.isOk("store")).toBe(true);
    f.failing.add("ping");
    f.failing.add("loadSession");
    const err = await h.client.sessions.getSession({ sessionId }).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.Unavailable);
    await until(() => !h!.runtime.health.isOk("store"));
  });
});

describe("files stored by a save that reported failure", () => {
  it("get their events once the store answers again, without a restart", async () => {
    const inner = new MemoryPersistence();
    let lostAck = false;
    // saveWorkspaceFile stores the file, then reports failure (the acknowledgement was lost);
    // ping fails meanwhile, so health sees the outage and its end.
    const store = new Proxy(inner, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          if (lostAck && name === "ping") throw unavailable();
          const result = await value.apply(target, args);
          if (lostAck && name === "saveWorkspaceFile") throw unavailable();
          return result;
        };
      },
    }) as PersistenceAdapter;
    h = await agentHarness({ persistence: store, storeCheckIntervalMs: 50 });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        { type: "tool_use", id: "t1", name: "Bash", input: { command: "echo hi > a.txt" } },
      ]),
      textResponse("done"),
    );
    lostAck = true;
    await h.client.sessions.sendMessage({ sessionId, text: "write" });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    expect((await inner.listWorkspaceFiles(sessionId)).map((f) => f.path)).toContain("a.txt");
    lostAck = false;
    const events = await readEvents(h.client, sessionId, (all) =>
      all.some((e) => e.payload.case === "fileCreated" && e.payload.value.file?.path === "a.txt"),
    );
    expect(events.filter((e) => e.payload.case === "fileCreated")).toHaveLength(1);
    await until(async () => !(await inner.loadSession(sessionId))?.fileEventsPending);
  });
});

function unavailable(): AppError {
  return new AppError("unavailable", "STORE_UNAVAILABLE", "injected: the acknowledgement was lost");
}
