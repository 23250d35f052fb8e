/**
 * Store load benchmark: N concurrent sessions x T turns of the demo profile (offline: a file
 * write and a command per turn, text streamed in small deltas) through the real server process
 * (`node --import tsx src/main.ts`), on FerretDB over PostgreSQL and on the in-memory store
 * (optionally FerretDB over SQLite, with smaller counts). Each session has a live subscriber
 * (StreamEvents from sequence 0) opened before its first message. See bench/README.md.
 *
 *   node --import tsx bench/store-load.ts                         postgresql and memory, 100 x 5
 *   node --import tsx bench/store-load.ts --stores=sqlite --sessions=20
 *   node --import tsx bench/store-load.ts --sessions=200 --turns=3 --stores=postgresql
 *
 * Flags (or env): --sessions (STORE_LOAD_SESSIONS, 100), --turns (STORE_LOAD_TURNS, 5),
 * --stores (STORE_LOAD_STORES, postgresql,memory; also sqlite), --sqlite-sessions
 * (STORE_LOAD_SQLITE_SESSIONS, 20), --turn-timeout-ms (STORE_LOAD_TURN_TIMEOUT_MS, 180000).
 *
 * Per store it prints: failed turns (SendMessage error, no turn_completed in time, or an outcome
 * other than COMPLETED), lost events (in the stored feed, never delivered to the subscriber),
 * duplicates (delivered twice), out-of-order deliveries, gaps in the stored feed, delivery lag
 * (event `time` to receipt, both on this machine's clock) p50/p99/max, and wall time (first
 * message to last turn end). It starts its own servers and removes them; exit 0 when nothing
 * failed, was lost or duplicated.
 */
import { setMaxListeners } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { SessionEvent } from "#gen/event_pb.js";
import { AgentProfileService } from "#gen/profile_service_pb.js";
import { TurnOutcome } from "#gen/session_pb.js";
import { SessionService } from "#gen/session_service_pb.js";
import { type MongoBackend, startMongo } from "../test/support/mongo.js";
import { type StartedServer, startServer } from "../test/support/server.js";
import { checkFeed, readFeed } from "./support/feed.js";
import { machineHeader, pct } from "./support/stats.js";

type Store = "memory" | MongoBackend;

interface Options {
  sessions: number;
  turns: number;
  stores: Store[];
  sqliteSessions: number;
  turnTimeoutMs: number;
}

/** Sessions per HTTP/2 connection (one client transport each). */
const SESSIONS_PER_CONNECTION = 25;
/** The whole run is abandoned after this long. */
const WATCHDOG_MS = 30 * 60_000;

function parseOptions(): Options {
  const env = process.env;
  const raw: Record<string, string> = {
    sessions: env.STORE_LOAD_SESSIONS || "100",
    turns: env.STORE_LOAD_TURNS || "5",
    stores: env.STORE_LOAD_STORES || "postgresql,memory",
    "sqlite-sessions": env.STORE_LOAD_SQLITE_SESSIONS || "20",
    "turn-timeout-ms": env.STORE_LOAD_TURN_TIMEOUT_MS || "180000",
  };
  for (const arg of process.argv.slice(2)) {
    const [key = "", value = ""] = arg.replace(/^--/, "").split("=");
    if (!(key in raw))
      throw new Error(
        `unknown argument ${arg} (use --sessions=N --turns=N --stores=postgresql,memory,sqlite --sqlite-sessions=N --turn-timeout-ms=N)`,
      );
    raw[key] = value;
  }
  const int = (name: string) => {
    const n = Number(raw[name]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number >= 1`);
    return n;
  };
  const stores = raw.stores!.split(",").map((s) => s.trim()) as Store[];
  for (const s of stores) {
    if (!["memory", "postgresql", "sqlite"].includes(s))
      throw new Error(`unknown store ${s} (memory, postgresql, sqlite)`);
  }
  return {
    sessions: int("sessions"),
    turns: int("turns"),
    stores,
    sqliteSessions: int("sqlite-sessions"),
    turnTimeoutMs: int("turn-timeout-ms"),
  };
}

interface SessionResult {
  failedTurns: string[];
  received: SessionEvent[];
  receivedAt: number[];
  stored: SessionEvent[];
  firstSend: number;
  lastEnd: number;
  streamError?: string;
}

interface StoreResult {
  store: Store;
  sessions: number;
  turns: number;
  failedTurns: number;
  failures: string[];
  lost: number;
  duplicates: number;
  outOfOrder: number;
  feedGaps: number;
  events: number;
  lags: number[];
  wallMs: number;
}

async function runStore(store: Store, sessions: number, o: Options): Promise<StoreResult> {
  const mongo = store === "memory" ? undefined : await startMongo({ backend: store, own: true });
  const dataDir = await mkdtemp(join(os.tmpdir(), "ar-store-load-"));
  let server: StartedServer | undefined;
  try {
    server = await startServer({
      processGroup: true,
      env: {
        MONGODB_URI: mongo?.uri ?? "",
        MONGODB_DB: mongo?.dbName ?? "",
        DATA_DIR: dataDir,
      },
      timeoutMs: 120_000,
    });
    const transports = Array.from({ length: Math.ceil(sessions / SESSIONS_PER_CONNECTION) }, () =>
      createGrpcTransport({ baseUrl: server!.url }),
    );
    const clientsOf = (i: number) => {
      const transport = transports[Math.floor(i / SESSIONS_PER_CONNECTION)]!;
      return {
        sessions: createClient(SessionService, transport),
        profiles: createClient(AgentProfileService, transport),
      };
    };
    const profiles = await clientsOf(0).profiles.listAgentProfiles({ pageSize: 100 });
    const demo = profiles.profiles.find((p) => p.name === "demo");
    if (!demo) throw new Error("the server has no demo profile");
    const ids: string[] = [];
    for (let i = 0; i < sessions; i++) {
      const res = await clientsOf(i).sessions.createSession({
        agentProfileId: demo.id,
        name: `load-${i}`,
      });
      ids.push(res.session!.id);
    }

    const abort = new AbortController();
    setMaxListeners(0, abort.signal);
    const results: SessionResult[] = ids.map(() => ({
      failedTurns: [],
      received: [],
      receivedAt: [],
      stored: [],
      firstSend: 0,
      lastEnd: 0,
    }));
    const turnWaiters = new Map<string, (outcome: TurnOutcome) => void>();
    // Subscribers first: each stream is open before its session's first message.
    const subscribers = ids.map(async (sessionId, i) => {
      const r = results[i]!;
      try {
        for await (const res of clientsOf(i).sessions.streamEvents(
          { sessionId, afterSequence: 0n },
          { signal: abort.signal },
        )) {
          const event = res.event!;
          r.received.push(event);
          r.receivedAt.push(Date.now());
          if (event.payload.case === "turnCompleted") {
            const turn = event.payload.value.turn!;
            turnWaiters.get(turn.id)?.(turn.outcome);
          }
        }
      } catch (err) {
        if (!abort.signal.aborted) r.streamError = ConnectError.from(err).message;
      }
    });
    await new Promise((r) => setTimeout(r, 1_000));

    const start = Date.now();
    await Promise.all(
      ids.map(async (sessionId, i) => {
        const r = results[i]!;
        const c = clientsOf(i);
        r.firstSend = Date.now();
        for (let t = 1; t <= o.turns; t++) {
          let turnId: string;
          try {
            turnId = (await c.sessions.sendMessage({ sessionId, text: `load turn ${t}` })).turnId;
          } catch (err) {
            r.failedTurns.push(
              `${sessionId} turn ${t}: SendMessage ${ConnectError.from(err).message}`,
            );
            continue;
          }
          const outcome = await new Promise<TurnOutcome | "timeout">((resolve) => {
            const timer = setTimeout(() => resolve("timeout"), o.turnTimeoutMs);
            turnWaiters.set(turnId, (outcome) => {
              clearTimeout(timer);
              resolve(outcome);
            });
            // It may have completed before the waiter was set.
            const done = r.received.find(
              (e) => e.payload.case === "turnCompleted" && e.payload.value.turn?.id === turnId,
            );
            if (done && done.payload.case === "turnCompleted") {
              clearTimeout(timer);
              resolve(done.payload.value.turn!.outcome);
            }
          });
          turnWaiters.delete(turnId);
          if (outcome !== TurnOutcome.COMPLETED) {
            r.failedTurns.push(
              `${sessionId} ${turnId}: ${outcome === "timeout" ? `no turn_completed within ${o.turnTimeoutMs} ms` : TurnOutcome[outcome]}`,
            );
          }
        }
        r.lastEnd = Date.now();
      }),
    );
    const wallMs = Date.now() - start;

    // Let the last deliveries arrive, then compare with what is stored.
    await new Promise((r) => setTimeout(r, 1_000));
    for (let i = 0; i < ids.length; i++) {
      results[i]!.stored = await readFeed(clientsOf(i).sessions, ids[i]!);
    }
    abort.abort();
    await Promise.all(subscribers);

    const res: StoreResult = {
      store,
      sessions,
      turns: o.turns,
      failedTurns: 0,
      failures: [],
      lost: 0,
      duplicates: 0,
      outOfOrder: 0,
      feedGaps: 0,
      events: 0,
      lags: [],
      wallMs,
    };
    for (const r of results) {
      res.failedTurns += r.failedTurns.length;
      res.failures.push(...r.failedTurns);
      if (r.streamError) res.failures.push(`stream ended: ${r.streamError}`);
      const check = checkFeed(r.received, r.stored);
      res.lost += check.lost;
      res.duplicates += check.duplicates;
      res.outOfOrder += check.outOfOrder;
      res.feedGaps += check.gaps;
      r.received.forEach((e, k) => {
        if (e.time) res.lags.push(r.receivedAt[k]! - timestampMs(e.time));
      });
      res.events += r.stored.length;
    }
    return res;
  } finally {
    await server?.stop();
    await mongo?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function row(r: StoreResult): string {
  const lags = [...r.lags].sort((a, b) => a - b);
  const ms = (n: number) => (Number.isNaN(n) ? "-" : `${n}ms`);
  return [
    r.store.padEnd(10),
    `${r.sessions}x${r.turns}`.padEnd(7),
    `failed=${r.failedTurns}`.padEnd(10),
    `lost=${r.lost}`.padEnd(8),
    `dup=${r.duplicates}`.padEnd(7),
    `disorder=${r.outOfOrder}`.padEnd(11),
    `gaps=${r.feedGaps}`.padEnd(8),
    `events=${r.events}`.padEnd(14),
    `lag p50=${ms(pct(lags, 0.5))}`.padEnd(16),
    `p99=${ms(pct(lags, 0.99))}`.padEnd(11),
    `max=${ms(lags.at(-1) ?? NaN)}`.padEnd(11),
    `wall=${(r.wallMs / 1000).toFixed(1)}s`.padEnd(11),
    `turns/s=${((r.sessions * r.turns) / (r.wallMs / 1000)).toFixed(1)}`,
  ].join(" ");
}

async function main(): Promise<void> {
  const o = parseOptions();
  const watchdog = setTimeout(() => {
    console.error(`store-load: abandoned after ${WATCHDOG_MS / 60_000} minutes`);
    process.exit(2);
  }, WATCHDOG_MS);
  watchdog.unref();
  console.log(machineHeader("store-load bench"));
  console.log(
    "server: node --import tsx src/main.ts (its own process), demo profile; clients: gRPC over h2c, 25 sessions per connection, one live subscriber per session opened before its first message",
  );
  let bad = false;
  for (const store of o.stores) {
    const sessions = store === "sqlite" ? Math.min(o.sessions, o.sqliteSessions) : o.sessions;
    const r = await runStore(store, sessions, o);
    console.log(row(r));
    for (const f of r.failures.slice(0, 5)) console.log(`    ${f}`);
    if (r.failures.length > 5) console.log(`    ... ${r.failures.length - 5} more`);
    if (r.failedTurns || r.lost || r.duplicates || r.outOfOrder || r.feedGaps) bad = true;
  }
  console.log(`process peak RSS (clients): ${Math.round(process.resourceUsage().maxRSS / 1024)}MB`);
  process.exit(bad ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(2);
});
