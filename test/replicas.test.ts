// Three replicas (real server processes) on one FerretDB: sessions leased to one replica at a
// time, calls taken by any, feeds read on any, takeover when the owner is killed, and fencing of
// an owner that was paused past its lease.

import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionEvent } from "#gen/event_pb.js";
import { AgentProfileService } from "#gen/profile_service_pb.js";
import { TurnOutcome } from "#gen/session_pb.js";
import { SessionService } from "#gen/session_service_pb.js";
import { readEvents, turnsCompleted } from "./support/agent.js";
import { FakeAnthropic, streamResponse, textResponse } from "./support/fake-anthropic.js";
import { MONGO_START_TIMEOUT_MS, type MongoServer, startMongo } from "./support/mongo.js";
import type { Clients } from "./support/runtime.js";
import { type StartedServer, startServer } from "./support/server.js";

/** Short leases, so a takeover comes quickly. */
const LEASE_TTL_MS = 2_000;

let mongo: MongoServer;
let fake: FakeAnthropic;
let db: MongoClient;
const replicas = new Map<string, StartedServer>();

function start(id: string): Promise<StartedServer> {
  return startServer({
    processGroup: true,
    env: {
      REPLICA_ID: id,
      LEASE_TTL_MS: String(LEASE_TTL_MS),
      FEED_POLL_MS: "50",
      MONGODB_URI: mongo.uri,
      MONGODB_DB: mongo.dbName,
      ANTHROPIC_API_KEY: "test-key",
      ANTHROPIC_BASE_URL: fake.url,
    },
  }).then((s) => {
    replicas.set(id, s);
    return s;
  });
}

function clients(id: string): Clients {
  const transport = createConnectTransport({ baseUrl: replicas.get(id)!.url, httpVersion: "2" });
  return {
    profiles: createClient(AgentProfileService, transport),
    sessions: createClient(SessionService, transport),
  } as Clients;
}

beforeAll(async () => {
  mongo = await startMongo({ backend: "postgresql" });
  fake = new FakeAnthropic();
  await fake.start();
  db = await MongoClient.connect(mongo.uri);
  await Promise.all(["r1", "r2", "r3"].map(start));
}, MONGO_START_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all([...replicas.values()].map((s) => s.stop().catch(() => undefined)));
  await db?.close();
  await fake?.stop();
  await mongo?.stop();
});

async function session(on: string, tools: string[] = ["Bash"]): Promise<string> {
  const c = clients(on);
  const profile = await c.profiles.createAgentProfile({
    profile: { name: "replicas", tools, model: "claude-sonnet-5-5" },
  });
  return (await c.sessions.createSession({ agentProfileId: profile.profile!.id })).session!.id;
}

async function leaseOf(sessionId: string) {
  const doc = await db
    .db(mongo.dbName)
    .collection<{ _id: string; lease?: { owner: string; token: number; expiresAt: Date } }>(
      "ar_sessions",
    )
    .findOne({ _id: sessionId });
  return doc?.lease;
}

/** Every event of the session as stored, in order. */
async function stored(sessionId: string): Promise<{ sequence: number; turnId?: string }[]> {
  return db
    .db(mongo.dbName)
    .collection<{ sequence: number; turnId?: string }>("ar_events")
    .find({ sessionId }, { projection: { _id: 0, sequence: 1, turnId: 1 } })
    .sort({ sequence: 1 })
    .toArray();
}

function sequences(events: SessionEvent[]): number[] {
  return events.map((e) => Number(e.sequence));
}

const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

function outcomes(events: SessionEvent[]): [string, TurnOutcome][] {
  return events.flatMap((e) =>
    e.payload.case === "turnCompleted" && !e.subagentId
      ? [[e.turnId, (e.payload.value.turn as { outcome: TurnOutcome }).outcome]]
      : [],
  );
}

describe("several replicas on one store", () => {
  it("runs a session on one replica; any replica takes its calls and streams its feed", async () => {
    const sessionId = await session("r2");
    // Readers on every replica before anything runs.
    const reading = ["r1", "r2", "r3"].map((id) =>
      readEvents(clients(id), sessionId, turnsCompleted(2), 0n, 30_000),
    );
    fake.enqueue(
      streamResponse([{ type: "tool_use", id: "t1", name: "Bash", input: { command: "echo hi" } }]),
      textResponse("first done"),
      textResponse("second done"),
    );
    const first = await clients("r3").sessions.sendMessage({ sessionId, text: "one" });
    expect((await leaseOf(sessionId))?.owner).toBe("r3");
    // Sent to a replica that does not run the session: a command the owner takes.
    const second = await clients("r1").sessions.sendMessage({ sessionId, text: "two" });
    const seen = await Promise.all(reading);
    const all = await stored(sessionId);
    expect(all.map((e) => e.sequence)).toEqual(oneToN(all.length));
    for (const events of seen) {
      expect(sequences(events)).toEqual(oneToN(events.length));
      expect(outcomes(events)).toEqual([
        [first.turnId, TurnOutcome.COMPLETED],
        [second.turnId, TurnOutcome.COMPLETED],
      ]);
    }
    expect(seen[0]!.map((e) => e.payload.case)).toEqual(seen[2]!.map((e) => e.payload.case));
    expect((await leaseOf(sessionId))?.owner).toBe("r3");
    // A cancel through another replica reaches the owner too (nothing runs: false).
    expect((await clients("r2").sessions.cancelTurn({ sessionId })).cancelled).toBe(false);
  }, 60_000);

  it("takes a killed owner's session over: the turn is interrupted, the next runs, no event lost or twice", async () => {
    const sessionId = await session("r1");
    const reader = readEvents(clients("r2"), sessionId, turnsCompleted(2), 0n, 60_000);
    fake.enqueue(
      streamResponse(
        [
          { type: "text", text: "working on it" },
          { type: "tool_use", id: "t1", name: "Bash", input: { command: "sleep 30" } },
        ],
        { stallAfterEvents: 8 },
      ),
    );
    const first = await clients("r1").sessions.sendMessage({ sessionId, text: "one" });
    const before = await leaseOf(sessionId);
    expect(before?.owner).toBe("r1");
    // Killed once the tool call streams (the model then stalls).
    await readEvents(clients("r3"), sessionId, (ev) =>
      ev.some(
        (e) =>
          e.payload.case === "blockStarted" && e.payload.value.block?.content.case === "toolUse",
      ),
    );
    await replicas.get("r1")!.crash();
    // Nobody sends anything: a surviving replica finds the expired lease and takes over.
    const interrupted = await readEvents(clients("r3"), sessionId, turnsCompleted(1), 0n, 30_000);
    expect(outcomes(interrupted)).toEqual([[first.turnId, TurnOutcome.INTERRUPTED]]);
    const after = await leaseOf(sessionId);
    expect(["r2", "r3"]).toContain(after?.owner);
    expect(after!.token).toBeGreaterThan(before!.token);
    fake.enqueue(textResponse("after the takeover"));
    const second = await clients("r3").sessions.sendMessage({ sessionId, text: "two" });
    const events = await reader;
    expect(sequences(events)).toEqual(oneToN(events.length));
    expect(outcomes(events)).toEqual([
      [first.turnId, TurnOutcome.INTERRUPTED],
      [second.turnId, TurnOutcome.COMPLETED],
    ]);
    const all = await stored(sessionId);
    expect(all.map((e) => e.sequence)).toEqual(oneToN(all.length));
    await start("r1"); // back for the next test
  }, 120_000);

  it("hands its leases back at a graceful stop: another replica runs the session at once", async () => {
    const sessionId = await session("r1", []);
    fake.enqueue(textResponse("on r1"));
    await clients("r1").sessions.sendMessage({ sessionId, text: "one" });
    await readEvents(clients("r1"), sessionId, turnsCompleted(1));
    expect((await leaseOf(sessionId))?.owner).toBe("r1");
    expect(await replicas.get("r1")!.stop()).toBe(0);
    const released = await leaseOf(sessionId);
    expect(released?.owner).toBe("r1");
    expect(new Date(released!.expiresAt).getTime()).toBeLessThanOrEqual(Date.now());
    // Taken by the replica that gets the next call, without waiting for an expiry.
    fake.enqueue(textResponse("on r2"));
    await clients("r2").sessions.sendMessage({ sessionId, text: "two" });
    expect((await leaseOf(sessionId))?.owner).toBe("r2");
    const events = await readEvents(clients("r3"), sessionId, turnsCompleted(2));
    expect(sequences(events)).toEqual(oneToN(events.length));
    await start("r1"); // back for the next test
  }, 60_000);

  it("refuses the late writes of an owner paused past its lease", async () => {
    const sessionId = await session("r1", []);
    const reader = readEvents(clients("r3"), sessionId, turnsCompleted(2), 0n, 60_000);
    // A long answer streamed slowly: r1 is writing events when it is paused.
    fake.enqueue(textResponse("word ".repeat(400), { chunkDelayMs: 20 }));
    const first = await clients("r1").sessions.sendMessage({ sessionId, text: "one" });
    await readEvents(clients("r2"), sessionId, (ev) => ev.length >= 20);
    const paused = replicas.get("r1")!;
    process.kill(paused.pid, "SIGSTOP");
    try {
      await new Promise((r) => setTimeout(r, LEASE_TTL_MS + 500));
      // The lease has expired: the replica that takes this call (or a sweep) takes it over.
      fake.enqueue(textResponse("after the pause"));
      const second = await clients("r2").sessions.sendMessage({ sessionId, text: "two" });
      expect(["r2", "r3"]).toContain((await leaseOf(sessionId))?.owner);
      const taken = await readEvents(clients("r2"), sessionId, turnsCompleted(2), 0n, 30_000);
      expect(outcomes(taken)).toEqual([
        [first.turnId, TurnOutcome.INTERRUPTED],
        [second.turnId, TurnOutcome.COMPLETED],
      ]);
    } finally {
      process.kill(paused.pid, "SIGCONT");
    }
    // Awake again, r1 goes on streaming the first turn until it learns it lost the lease.
    for (let i = 0; i < 100 && !paused.logs.some((l) => l.includes("another replica runs")); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(paused.logs.join("\n")).toContain("another replica runs the session now");
    await new Promise((r) => setTimeout(r, 1_000));
    const events = await reader;
    expect(sequences(events)).toEqual(oneToN(events.length));
    // Nothing of the first turn after its end (the status it left aside): r1's late events
    // were refused.
    const all = await stored(sessionId);
    expect(all.map((e) => e.sequence)).toEqual(oneToN(all.length));
    const end = events.findIndex(
      (e) => e.turnId === first.turnId && e.payload.case === "turnCompleted",
    );
    expect(end).toBeGreaterThan(0);
    const late = events
      .slice(end + 1)
      .filter((e) => e.turnId === first.turnId && e.payload.case !== "statusChanged");
    expect(late).toEqual([]);
    expect(["r2", "r3"]).toContain((await leaseOf(sessionId))?.owner);
    // r1 works on: it takes and forwards calls as before.
    fake.enqueue(textResponse("third"));
    await clients("r1").sessions.sendMessage({ sessionId, text: "three" });
    const three = await readEvents(clients("r1"), sessionId, turnsCompleted(3), 0n, 30_000);
    expect(sequences(three)).toEqual(oneToN(three.length));
  }, 120_000);
});
