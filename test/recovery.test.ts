// Restart recovery settles a claimed turn from the feed, idempotently: a crash at any point of a
// turn's writes leaves a state that a restart (or two) resolves to exactly one turn_completed.

import { afterEach, describe, expect, it } from "vitest";
import { MemoryPersistence } from "../src/adapters/memory/persistence.js";
import { silentLogger } from "../src/app/shared/logger.js";
import { emptyUsage, type SessionEvent, type SessionRecord } from "../src/domain/types.js";
import { type AgentRuntime, createAgentRuntime, demoProfile } from "../src/runtime.js";
import { inProcessRuntime } from "./support/runtime.js";

const runtimes: AgentRuntime[] = [];
afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.shutdown();
});

/** A runtime on `store` with the demo model and no sandbox: a turn that needs no tools. */
async function start(store: MemoryPersistence) {
  const { runtime } = await inProcessRuntime({ persistence: store });
  runtimes.push(runtime);
  return runtime;
}

async function allEvents(store: MemoryPersistence, sessionId: string): Promise<SessionEvent[]> {
  return store.readEvents(sessionId, 0, 100_000);
}

const turnMarks = (events: SessionEvent[], turnId: string) =>
  events
    .filter(
      (e) =>
        e.turnId === turnId &&
        (e.payload.type === "turn_started" || e.payload.type === "turn_completed"),
    )
    .map((e) => e.payload.type);

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A store with one session of a no-tool profile (the demo model chats when asked to). */
async function setup() {
  const store = new MemoryPersistence();
  const first = await start(store);
  const profile = await first.useCases.profiles.create("default", { ...demoProfile(), tools: [] });
  const view = await first.useCases.sessions.create("default", {
    agentProfileId: profile.id,
    name: "",
    metadata: {},
    initialFiles: [],
    options: { model: "" },
    requestId: "",
  });
  await first.shutdown();
  runtimes.length = 0;
  return { store, sessionId: view.record.id };
}

const message = (turnId: string) => ({
  turnId,
  text: "hello",
  attachments: [],
  enqueueTime: new Date(),
});
const claim = (turnId: string, startSequence: number) => ({
  id: turnId,
  userBlockId: "",
  startTime: new Date(),
  usage: emptyUsage(),
  startSequence,
});

describe("restart recovery", () => {
  it("runs a claimed turn whose turn_started never reached the feed, once", async () => {
    const { store, sessionId } = await setup();
    const turnId = "trn_01jz0000000000000000000001";
    await store.updateSessionRecord(sessionId, {
      state: "running",
      currentTurn: claim(turnId, 1),
      queuedMessages: [message(turnId)],
    });
    await start(store);
    await until(async () => (await store.loadSession(sessionId))?.state === "idle");
    expect(turnMarks(await allEvents(store, sessionId), turnId)).toEqual([
      "turn_started",
      "turn_completed",
    ]);
    const record = (await store.loadSession(sessionId)) as SessionRecord;
    expect(record.currentTurn).toBeUndefined();
    expect(record.queuedMessages).toEqual([]);
  });

  it("never completes again a turn whose turn_completed is in the feed", async () => {
    const { store, sessionId } = await setup();
    const runtime = await start(store);
    const { turnId } = await runtime.useCases.messages.send("default", sessionId, "hello", []);
    await until(async () => (await store.loadSession(sessionId))?.state === "idle");
    await runtime.shutdown();
    // A crash after turn_completed was stored and before the record let the turn go.
    const events = await allEvents(store, sessionId);
    const started = events.find((e) => e.payload.type === "turn_started")!;
    await store.updateSessionRecord(sessionId, {
      state: "running",
      currentTurn: claim(turnId, started.sequence),
      queuedMessages: [message(turnId)],
    });
    await start(store);
    await until(async () => (await store.loadSession(sessionId))?.state === "idle");
    expect(turnMarks(await allEvents(store, sessionId), turnId)).toEqual([
      "turn_started",
      "turn_completed",
    ]);
  });

  it("interrupts a turn cut short once, and a second restart changes nothing", async () => {
    const { store, sessionId } = await setup();
    const turnId = "trn_01jz0000000000000000000002";
    const block = {
      id: "blk_01jz0000000000000000000003",
      turnId,
      createTime: new Date(),
      sequence: 2,
      content: { type: "assistant_text" as const, text: "" },
    };
    await store.appendEvents(sessionId, [
      {
        sessionId,
        sequence: 1,
        time: new Date(),
        turnId,
        payload: { type: "turn_started", turn: claim(turnId, 1) },
      },
      {
        sessionId,
        sequence: 2,
        time: new Date(),
        turnId,
        payload: { type: "block_started", block },
      },
      {
        sessionId,
        sequence: 3,
        time: new Date(),
        turnId,
        payload: {
          type: "block_delta",
          blockId: block.id,
          delta: { kind: "text", value: "half an answ" },
        },
      },
    ]);
    await store.updateSessionRecord(sessionId, {
      state: "running",
      lastSequence: 3,
      currentTurn: claim(turnId, 1),
      queuedMessages: [message(turnId)],
    });
    const second = await start(store);
    await until(async () => (await store.loadSession(sessionId))?.state === "idle");
    await second.shutdown();
    runtimes.length = 0;
    const after = await allEvents(store, sessionId);
    expect(turnMarks(after, turnId)).toEqual(["turn_started", "turn_completed"]);
    const end = after.find((e) => e.payload.type === "turn_completed")!;
    expect(end.payload).toMatchObject({ turn: { outcome: "interrupted" } });
    const cut = after.find(
      (e) => e.payload.type === "block_completed" && e.payload.block.id === block.id,
    )!;
    expect(cut.payload).toMatchObject({ block: { content: { text: "half an answ" } } });
    expect((await store.listBlocks(sessionId, 0, 100)).map((b) => b.id)).toContain(block.id);
    await start(store);
    await new Promise((r) => setTimeout(r, 200));
    expect((await allEvents(store, sessionId)).length).toBe(after.length);
  });

  it("answers NOT_SERVING until recovery is done", async () => {
    const { store, sessionId } = await setup();
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    // A store whose recovery listing is slow: the server answers, health says NOT_SERVING.
    const slow = Object.create(store) as MemoryPersistence;
    slow.listAllSessions = async (filter) => {
      await held;
      return store.listAllSessions(filter);
    };
    const runtime = await createAgentRuntime({ persistence: slow, logger: silentLogger });
    runtimes.push(runtime);
    await runtime.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(runtime.health.isServing()).toBe(false);
    expect(runtime.health.failingConditions).toEqual(["recovered"]);
    release();
    await runtime.recovered;
    expect(runtime.health.isServing()).toBe(true);
    expect((await runtime.useCases.sessions.get("default", sessionId)).record.id).toBe(sessionId);
  });

  it("writes the file events a crash cut off between storing files and their events", async () => {
    const { store, sessionId } = await setup();
    const content = new TextEncoder().encode("stored, never announced");
    await store.saveWorkspaceFile(sessionId, {
      info: {
        path: "lost.txt",
        size: content.byteLength,
        sha256: "x".repeat(64),
        modifyTime: new Date(),
      },
      content,
    });
    await store.updateSessionRecord(sessionId, { fileEventsPending: true });
    await start(store);
    await until(async () => !(await store.loadSession(sessionId))?.fileEventsPending);
    const files = (await allEvents(store, sessionId)).filter(
      (e) => e.payload.type === "file_created",
    );
    expect(
      files.map((e) => (e.payload as { file: { path: string; sha256: string } }).file),
    ).toEqual([expect.objectContaining({ path: "lost.txt", sha256: "x".repeat(64) })]);
  });
});
