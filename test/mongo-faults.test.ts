// The MongoDB adapter under faults, against a FerretDB of this file's own (over SQLite, and over
// PostgreSQL), killed, stopped and restarted on the same data and port:
// - kill -9 while writers run: every failed call is STORE_UNAVAILABLE (never a raw driver error,
//   never an unhandled rejection), and after a restart the same calls succeed; nothing that was
//   acknowledged is lost, and retried batches are stored once;
// - SIGSTOP: calls fail with STORE_UNAVAILABLE within a bound of the operation timeout, never
//   hang; after SIGCONT the store works again, and the writes abandoned meanwhile, retried, are
//   stored once;
// - lost acknowledgements (a proxy between adapter and server drops the reply to one write):
//   the adapter's own retry finds the write done and counts it as done.

import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MongoPersistence } from "../src/adapters/mongodb/persistence.js";
import type { RetryEvent } from "../src/adapters/mongodb/resilience.js";
import { AppError } from "../src/domain/errors.js";
import type { SessionEvent, SessionRecord } from "../src/domain/types.js";
import { makeSession } from "../src/testing/records.js";
import {
  MONGO_START_TIMEOUT_MS,
  type MongoBackend,
  type MongoServer,
  randomDbName,
  startMongo,
} from "./support/mongo.js";

/** The operation timeout of the adapters under test, and the bound a failure must meet. */
const TIMEOUT_MS = 2_000;
const FAIL_WITHIN_MS = 3 * TIMEOUT_MS;

// --- a proxy that can drop the reply to one write: a lost acknowledgement ---

interface WireProxy {
  uri: string;
  /** Drops the reply to the next `command` on `collection` and closes that connection. */
  dropNextReply(command: string, collection: string): void;
  dropped: number;
  close(): Promise<void>;
}

/** The command name and its collection, from an OP_MSG request with a body section first. */
function commandOf(message: Buffer): { command: string; collection: string } | undefined {
  const OP_MSG = 2013;
  if (message.readInt32LE(12) !== OP_MSG || message[20] !== 0) return undefined;
  const doc = 21; // header (16), flag bits (4), section kind (1)
  const type = message[doc + 4];
  const nameEnd = message.indexOf(0, doc + 5);
  const command = message.toString("utf8", doc + 5, nameEnd);
  if (type !== 0x02) return { command, collection: "" }; // not a string value
  const length = message.readInt32LE(nameEnd + 1);
  const collection = message.toString("utf8", nameEnd + 5, nameEnd + 5 + length - 1);
  return { command, collection };
}

/** Splits a stream of wire messages (each starts with its int32 length). */
function messages(onMessage: (message: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
      const length = pending.readInt32LE(0);
      onMessage(pending.subarray(0, length));
      pending = pending.subarray(length);
    }
  };
}

async function startProxy(upstreamPort: number): Promise<WireProxy> {
  let target: { command: string; collection: string } | undefined;
  const doomed = new Set<number>();
  const sockets = new Set<Socket>();
  const proxy: WireProxy = {
    uri: "",
    dropped: 0,
    dropNextReply: (command, collection) => {
      target = { command, collection };
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(upstreamPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.on(
      "data",
      messages((message) => {
        const cmd = commandOf(message);
        if (target && cmd?.command === target.command && cmd.collection === target.collection) {
          doomed.add(message.readInt32LE(4)); // requestID
          target = undefined;
        }
        upstream.write(message);
      }),
    );
    upstream.on(
      "data",
      messages((message) => {
        const responseTo = message.readInt32LE(8);
        if (doomed.delete(responseTo)) {
          // The server did the write; its acknowledgement never arrives.
          proxy.dropped++;
          end();
          return;
        }
        client.write(message);
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const address = server.address();
  proxy.uri = `mongodb://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/`;
  return proxy;
}

// --- helpers ---

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function makeEvent(sessionId: string, sequence: number): SessionEvent {
  return {
    sessionId,
    sequence,
    time: new Date(1_700_000_000_000 + sequence),
    turnId: "trn_f",
    payload: {
      type: "block_delta",
      blockId: "blk_f",
      delta: { kind: "text", value: `#${sequence}` },
    },
  };
}

function expectStoreUnavailable(err: unknown): void {
  expect(err, String(err)).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe("unavailable");
  expect((err as AppError).reason).toBe("STORE_UNAVAILABLE");
  expect((err as AppError).metadata).toEqual({ retryable: "true" });
}

/** How a call ended, and after how long. */
async function timed(call: () => Promise<unknown>): Promise<{ ms: number; error?: unknown }> {
  const start = performance.now();
  try {
    await call();
    return { ms: performance.now() - start };
  } catch (error) {
    return { ms: performance.now() - start, error };
  }
}

/** Polls `check` until it is true; fails after `withinMs`. */
async function until(what: string, withinMs: number, check: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await sleep(50);
  }
}

// --- the tests ---

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(() => {
  process.on("unhandledRejection", onUnhandled);
});

afterAll(() => {
  process.removeListener("unhandledRejection", onUnhandled);
});

function portOf(uri: string): number {
  return Number(new URL(uri).port);
}

const BACKENDS: MongoBackend[] = ["sqlite", "postgresql"];

describe.each(BACKENDS)("MongoPersistence under faults (own FerretDB over %s)", (backend) => {
  let db: MongoServer;
  const adapters: MongoPersistence[] = [];

  async function adapter(uri: string, retries: RetryEvent[] = []): Promise<MongoPersistence> {
    const store = await MongoPersistence.connect(uri, randomDbName("faults"), {
      operationTimeoutMs: TIMEOUT_MS,
      pingTimeoutMs: TIMEOUT_MS / 2,
      onRetry: (event) => retries.push(event),
    });
    adapters.push(store);
    return store;
  }

  beforeAll(async () => {
    db = await startMongo({ own: true, backend });
  }, MONGO_START_TIMEOUT_MS);

  afterEach(async () => {
    // A failed test must not leave the server stopped or gone for the next one.
    db.resume();
    if (db.pid === undefined) await db.restart();
    for (const store of adapters.splice(0)) await store.close().catch(() => undefined);
    expect(unhandled).toEqual([]);
  });

  afterAll(async () => {
    await db?.stop();
  });

  it("kill -9 while writers run: STORE_UNAVAILABLE, then the same calls succeed after a restart, nothing acknowledged lost", async () => {
    const store = await adapter(db.uri);
    const WRITERS = 10;
    const BATCH = 3;
    interface Writer {
      session: SessionRecord;
      /** Batches whose appendEvents resolved. */
      acked: number;
      /** The highest sequence whose record update resolved. */
      recordAcked: number;
      failures: { error: unknown; ms: number; at: number }[];
    }
    const writers: Writer[] = [];
    for (let i = 0; i < WRITERS; i++) {
      const session = makeSession("tenant-f");
      await store.createSessionRecord(session);
      writers.push({ session, acked: 0, recordAcked: 0, failures: [] });
    }
    let running = true;
    const loops = writers.map(async (w) => {
      while (running) {
        // The same batch again after a failure, as the event feed does.
        const first = w.acked * BATCH + 1;
        const batch = Array.from({ length: BATCH }, (_, i) => makeEvent(w.session.id, first + i));
        const last = first + BATCH - 1;
        const steps: [string, () => Promise<unknown>][] = [
          ["appendEvents", () => store.appendEvents(w.session.id, batch)],
          [
            "updateSessionRecord",
            () => store.updateSessionRecord(w.session.id, { lastSequence: last }),
          ],
          ["loadSession", () => store.loadSession(w.session.id)],
        ];
        for (const [name, step] of steps) {
          const result = await timed(step);
          if (result.error !== undefined) {
            w.failures.push({ error: result.error, ms: result.ms, at: Date.now() });
            await sleep(50);
            break;
          }
          if (name === "appendEvents") w.acked++;
          if (name === "updateSessionRecord") w.recordAcked = last;
        }
      }
    });

    try {
      await until("every writer stores a few batches", 20_000, () =>
        writers.every((w) => w.acked >= 3),
      );
      await db.kill();
      const killedAt = Date.now();
      await until("every writer sees the outage", 3 * FAIL_WITHIN_MS, () =>
        writers.every((w) => w.failures.some((f) => f.at >= killedAt)),
      );
      // Calls started while the server is gone fail too, within the bound.
      const down = await timed(() => store.loadSession(writers[0]!.session.id));
      expectStoreUnavailable(down.error);
      expect(down.ms).toBeLessThan(FAIL_WITHIN_MS);
      const ping = await timed(() => store.ping());
      expectStoreUnavailable(ping.error);

      await db.restart();
      const restartedAt = writers.map((w) => w.acked);
      await until("every writer stores again after the restart", 30_000, () =>
        writers.every((w, i) => w.acked >= restartedAt[i]! + 3),
      );
    } finally {
      running = false;
      await Promise.all(loops);
    }

    const failures = writers.flatMap((w) => w.failures);
    expect(failures.length).toBeGreaterThanOrEqual(WRITERS);
    for (const f of failures) {
      expectStoreUnavailable(f.error);
      expect(f.ms).toBeLessThan(FAIL_WITHIN_MS);
    }
    for (const w of writers) {
      const events = await store.readEvents(w.session.id, 0, 10_000);
      // Every acknowledged batch is there, each event once and as sent; a batch whose
      // acknowledgement was lost to the kill may be there too (it was retried).
      expect(events.length).toBeGreaterThanOrEqual(w.acked * BATCH);
      expect(events.length).toBeLessThanOrEqual((w.acked + 1) * BATCH);
      expect(events).toStrictEqual(events.map((e) => makeEvent(w.session.id, e.sequence)));
      expect(events.map((e) => e.sequence)).toEqual(
        Array.from({ length: events.length }, (_, i) => i + 1),
      );
      const record = await store.loadSession(w.session.id);
      expect(record!.lastSequence).toBeGreaterThanOrEqual(w.recordAcked);
    }
    console.info(
      `${backend}, kill -9: ${failures.length} calls failed with STORE_UNAVAILABLE, slowest after ${Math.round(
        Math.max(...failures.map((f) => f.ms)),
      )} ms (timeout ${TIMEOUT_MS} ms)`,
    );
  }, 120_000);

  it("SIGSTOP: every kind of call fails with STORE_UNAVAILABLE within the bound; SIGCONT: works again, abandoned writes retried are stored once", async () => {
    const store = await adapter(db.uri);
    const session = makeSession("tenant-f", { requestId: "req-stop" });
    await store.createSessionRecord(session);
    await store.appendEvents(session.id, [makeEvent(session.id, 1)]);
    const later = makeSession("tenant-f", { requestId: "req-later" });
    const batch = [2, 3, 4].map((n) => makeEvent(session.id, n));
    const file = {
      info: { path: "a.txt", size: 3, sha256: "s", modifyTime: new Date(5) },
      content: new Uint8Array([1, 2, 3]),
    };
    const calls: [string, () => Promise<unknown>][] = [
      ["loadSession", () => store.loadSession(session.id)],
      ["listSessions", () => store.listSessions({ tenantId: "tenant-f", limit: 10 })],
      ["listAllSessions", () => store.listAllSessions({ state: "idle" })],
      ["createSessionRecord", () => store.createSessionRecord(later)],
      ["updateSessionRecord", () => store.updateSessionRecord(session.id, { lastSequence: 4 })],
      ["appendEvents", () => store.appendEvents(session.id, batch)],
      ["readEvents", () => store.readEvents(session.id, 0, 10)],
      ["saveWorkspaceFile", () => store.saveWorkspaceFile(session.id, file)],
      ["workspaceUsage", () => store.workspaceUsage(session.id)],
      ["profileInUse", () => store.profileInUse("prf_f")],
      ["ping", () => store.ping()],
    ];

    db.pause();
    const timings: Record<string, number> = {};
    try {
      // Twice: the second round meets connections the first one left waiting.
      for (let round = 0; round < 2; round++) {
        const results = await Promise.all(calls.map(([, call]) => timed(call)));
        results.forEach((result, i) => {
          const name = calls[i]![0];
          expectStoreUnavailable(result.error);
          expect(result.ms, name).toBeLessThan(FAIL_WITHIN_MS);
          timings[`${name}#${round + 1}`] = Math.round(result.ms);
        });
      }
    } finally {
      db.resume();
    }
    console.info(
      `${backend}, SIGSTOP, timeout ${TIMEOUT_MS} ms: failed after (ms) ${JSON.stringify(timings)}`,
    );

    await until("the store answers again", 30_000, async () => {
      try {
        await store.ping();
        return true;
      } catch {
        return false;
      }
    });
    // The writes abandoned during the stop, retried: each stored once.
    expect(await store.createSessionRecord(later)).toStrictEqual(later);
    await store.appendEvents(session.id, batch);
    await store.saveWorkspaceFile(session.id, file);
    await store.updateSessionRecord(session.id, { lastSequence: 4 });
    expect(await store.readEvents(session.id, 0, 10)).toStrictEqual(
      [1, 2, 3, 4].map((n) => makeEvent(session.id, n)),
    );
    expect(await store.workspaceUsage(session.id)).toStrictEqual({ files: 1, bytes: 3 });
    expect((await store.loadSession(session.id))!.lastSequence).toBe(4);
    expect((await store.listAllSessions()).map((s) => s.id).sort()).toEqual(
      [session.id, later.id].sort(),
    );
  }, 120_000);

  it("connect to a stopped or absent store: STORE_UNAVAILABLE within the bound", async () => {
    db.pause();
    try {
      const stopped = await timed(() => adapter(db.uri));
      expectStoreUnavailable(stopped.error);
      expect(stopped.ms).toBeLessThan(FAIL_WITHIN_MS);
    } finally {
      db.resume();
    }
    await db.kill();
    const absent = await timed(() => adapter(db.uri));
    expectStoreUnavailable(absent.error);
    expect(absent.ms).toBeLessThan(FAIL_WITHIN_MS);
    await db.restart();
    const store = await adapter(db.uri);
    await store.ping();
  }, 60_000);

  it("a lost acknowledgement: the adapter's retry finds each write done and stores it once", async () => {
    const proxy = await startProxy(portOf(db.uri));
    try {
      const retries: RetryEvent[] = [];
      const store = await adapter(proxy.uri, retries);
      const prefixed = (name: string) => `ar_${name}`;

      const session = makeSession("tenant-f", { requestId: "req-lost" });
      proxy.dropNextReply("insert", prefixed("sessions"));
      expect(await store.createSessionRecord(session)).toStrictEqual(session);

      const plain = makeSession("tenant-f");
      proxy.dropNextReply("insert", prefixed("sessions"));
      expect(await store.createSessionRecord(plain)).toStrictEqual(plain);

      const batch = [1, 2, 3, 4, 5].map((n) => makeEvent(session.id, n));
      proxy.dropNextReply("insert", prefixed("events"));
      await store.appendEvents(session.id, batch);

      proxy.dropNextReply("update", prefixed("sessions"));
      await store.updateSessionRecord(session.id, { lastSequence: 5, state: "running" });

      expect(proxy.dropped).toBe(4);
      expect(retries.map((r) => r.operation)).toEqual([
        "createSessionRecord",
        "createSessionRecord",
        "appendEvents",
        "updateSessionRecord",
      ]);
      expect(await store.readEvents(session.id, 0, 100)).toStrictEqual(batch);
      expect((await store.listAllSessions()).map((s) => s.id).sort()).toEqual(
        [session.id, plain.id].sort(),
      );
      expect(await store.loadSession(session.id)).toStrictEqual({
        ...session,
        lastSequence: 5,
        state: "running",
      });
    } finally {
      await proxy.close();
    }
  }, 60_000);
});
