/**
 * Replicas benchmark: S sessions, each running one turn of the demo profile at model pace (the
 * demo model's default 15 ms between chunks) with one live subscriber, against one server
 * process and against two (clients spread over them: a session's messages go to one replica,
 * its subscriber to the other, which may not own it), on FerretDB over PostgreSQL and in memory
 * (one process only: two need a shared store). See bench/README.md.
 *
 *   npm run bench:replicas                              200 sessions, memory:1, postgresql:1, postgresql:2
 *   npm run bench:replicas -- --sessions=1000           the full size
 *   npm run bench:replicas -- --configs=memory:1 --cpu-prof   with a CPU profile of the server
 *
 * Per configuration it prints turns completed, lost/duplicate/out-of-order deliveries (against
 * the stored feed), delivery lag (receipt minus the event's `time`) p50/p99, deliveries per
 * second, and CPU and RSS of every server process (and FerretDB, and this client process).
 */
import { setMaxListeners } from "node:events";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { SessionEvent } from "#gen/event_pb.js";
import { AgentProfileService } from "#gen/profile_service_pb.js";
import { TurnOutcome } from "#gen/session_pb.js";
import { SessionService } from "#gen/session_service_pb.js";
import { type MongoBackend, type MongoServer, startMongo } from "../test/support/mongo.js";
import { type StartedServer, startServer } from "../test/support/server.js";
import { onInterrupt, progress } from "./support/cleanup.js";
import { formatSummary, readProfile, summariseProfile } from "./support/cpuprofile.js";
import { checkFeed, readFeed, type SessionClient } from "./support/feed.js";
import { listOf, parseFlags, wholeNumber } from "./support/flags.js";
import { ProcMeter, postgresOf } from "./support/proc.js";
import { machineHeader, ms, pct, sorted } from "./support/stats.js";

type Store = "memory" | MongoBackend;
interface Config {
  store: Store;
  processes: number;
}

const flags = parseFlags({
  sessions: { env: "REPLICAS_BENCH_SESSIONS", default: "200", help: "sessions (one turn each)" },
  configs: {
    env: "REPLICAS_BENCH_CONFIGS",
    default: "memory:1,postgresql:1,postgresql:2",
    help: "store:processes, comma-separated (memory, postgresql, sqlite)",
  },
  "turn-timeout-ms": { env: "REPLICAS_BENCH_TURN_TIMEOUT_MS", default: "120000", help: "" },
  "cpu-prof": { env: "REPLICAS_BENCH_CPU_PROF", default: "", help: "profile one-process runs" },
});
const SESSIONS = wholeNumber("sessions", flags.sessions);
const TURN_TIMEOUT_MS = wholeNumber("turn-timeout-ms", flags["turn-timeout-ms"]);
const CPU_PROF = flags["cpu-prof"] === "true" || flags["cpu-prof"] === "1";
const CONFIGS: Config[] = flags.configs.split(",").map((c) => {
  const [store = "", processes = "1"] = c.split(":");
  const [s] = listOf("configs", store, ["memory", "postgresql", "sqlite"] as const);
  const n = wholeNumber("configs", processes);
  if (s === "memory" && n > 1) throw new Error("memory: one process only (no shared store)");
  return { store: s!, processes: n };
});
/** Sessions per HTTP/2 connection of the clients. */
const SESSIONS_PER_CONNECTION = 50;
/** At most this many calls at once while setting up and checking. */
const SETUP_CONCURRENCY = 25;
const WATCHDOG_MS = 30 * 60_000;

interface Replica {
  server: StartedServer;
  clients: SessionClient[];
  dataDir: string;
}

interface Result {
  config: Config;
  completed: number;
  failures: string[];
  lost: number;
  duplicates: number;
  outOfOrder: number;
  deliveries: number;
  lags: number[];
  wallMs: number;
  meters: ProcMeter[];
  profile?: string;
}

async function inBatches<T>(items: T[], fn: (item: T, i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += SETUP_CONCURRENCY) {
    await Promise.all(items.slice(i, i + SETUP_CONCURRENCY).map((item, k) => fn(item, i + k)));
  }
}

async function startReplicas(config: Config, mongo: MongoServer | undefined, profDir?: string) {
  const replicas: Replica[] = [];
  const perReplica = Math.ceil(SESSIONS / config.processes);
  for (let k = 0; k < config.processes; k++) {
    const dataDir = await mkdtemp(join(os.tmpdir(), "ar-replicas-"));
    const server = await startServer({
      processGroup: true,
      timeoutMs: 120_000,
      env: {
        MONGODB_URI: mongo?.uri ?? "",
        MONGODB_DB: mongo?.dbName ?? "",
        DATA_DIR: dataDir,
        REPLICA_ID: `bench-${k + 1}`,
      },
      ...(profDir ? { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${profDir}`] } : {}),
    });
    const clients = Array.from({ length: Math.ceil(perReplica / SESSIONS_PER_CONNECTION) }, () =>
      createClient(SessionService, createGrpcTransport({ baseUrl: server.url })),
    );
    replicas.push({ server, clients, dataDir });
  }
  return replicas;
}

async function runConfig(config: Config): Promise<Result> {
  const mongo =
    config.store === "memory" ? undefined : await startMongo({ backend: config.store, own: true });
  const profDir =
    CPU_PROF && config.processes === 1 ? await mkdtemp(join(os.tmpdir(), "ar-prof-")) : undefined;
  let replicas: Replica[] = [];
  const release = onInterrupt(async () => {
    for (const r of replicas) await r.server.crash();
    await mongo?.stop();
  });
  const step = progress();
  try {
    replicas = await startReplicas(config, mongo, profDir);
    step(`${config.store} x${config.processes}: started`);
    const P = replicas.length;
    // Session i: messages to replica i % P, subscriber on replica (i + 1) % P.
    const client = (i: number, r: number) => {
      const { clients } = replicas[r]!;
      return clients[Math.floor(i / P / SESSIONS_PER_CONNECTION) % clients.length]!;
    };
    const sender = (i: number) => client(i, i % P);
    const watcher = (i: number) => client(i, (i + 1) % P);

    const profiles = createClient(
      AgentProfileService,
      createGrpcTransport({ baseUrl: replicas[0]!.server.url }),
    );
    const demo = (await profiles.listAgentProfiles({ pageSize: 100 })).profiles.find(
      (p) => p.name === "demo",
    );
    if (!demo) throw new Error("the server has no demo profile");
    const ids: string[] = Array.from({ length: SESSIONS }, () => "");
    await inBatches(ids, async (_, i) => {
      const res = await sender(i).createSession({ agentProfileId: demo.id, name: `bench-${i}` });
      ids[i] = res.session!.id;
    });

    step(`${SESSIONS} sessions created`);
    const abort = new AbortController();
    setMaxListeners(0, abort.signal);
    const received: SessionEvent[][] = ids.map(() => []);
    const receivedAt: number[][] = ids.map(() => []);
    const failures: string[] = [];
    const waiters = new Map<string, (outcome: TurnOutcome) => void>();
    const outcomes = new Map<string, TurnOutcome>();
    const subscribers = ids.map(async (sessionId, i) => {
      try {
        for await (const res of watcher(i).streamEvents(
          { sessionId, afterSequence: 0n },
          { signal: abort.signal },
        )) {
          const event = res.event!;
          received[i]!.push(event);
          receivedAt[i]!.push(Date.now());
          if (event.payload.case === "turnCompleted" && !event.subagentId) {
            const turn = event.payload.value.turn!;
            outcomes.set(turn.id, turn.outcome);
            waiters.get(turn.id)?.(turn.outcome);
          }
        }
      } catch (err) {
        if (!abort.signal.aborted)
          failures.push(`stream ${sessionId}: ${ConnectError.from(err).message}`);
      }
    });
    await new Promise((r) => setTimeout(r, 1_000));

    const meters = [
      ...replicas.map((r, k) => new ProcMeter(`server${k + 1}`, r.server.pid)),
      ...(mongo?.pid ? [new ProcMeter("ferretdb", mongo.pid)] : []),
      ...[mongo?.pid && postgresOf(mongo.pid)].flatMap((pg) =>
        pg ? [new ProcMeter("postgresql (all processes)", pg, true)] : [],
      ),
      new ProcMeter("clients", process.pid),
    ];
    for (const m of meters) m.start();
    const start = Date.now();
    const startUs = Number(process.hrtime.bigint() / 1000n);
    let completed = 0;
    const done = new Set<number>(); // sessions whose turn completed
    await Promise.all(
      ids.map(async (sessionId, i) => {
        let turnId: string;
        try {
          turnId = (await sender(i).sendMessage({ sessionId, text: "bench turn" })).turnId;
        } catch (err) {
          failures.push(`${sessionId}: SendMessage ${ConnectError.from(err).message}`);
          return;
        }
        const outcome = await new Promise<TurnOutcome | "timeout">((resolve) => {
          const known = outcomes.get(turnId);
          if (known !== undefined) return resolve(known);
          const timer = setTimeout(() => resolve("timeout"), TURN_TIMEOUT_MS);
          waiters.set(turnId, (o) => {
            clearTimeout(timer);
            resolve(o);
          });
        });
        waiters.delete(turnId);
        if (outcome === TurnOutcome.COMPLETED) {
          completed++;
          done.add(i);
        } else {
          const error = received[i]!.findLast((e) => e.payload.case === "error");
          const why =
            error?.payload.case === "error"
              ? ` (${error.payload.value.reason}: ${error.payload.value.message})`
              : "";
          failures.push(
            `${sessionId}: ${outcome === "timeout" ? `no turn_completed reached the subscriber within ${TURN_TIMEOUT_MS} ms` : `${TurnOutcome[outcome]}${why}`}`,
          );
        }
      }),
    );
    const wallMs = Date.now() - start;
    const window = { fromUs: startUs, toUs: Number(process.hrtime.bigint() / 1000n) };
    for (const m of meters) m.stop();

    step(`turns done (${completed} completed)`);
    await new Promise((r) => setTimeout(r, 1_000));
    const result: Result = {
      config,
      completed,
      failures,
      lost: 0,
      duplicates: 0,
      outOfOrder: 0,
      deliveries: 0,
      lags: [],
      wallMs,
      meters,
    };
    // Only sessions whose turn is over: a feed still growing would count as lost.
    await inBatches(ids, async (sessionId, i) => {
      if (!done.has(i)) return;
      let stored: SessionEvent[];
      try {
        stored = await readFeed(sender(i), sessionId);
      } catch (err) {
        failures.push(`${sessionId}: reading the stored feed: ${ConnectError.from(err).message}`);
        return;
      }
      const check = checkFeed(received[i]!, stored);
      result.lost += check.lost;
      result.duplicates += check.duplicates;
      result.outOfOrder += check.outOfOrder;
    });
    step("stored feeds compared");
    abort.abort();
    await Promise.all(subscribers);
    received.forEach((events, i) => {
      result.deliveries += events.length;
      events.forEach((e, k) => {
        if (e.time) result.lags.push(receivedAt[i]![k]! - timestampMs(e.time));
      });
    });
    for (const r of replicas) await r.server.stop();
    if (profDir) {
      const file = (await readdir(profDir)).find((f) => f.endsWith(".cpuprofile"));
      result.profile = file
        ? formatSummary(summariseProfile(readProfile(join(profDir, file)), window), 25)
        : "no .cpuprofile was written";
    }
    return result;
  } finally {
    for (const r of replicas) {
      await r.server.stop();
      await rm(r.dataDir, { recursive: true, force: true });
    }
    await mongo?.stop();
    release();
    if (profDir) await rm(profDir, { recursive: true, force: true });
  }
}

function report(r: Result): string {
  const lags = sorted(r.lags);
  const label = `${r.config.store} x${r.config.processes}`;
  return [
    `${label.padEnd(14)} sessions=${SESSIONS} completed=${r.completed} failed=${SESSIONS - r.completed} lost=${r.lost} dup=${r.duplicates} disorder=${r.outOfOrder}  lag p50=${ms(pct(lags, 0.5))} p99=${ms(pct(lags, 0.99))}  deliveries=${r.deliveries} (${Math.round(r.deliveries / (r.wallMs / 1000))}/s)  wall=${(r.wallMs / 1000).toFixed(1)}s`,
    ...r.meters.map((m) => `    ${m.summary()}`),
    ...r.failures.slice(0, 3).map((f) => `    ${f}`),
    ...(r.failures.length > 3 ? [`    ... ${r.failures.length - 3} more`] : []),
    ...(r.profile ? [r.profile.replace(/^/gm, "    ")] : []),
  ].join("\n");
}

async function main(): Promise<void> {
  setTimeout(() => {
    console.error(`replicas bench: abandoned after ${WATCHDOG_MS / 60_000} minutes`);
    process.exit(2);
  }, WATCHDOG_MS).unref();
  console.log(machineHeader("replicas bench"));
  console.log(
    `demo profile at model pace, one turn per session, one live subscriber each (on the other replica when there are two); gRPC over h2c, ${SESSIONS_PER_CONNECTION} sessions per connection; cpu = user+system over the turns, % of one core`,
  );
  let bad = false;
  for (const config of CONFIGS) {
    const r = await runConfig(config);
    console.log(report(r));
    if (r.completed < SESSIONS || r.lost || r.duplicates || r.outOfOrder) bad = true;
  }
  process.exit(bad ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(2);
});
