// The MongoDB adapter under load, with its default settings: 100 concurrent writers, each round
// appending events and updating its session record, on FerretDB over SQLite, where concurrent writers meet "database is locked"
// (SQLITE_BUSY). No error may reach a writer, and everything is stored once.

import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MongoConnectOptions, MongoPersistence } from "../src/adapters/mongodb/persistence.js";
import { isTransient, type RetryEvent } from "../src/adapters/mongodb/resilience.js";
import { emptyUsage, type SessionEvent } from "../src/domain/types.js";
import { makeSession } from "../src/testing/records.js";
import {
  MONGO_START_TIMEOUT_MS,
  type MongoServer,
  randomDbName,
  startMongo,
} from "./support/mongo.js";

const WRITERS = 100;
const BATCH = 5;

function makeEvent(sessionId: string, sequence: number): SessionEvent {
  return {
    sessionId,
    sequence,
    time: new Date(1_700_000_000_000 + sequence),
    turnId: "trn_load",
    payload: {
      type: "block_delta",
      blockId: "blk_load",
      delta: { kind: "text", value: `event ${sequence} `.repeat(20) },
    },
  };
}

async function rawEvents(uri: string, dbName: string): Promise<SessionEvent[]> {
  const client = await MongoClient.connect(uri);
  try {
    const docs = await client
      .db(dbName)
      .collection<SessionEvent>("ar_events")
      .find({}, { projection: { _id: 0 } })
      .toArray();
    return docs as SessionEvent[];
  } finally {
    await client.close();
  }
}

let server: MongoServer;

beforeAll(async () => {
  server = await startMongo({ own: true, backend: "sqlite" });
}, MONGO_START_TIMEOUT_MS);

afterAll(async () => {
  await server?.stop();
});

interface LoadOptions {
  rounds: number;
  /** Also save a block (an upsert) each round. */
  blocks: boolean;
  adapter: MongoConnectOptions;
}

/** Runs the writers; resolves with the retries the adapter made, after checking what is stored. */
async function load(options: LoadOptions): Promise<RetryEvent[]> {
  const retries: RetryEvent[] = [];
  const dbName = randomDbName("load");
  const store = await MongoPersistence.connect(server.uri, dbName, {
    ...options.adapter,
    onRetry: (event) => retries.push(event),
  });
  try {
    const started = performance.now();
    const sessions = await Promise.all(
      Array.from({ length: WRITERS }, () => store.createSessionRecord(makeSession("tenant-load"))),
    );
    // Each writer, round after round: a batch of events, maybe a block, then its record.
    await Promise.all(
      sessions.map(async (session) => {
        for (let round = 0; round < options.rounds; round++) {
          const first = round * BATCH + 1;
          const batch = Array.from({ length: BATCH }, (_, i) => makeEvent(session.id, first + i));
          await store.appendEvents(session.id, batch);
          if (options.blocks) {
            await store.saveBlock(session.id, {
              id: `blk_${round}`,
              turnId: "trn_load",
              createTime: new Date(),
              sequence: first,
              content: { type: "assistant_text", text: "x".repeat(5_000) },
            });
          }
          await store.updateSessionRecord(session.id, {
            lastSequence: first + BATCH - 1,
            state: round % 2 === 0 ? "running" : "idle",
            lastActivityTime: new Date(),
            usage: { ...emptyUsage(), outputTokens: round },
          });
        }
      }),
    );
    const elapsed = performance.now() - started;

    // Checked in two whole-collection reads: FerretDB over SQLite scans a collection for
    // every query, so a read per session would take longer than the load itself.
    const records = new Map((await store.listAllSessions()).map((r) => [r.id, r]));
    const stored = await rawEvents(server.uri, dbName);
    expect(records.size).toBe(WRITERS);
    expect(stored.length).toBe(WRITERS * options.rounds * BATCH);
    const bySession = new Map<string, SessionEvent[]>();
    for (const e of stored) bySession.set(e.sessionId, [...(bySession.get(e.sessionId) ?? []), e]);
    for (const session of sessions) {
      const events = (bySession.get(session.id) ?? []).sort((a, b) => a.sequence - b.sequence);
      expect(events).toStrictEqual(
        Array.from({ length: options.rounds * BATCH }, (_, i) => makeEvent(session.id, i + 1)),
      );
      const record = records.get(session.id);
      expect(record!.lastSequence).toBe(options.rounds * BATCH);
      expect(record!.usage.outputTokens).toBe(options.rounds - 1);
    }
    const calls = WRITERS * (1 + options.rounds * (options.blocks ? 3 : 2));
    const byOperation: Record<string, number> = {};
    for (const r of retries) byOperation[r.operation] = (byOperation[r.operation] ?? 0) + 1;
    const causes = new Set(retries.map((r) => String((r.error as Error).message).slice(-40)));
    console.info(
      `load: ${WRITERS} writers, ${calls} calls in ${Math.round(elapsed)} ms; ${retries.length} retries ${JSON.stringify(byOperation)}, highest attempt ${Math.max(0, ...retries.map((r) => r.attempt))}; ${[...causes].join(" | ")}`,
    );
    return retries;
  } finally {
    await store.close();
  }
}

describe("MongoPersistence under load (FerretDB over SQLite)", () => {
  it(`${WRITERS} concurrent writers append events and update their records, default settings, no error`, async () => {
    await load({ rounds: 10, blocks: false, adapter: {} });
  }, 300_000);

  it(`${WRITERS} writers with a connection each, saving blocks too: busy SQLite is retried, no error`, async () => {
    // A pool as large as the writers puts 100 writers on SQLite at once, which then answers
    // some with "database is locked"; the adapter retries them. FerretDB over SQLite serves
    // writes one at a time, so queueing takes longer than the default timeout here.
    const retries = await load({
      rounds: 3,
      blocks: true,
      adapter: { maxPoolSize: WRITERS, operationTimeoutMs: 60_000 },
    });
    for (const r of retries) expect(isTransient(r.error)).toBe(true);
  }, 300_000);
});
