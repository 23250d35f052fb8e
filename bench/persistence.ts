/**
 * Persistence benchmark: S stored sessions (inserted through the adapter directly), then
 * ListSessions pages and GetSession, each timed through the adapter and through the server's
 * API (gRPC over h2c to the runtime served in this process), and event appends, on FerretDB
 * over PostgreSQL and in memory. See bench/README.md.
 *
 *   npm run bench:persistence                       postgresql and memory, 10,000 sessions
 *   npm run bench:persistence -- --stores=memory --sessions=2000
 *
 * Every figure is of one call at a time (no concurrency) except inserts and appends, which run
 * `--concurrency` calls at once, as a busy server would.
 */
import os from "node:os";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SessionService } from "#gen/session_service_pb.js";
import { MemoryPersistence } from "../src/adapters/memory/persistence.js";
import { MongoPersistence } from "../src/adapters/mongodb/persistence.js";
import { silentLogger } from "../src/app/shared/logger.js";
import { newId } from "../src/domain/ids.js";
import type { SessionEvent } from "../src/domain/types.js";
import type { PersistenceAdapter, SessionCursor } from "../src/ports/persistence.js";
import { createAgentRuntime, demoProfile } from "../src/runtime.js";
import { listen } from "../src/server.js";
import { makeSession } from "../src/testing/records.js";
import { type MongoBackend, startMongo } from "../test/support/mongo.js";
import { onInterrupt, progress } from "./support/cleanup.js";
import { listOf, parseFlags, wholeNumber } from "./support/flags.js";
import { machineHeader, ms, pct, sorted, table } from "./support/stats.js";

type Store = "memory" | MongoBackend;

const flags = parseFlags({
  stores: { env: "PERSISTENCE_BENCH_STORES", default: "postgresql,memory", help: "also sqlite" },
  sessions: { env: "PERSISTENCE_BENCH_SESSIONS", default: "10000", help: "sessions stored" },
  "page-size": { env: "PERSISTENCE_BENCH_PAGE_SIZE", default: "100", help: "ListSessions" },
  samples: { env: "PERSISTENCE_BENCH_SAMPLES", default: "300", help: "timed GetSession calls" },
  "list-samples": {
    env: "PERSISTENCE_BENCH_LIST_SAMPLES",
    default: "20",
    help: "timed ListSessions pages (slow on FerretDB: it sorts in memory)",
  },
  events: { env: "PERSISTENCE_BENCH_EVENTS", default: "20000", help: "events appended" },
  batch: { env: "PERSISTENCE_BENCH_BATCH", default: "10", help: "events per appendEvents" },
  concurrency: { env: "PERSISTENCE_BENCH_CONCURRENCY", default: "20", help: "inserts/appends" },
});
const STORES = listOf("stores", flags.stores, ["memory", "postgresql", "sqlite"] as const);
const SESSIONS = wholeNumber("sessions", flags.sessions);
const PAGE_SIZE = wholeNumber("page-size", flags["page-size"]);
const SAMPLES = wholeNumber("samples", flags.samples);
const LIST_SAMPLES = wholeNumber("list-samples", flags["list-samples"]);
const EVENTS = wholeNumber("events", flags.events);
const BATCH = wholeNumber("batch", flags.batch);
const CONCURRENCY = wholeNumber("concurrency", flags.concurrency);
const TENANT = "default";

interface Result {
  store: Store;
  insertPerSec: number;
  listAdapter: number[];
  listApi: number[];
  getAdapter: number[];
  getApi: number[];
  appendPerSec: number;
  appendBatch: number[];
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Runs `count` jobs, `CONCURRENCY` at a time; resolves with the wall time in ms. */
async function pool(count: number, job: (i: number) => Promise<void>): Promise<number> {
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, count) }, async () => {
      while (next < count) await job(next++);
    }),
  );
  return performance.now() - start;
}

async function runStore(store: Store): Promise<Result> {
  const step = progress();
  const mongo = store === "memory" ? undefined : await startMongo({ backend: store, own: true });
  const release = onInterrupt(async () => mongo?.stop());
  step(`${store}: store started`);
  let adapter: PersistenceAdapter | undefined;
  let server: Awaited<ReturnType<typeof listen>> | undefined;
  let runtime: Awaited<ReturnType<typeof createAgentRuntime>> | undefined;
  try {
    adapter = mongo
      ? await MongoPersistence.connect(mongo.uri, mongo.dbName)
      : new MemoryPersistence();
    const a = adapter;
    runtime = await createAgentRuntime({ persistence: a, logger: silentLogger, models: {} });
    await runtime.start();
    server = await listen(runtime, { port: 0, host: "127.0.0.1" });
    const profile = await runtime.useCases.profiles.create(TENANT, demoProfile());
    const api = createClient(
      SessionService,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` }),
    );

    // Sessions, one second of activity apart (the listing's order).
    const base = Date.now() - SESSIONS * 1000;
    const ids: string[] = [];
    const insertMs = await pool(SESSIONS, async (i) => {
      const when = new Date(base + i * 1000);
      const s = makeSession(TENANT, {
        agentProfileId: profile.id,
        name: `stored-${i}`,
        metadata: { index: String(i) },
        createTime: when,
        updateTime: when,
        lastActivityTime: when,
      });
      await a.createSessionRecord(s);
      ids[i] = s.id;
    });

    step(`${store}: ${SESSIONS} sessions inserted`);
    // ListSessions: walk the listing from the start until LIST_SAMPLES pages are timed.
    const listAdapter: number[] = [];
    let after: SessionCursor | undefined;
    while (listAdapter.length < LIST_SAMPLES) {
      let page: Awaited<ReturnType<PersistenceAdapter["listSessions"]>> | undefined;
      listAdapter.push(
        await timed(async () => {
          page = await a.listSessions({
            tenantId: TENANT,
            limit: PAGE_SIZE,
            ...(after ? { after } : {}),
          });
        }),
      );
      after = page?.next;
    }
    step(`${store}: ListSessions through the adapter`);
    const listApi: number[] = [];
    let pageToken = "";
    while (listApi.length < LIST_SAMPLES) {
      listApi.push(
        await timed(async () => {
          pageToken = (await api.listSessions({ pageSize: PAGE_SIZE, pageToken })).nextPageToken;
        }),
      );
    }

    step(`${store}: ListSessions through the API`);
    // GetSession of sessions picked at random (the same ones both ways).
    const picks = Array.from({ length: SAMPLES }, () => ids[Math.floor(Math.random() * SESSIONS)]!);
    const getAdapter: number[] = [];
    for (const id of picks) getAdapter.push(await timed(() => a.loadSession(id)));
    step(`${store}: GetSession through the adapter`);
    const getApi: number[] = [];
    for (const id of picks) getApi.push(await timed(() => api.getSession({ sessionId: id })));

    step(`${store}: GetSession through the API`);
    // Event appends: batches of BATCH text deltas, spread over 100 sessions.
    const targets = ids.slice(0, 100);
    const sequences = new Map(targets.map((id) => [id, 0]));
    const appendBatch: number[] = [];
    const batches = Math.ceil(EVENTS / BATCH);
    const appendMs = await pool(batches, async (b) => {
      const sessionId = targets[b % targets.length]!;
      const first = sequences.get(sessionId)! + 1;
      sequences.set(sessionId, first + BATCH - 1);
      const blockId = newId("blk");
      const events: SessionEvent[] = Array.from({ length: BATCH }, (_, k) => ({
        sessionId,
        sequence: first + k,
        time: new Date(),
        turnId: "trn_bench",
        payload: {
          type: "block_delta",
          blockId,
          delta: {
            kind: "text",
            value: "a sixty-five character text delta, as the demo model streams it",
          },
        },
      }));
      appendBatch.push(await timed(() => a.appendEvents(sessionId, events)));
    });
    step(`${store}: events appended`);
    return {
      store,
      insertPerSec: SESSIONS / (insertMs / 1000),
      listAdapter,
      listApi,
      getAdapter,
      getApi,
      appendPerSec: (batches * BATCH) / (appendMs / 1000),
      appendBatch,
    };
  } finally {
    await server?.close();
    await runtime?.shutdown();
    await adapter?.close?.();
    await mongo?.stop();
    release();
  }
}

async function main(): Promise<void> {
  console.log(machineHeader("persistence bench"));
  console.log(
    `${SESSIONS} sessions of one tenant; ListSessions pages of ${PAGE_SIZE} walked from the start, ${LIST_SAMPLES} timed; GetSession of ${SAMPLES} random sessions; one call at a time; API = gRPC over h2c to the runtime in this process; appends: ${EVENTS} events in batches of ${BATCH}, ${CONCURRENCY} at once over 100 sessions`,
  );
  const rows = [
    [
      "store",
      "insert/s",
      "list adapter p50/p99",
      "list API p50/p99",
      "get adapter p50/p99",
      "get API p50/p99",
      "append events/s",
      "append batch p50/p99",
    ],
  ];
  for (const store of STORES) {
    const r = await runStore(store);
    const pair = (values: number[]) => {
      const s = sorted(values);
      return `${ms(pct(s, 0.5))} / ${ms(pct(s, 0.99))}`;
    };
    rows.push([
      store,
      Math.round(r.insertPerSec).toString(),
      pair(r.listAdapter),
      pair(r.listApi),
      pair(r.getAdapter),
      pair(r.getApi),
      Math.round(r.appendPerSec).toString(),
      pair(r.appendBatch),
    ]);
  }
  console.log(table(rows));
  console.log(
    `process peak RSS: ${Math.round(process.resourceUsage().maxRSS / 1024)}MB, ${os.cpus().length} CPUs`,
  );
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(2);
});
