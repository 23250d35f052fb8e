// Faults: the real server (`node --import tsx src/main.ts`, its own process group) on FerretDB over
// SQLite and over PostgreSQL, real gRPC clients, and three kinds of trouble:
//   a. FerretDB killed (SIGKILL) under traffic, then restarted on the same data and port;
//   b. FerretDB stopped (SIGSTOP) past the server's operation timeout, then continued;
//   c. the server SIGKILLed at random points of turns (seeded), restarted each time.
// Each part then lets the work settle, reads everything back through the API and checks the
// invariants in test/support/faults-workload.ts: nothing acknowledged is lost, nothing seen is
// taken back, feeds have no gap or duplicate, every turn ends exactly once, files agree with the
// feed, and the server never exits on its own.
//
// Settings (env): FAULT_BACKENDS (sqlite,postgresql), FAULT_SEED, FAULT_KILLS (per backend;
// default 14 on PostgreSQL and 6 on SQLite),
// FAULT_WORKERS (4), FAULT_STORE_TIMEOUT_MS (2000: the server's MONGODB_TIMEOUT_MS),
// FAULT_OUTAGE_MS, FAULT_PAUSE_MS, FAULT_SETTLE_MS (20000).

import { randomInt } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheckResponse_ServingStatus as Serving } from "#grpc/health/v1/health_pb.js";
import {
  type CallRecord,
  checkInvariants,
  faultClients,
  readStored,
  report,
  seededRandom,
  sleep,
  Target,
  Workload,
  waitIdle,
} from "./support/faults-workload.js";
import {
  freePort,
  MONGO_START_TIMEOUT_MS,
  type MongoBackend,
  type MongoServer,
  startMongo,
} from "./support/mongo.js";
import { type StartedServer, startServer } from "./support/server.js";

const ROOT_CACHE = join(process.cwd(), ".cache");
await mkdir(ROOT_CACHE, { recursive: true });

function setting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number >= 0, got ${raw}`);
  return n;
}

const BACKENDS = (process.env.FAULT_BACKENDS || "sqlite,postgresql")
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean) as MongoBackend[];
const SEED = setting("FAULT_SEED", randomInt(2 ** 31));
/**
 * Server kills per backend: 14 on PostgreSQL and 6 on SQLite by default (20 in all). FerretDB
 * over SQLite filters every query in Go with no index, so a long feed makes its reads slow
 * enough to time out; FAULT_KILLS sets both.
 */
const killsOf = (backend: MongoBackend) => setting("FAULT_KILLS", backend === "sqlite" ? 6 : 14);
const WORKERS = setting("FAULT_WORKERS", 4);
/** The server's operation timeout (MONGODB_TIMEOUT_MS): every bound below derives from it. */
const STORE_TIMEOUT_MS = setting("FAULT_STORE_TIMEOUT_MS", 2_000);
/** A unary call must end (with an answer or UNAVAILABLE) within this. */
const CALL_BOUND_MS = 2 * STORE_TIMEOUT_MS + 5_000;
/** The client's own deadline: past it a call counts as a hang. */
const CALL_DEADLINE_MS = CALL_BOUND_MS + 10_000;
const OUTAGE_MS = setting("FAULT_OUTAGE_MS", 2 * STORE_TIMEOUT_MS + 2_000);
const PAUSE_MS = setting("FAULT_PAUSE_MS", 3 * STORE_TIMEOUT_MS + 3_000);
/** From the start of a SIGSTOP until /healthz must say 503. */
const HEALTH_BOUND_MS = 2 * STORE_TIMEOUT_MS + 3_000;
/** After the store is back: calls, turns and health must work again within this. */
const RECOVERY_MS = 20_000;
const SETTLE_MS = setting("FAULT_SETTLE_MS", 20_000);
const TEST_TIMEOUT_MS = 10 * 60_000;

console.log(
  `faults: seed ${SEED} (FAULT_SEED=${SEED} replays the choices), backends ${BACKENDS.join(",")}, ` +
    `${killsOf("postgresql")}/${killsOf("sqlite")} server kills (postgresql/sqlite), ${WORKERS} workers, store timeout ${STORE_TIMEOUT_MS} ms, ` +
    `call bound ${CALL_BOUND_MS} ms`,
);

/** Each invariant as its own soft expectation, so one run reports every broken one. */
function expectNone(violations: Map<string, string[]>): void {
  for (const [name, list] of violations) {
    expect.soft(list.slice(0, 20), `${name} (${list.length} violations)`).toEqual([]);
  }
}

const ALLOWED_CALL_OUTCOMES = new Set(["OK", "Unavailable"]);

/**
 * Outcomes of unary calls and streams around a store outage [from, to]. Calls and stream errors
 * after the server exited on its own (`ownExit`) are left out: they meet no server at all, and
 * that exit fails an invariant of its own.
 */
function outageChecks(
  workload: Workload,
  from: number,
  to: number,
  ownExit: number | undefined,
): { violations: Map<string, string[]>; lines: string[] } {
  const v = new Map<string, string[]>();
  const ANSWER = "unary calls answer OK or UNAVAILABLE (never INTERNAL, UNKNOWN, or a hang)";
  const BOUND = `every unary call ends within ${CALL_BOUND_MS} ms (2 x store timeout + 5 s)`;
  const SEEN = "clients get UNAVAILABLE during the outage";
  const STREAMS = "event streams end only with UNAVAILABLE";
  for (const n of [ANSWER, BOUND, SEEN, STREAMS]) v.set(n, []);
  const now = Date.now();
  const rel = (t: number) => `${((t - from) / 1000).toFixed(1)} s after the fault`;
  const took = (c: CallRecord) => (c.end ?? now) - c.start;
  const show = (c: CallRecord) =>
    c.end === undefined
      ? `${c.method} still running after ${took(c)} ms, started ${rel(c.start)}`
      : `${c.method} ${c.outcome} in ${took(c)} ms, started ${rel(c.start)}${c.message ? `: ${c.message.slice(0, 120)}` : ""}`;
  // The exit is noticed once the process is reaped: its connections closed a little earlier.
  const cutoff = ownExit === undefined ? undefined : ownExit - 500;
  const calls = workload.calls.filter((c) => cutoff === undefined || c.start < cutoff);
  for (const c of calls) {
    if (cutoff !== undefined && c.end !== undefined && c.end >= cutoff) continue;
    if (c.end !== undefined && !ALLOWED_CALL_OUTCOMES.has(c.outcome)) v.get(ANSWER)!.push(show(c));
    if (took(c) > CALL_BOUND_MS) v.get(BOUND)!.push(show(c));
  }
  const during = calls.filter((c) => (c.end ?? now) >= from && c.start <= to);
  const outcomes = (list: CallRecord[]) => summarize(list.map((c) => `${c.method} ${c.outcome}`));
  const unavailable = during.filter(
    (c) => c.outcome === "Unavailable" && (cutoff === undefined || (c.end ?? now) < cutoff),
  ).length;
  if (unavailable === 0)
    v.get(SEEN)!.push(
      `${during.length} calls overlapped the outage${ownExit ? " before the server exited" : ""}: ${outcomes(during)}`,
    );
  const streamErrors = workload.streamErrors.filter((e) => cutoff === undefined || e.time < cutoff);
  for (const e of streamErrors) {
    if (e.code !== "Unavailable")
      v.get(STREAMS)!.push(`${e.sessionId} ${e.code} ${rel(e.time)}: ${e.message.slice(0, 120)}`);
  }
  const lines = [
    `calls: ${workload.calls.length}; overlapping the outage: ${during.length} (${outcomes(during)})`,
    `durations of those calls, ms: ${percentiles(during.map(took))}`,
    `stream errors: ${summarize(streamErrors.map((e) => e.code))}`,
  ];
  if (ownExit !== undefined)
    lines.push(
      `the server exited on its own ${rel(ownExit)}; later calls and stream errors not judged here`,
    );
  return { violations: v, lines };
}

/** Health samples as their changes: "-2.1 200/SERVING, 4.3 503/NOT_SERVING, ...". */
function timeline(samples: { t: number; http: string; grpc: string }[], from: number): string {
  const out: string[] = [];
  let last = "";
  for (const s of samples) {
    const now = `${s.http}/${s.grpc}`;
    if (now !== last) out.push(`${((s.t - from) / 1000).toFixed(1)} ${now}`);
    last = now;
  }
  return out.join(", ");
}

function summarize(items: string[]): string {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(i, (counts.get(i) ?? 0) + 1);
  return (
    [...counts]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${n} ${k}`)
      .join(", ") || "none"
  );
}

function percentiles(ns: number[]): string {
  if (ns.length === 0) return "none";
  const s = [...ns].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return `p50 ${at(0.5)}, p99 ${at(0.99)}, max ${s.at(-1)}`;
}

describe.each(BACKENDS)("faults, FerretDB over %s", (backend) => {
  let mongo: MongoServer;
  let dataDir: string;
  let port: number;
  const backendSeed = (SEED ^ (backend === "sqlite" ? 0x5a17 : 0x9e37)) >>> 0;

  beforeAll(async () => {
    mongo = await startMongo({ backend, own: true });
    dataDir = await mkdtemp(join(tmpdir(), "ar-faults-"));
    port = await freePort();
  }, MONGO_START_TIMEOUT_MS);

  afterAll(async () => {
    mongo?.resume();
    await mongo?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** What one part runs against: a server on a fixed port and a database of its own. */
  class Run {
    server!: StartedServer;
    readonly target = new Target();
    /** Exits nobody asked for. */
    readonly ownExits: string[] = [];
    /** When the server first exited on its own. */
    firstOwnExit: number | undefined;
    /** A restart after such an exit, so that the checks can still read what is stored. */
    private relaunching: Promise<void> | undefined;
    workload!: Workload;
    profileId = "";
    /** Every server process of the run, for their logs. */
    readonly allServers: StartedServer[] = [];
    constructor(
      readonly name: string,
      readonly db: string,
    ) {}

    /** Starts the server; tries for `withinMs` (a start fails while the store is down). */
    async launch(withinMs = 0): Promise<void> {
      let lastError: unknown;
      const deadline = Date.now() + withinMs;
      for (let attempt = 0; attempt < 3 || Date.now() < deadline; attempt++) {
        try {
          this.server = await startServer({
            processGroup: true,
            env: {
              MONGODB_URI: mongo.uri,
              MONGODB_DB: this.db,
              MONGODB_TIMEOUT_MS: String(STORE_TIMEOUT_MS),
              DATA_DIR: dataDir,
              PORT: String(port),
              LOG_LEVEL: "info",
            },
          });
          const s = this.server;
          this.allServers.push(s);
          void s.exited.then((e) => {
            if (e.expected) return;
            this.firstOwnExit ??= Date.now();
            // What it printed after its last log line: the crash, usually.
            const lastLog = s.logs.findLastIndex((l) => l.startsWith("{"));
            const tail = s.logs.slice(lastLog + 1).filter((l) => l.trim());
            this.ownExits.push(
              `exited on its own (code ${e.code}, signal ${e.signal}): ${(tail.length ? tail : s.logs.slice(-5)).slice(0, 12).join("\n")}`,
            );
            this.target.setDown();
            this.relaunching = this.launch(60_000);
          });
          this.target.setUp(s.url);
          return;
        } catch (err) {
          lastError = err;
          await sleep(300);
        }
      }
      throw lastError;
    }

    /** The current server, restarted if it had exited on its own. */
    async ready(): Promise<StartedServer> {
      while (this.relaunching) {
        const r = this.relaunching;
        await r;
        if (r === this.relaunching) this.relaunching = undefined;
      }
      return this.server;
    }

    started = 0;

    async start(random: () => number): Promise<void> {
      this.started = Date.now();
      await this.launch();
      // The server answers before restart recovery is done; the workload starts once it is.
      const until = Date.now() + RECOVERY_MS;
      while (
        (await fetch(`${this.server.url}/healthz`).then(
          (r) => r.status,
          () => 0,
        )) !== 200
      ) {
        if (Date.now() > until)
          throw new Error(`health not SERVING within ${RECOVERY_MS} ms of the start`);
        await sleep(100);
      }
      const profiles = await this.target.clients().profiles.listAgentProfiles({ pageSize: 100 });
      const demo = profiles.profiles.find((p) => p.name === "demo");
      if (!demo) throw new Error("the server has no demo profile (DEMO_PROFILE)");
      this.profileId = demo.id;
      this.workload = new Workload({
        target: this.target,
        profileId: this.profileId,
        workers: WORKERS,
        random,
        callDeadlineMs: CALL_DEADLINE_MS,
        tag: `${this.name}-${backend}`,
      });
      this.workload.start();
    }

    /**
     * Waits until calls and a whole turn work again, on a session of its own (the workers'
     * sessions may have turns queued); returns ms, or a violation.
     */
    async recovered(since: number): Promise<{ ms?: number; problem?: string }> {
      const deadline = since + RECOVERY_MS;
      let last = "";
      await this.ready();
      const w = this.workload;
      const track = await Promise.race([
        w.createSession(`${w.tag}-probe`),
        sleep(RECOVERY_MS).then(() => undefined),
      ]);
      if (!track)
        return { problem: `no CreateSession within ${RECOVERY_MS} ms of the store's return` };
      while (Date.now() < deadline) {
        const random = seededRandom(Date.now());
        const wrote = await w.writeFile(track, random, "probe");
        const turnId = wrote ? await w.sendMessage(track, "probe after the fault") : undefined;
        if (turnId) {
          await track.waitTurn(turnId, Math.max(0, deadline - Date.now()));
          if (track.completed.has(turnId)) return { ms: Date.now() - since };
          last = `turn ${turnId} did not complete`;
        } else {
          last = `last call: ${w.calls.at(-1)?.method} ${w.calls.at(-1)?.outcome}`;
          await sleep(500);
        }
      }
      return {
        problem: `no WriteFile + SendMessage + completed turn within ${RECOVERY_MS} ms of the store's return (${last})`,
      };
    }

    /** Stops the traffic, lets turns settle, reads everything back and checks the invariants. */
    async finish(): Promise<{ violations: Map<string, string[]>; lines: string[] }> {
      const t0 = Date.now();
      await this.workload.stop();
      const t1 = Date.now();
      const open = await this.workload.settle(SETTLE_MS);
      const clients = faultClients((await this.ready()).url);
      await waitIdle(clients, this.workload, Math.max(SETTLE_MS - (Date.now() - t1), 1_000));
      const t2 = Date.now();
      const stored = await readStored(clients, this.workload);
      const t3 = Date.now();
      await this.workload.close();
      const violations = checkInvariants(this.workload, stored);
      violations.set("the server never exited on its own", [...this.ownExits]);
      // The last server's log, for a look after a failure.
      await writeFile(
        join(ROOT_CACHE, `faults-${this.name}-${backend}.log`),
        this.allServers.map((x, i) => `--- server ${i + 1}\n${x.logs.join("\n")}`).join("\n"),
      ).catch(() => {});
      const code = await (await this.ready()).stop();
      violations.set(
        "a graceful stop (SIGTERM) after the faults exits 0",
        code === 0 ? [] : [`exit code ${code}`],
      );
      const w = this.workload;
      let events = 0;
      for (const f of stored.feeds.values()) events += f.length;
      const lines = [
        `acknowledged: ${w.ackedSessions.length} sessions, ${w.ackedWrites.length} WriteFile, ${w.ackedTurns.length} SendMessage`,
        `events seen live: ${w.liveEvents}; stored in the feeds: ${events}`,
        `turns still open after ${SETTLE_MS} ms of settling: ${open.length}${open.length ? ` (${open.slice(0, 3).join(", ")})` : ""}`,
        `server log lines at level error: ${this.server.logs.filter((l) => l.includes('"level":"error"')).length}`,
        `wall time: ${t0 - this.started} ms of traffic and faults, ${t1 - t0} ms to stop the workers, ${t2 - t1} ms to settle, ${t3 - t2} ms to read back`,
      ];
      return { violations, lines };
    }
  }

  it(
    "a. FerretDB killed under traffic: the server stays up, calls end OK or UNAVAILABLE in bounded time, nothing is lost",
    async () => {
      const run = new Run("a", `${mongo.dbName}_a`);
      await run.start(seededRandom(backendSeed + 1));
      // Traffic under way: turns running, streams open, files being written.
      await run.workload.waitLiveEvents(150, 20_000);
      const from = Date.now();
      let faulty = true;
      await mongo.kill();
      const probing = run.workload.probe(() => !faulty);
      await sleep(OUTAGE_MS);
      faulty = false;
      await mongo.restart();
      const to = Date.now();
      await probing;
      const recovery = await run.recovered(to);
      const outage = outageChecks(run.workload, from, to, run.firstOwnExit);
      const result = await run.finish();
      const violations = new Map([...outage.violations, ...result.violations]);
      violations.set(
        "calls and turns work again after FerretDB restarts",
        recovery.problem ? [recovery.problem] : [],
      );
      report(
        `a. FerretDB SIGKILL, ${backend}, outage ${to - from} ms`,
        [
          ...outage.lines,
          `recovered (WriteFile + SendMessage + turn completed) ${recovery.ms ?? "never"} ms after the restart`,
          ...result.lines,
        ],
        violations,
      );
      expectNone(violations);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "b. FerretDB stopped past the operation timeout: calls end UNAVAILABLE in bounded time, health NOT_SERVING then SERVING, nothing is lost",
    async () => {
      const run = new Run("b", `${mongo.dbName}_b`);
      await run.start(seededRandom(backendSeed + 2));
      const samples: { t: number; http: string; grpc: string }[] = [];
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const t = Date.now();
          let http = "";
          let grpc = "";
          try {
            const res = await fetch(`${run.server.url}/healthz`, {
              signal: AbortSignal.timeout(3_000),
            });
            http = String(res.status);
          } catch (err) {
            http = `error: ${(err as Error).name}`;
          }
          try {
            const res = await run.target
              .clients()
              .health.check({ service: "" }, { timeoutMs: 3_000 });
            grpc = Serving[res.status] ?? String(res.status);
          } catch (err) {
            grpc = `error: ${ConnectError.from(err).code}`;
          }
          samples.push({ t, http, grpc });
          await sleep(250);
        }
      })();
      await run.workload.waitLiveEvents(150, 20_000);
      const from = Date.now();
      let faulty = true;
      mongo.pause();
      const probing = run.workload.probe(() => !faulty);
      await sleep(PAUSE_MS);
      faulty = false;
      mongo.resume();
      const to = Date.now();
      await probing;
      const recovery = await run.recovered(to);
      // Health must be back too; keep sampling a little past the recovery.
      const healthDeadline = to + RECOVERY_MS;
      while (
        Date.now() < healthDeadline &&
        !samples.some((s) => s.t > to && s.http === "200" && s.grpc === "SERVING")
      )
        await sleep(250);
      polling = false;
      await poller;
      const outage = outageChecks(run.workload, from, to, run.firstOwnExit);

      const H_BEFORE = "health is SERVING before the fault (once it first says so)";
      const H_HTTP = `/healthz answers 503 within ${HEALTH_BOUND_MS} ms of the stop, and until SIGCONT`;
      const H_GRPC = `gRPC health answers NOT_SERVING within ${HEALTH_BOUND_MS} ms of the stop, and until SIGCONT`;
      const H_ANSWER = "health checks always answer (no hang, no error)";
      const H_BACK = `health is SERVING again within ${RECOVERY_MS} ms of SIGCONT`;
      const hv = new Map<string, string[]>(
        [H_BEFORE, H_HTTP, H_GRPC, H_ANSWER, H_BACK].map((n) => [n, []]),
      );
      const rel = (t: number) => `${((t - from) / 1000).toFixed(1)} s`;
      // A server may say NOT_SERVING while it starts; once it said SERVING, it must keep to it.
      const firstServing = samples.find((s) => s.http === "200" && s.grpc === "SERVING");
      for (const s of samples.filter((s) => s.t < from && s.t > (firstServing?.t ?? from))) {
        if (s.http !== "200" || s.grpc !== "SERVING")
          hv.get(H_BEFORE)!.push(`${rel(s.t)}: ${s.http} ${s.grpc}`);
      }
      if (!firstServing || firstServing.t >= from)
        hv.get(H_BEFORE)!.push(`never SERVING before the fault: ${timeline(samples, from)}`);
      const inPause = samples.filter((s) => s.t >= from && s.t < to);
      for (const [name, bad, good, field] of [
        [H_HTTP, "503", "200", "http"],
        [H_GRPC, "NOT_SERVING", "SERVING", "grpc"],
      ] as const) {
        const first = inPause.find((s) => s[field] === bad);
        if (!first || first.t - from > HEALTH_BOUND_MS) {
          hv.get(name)!.push(
            `first ${bad} ${first ? `at ${rel(first.t)}` : "never"} during a ${to - from} ms stop; answers: ${summarize(inPause.map((s) => s[field]))}`,
          );
        }
        if (first) {
          const flaps = inPause.filter((s) => s.t > first.t && s[field] === good);
          if (flaps.length)
            hv.get(name)!.push(
              `${good} again at ${flaps
                .map((s) => rel(s.t))
                .slice(0, 5)
                .join(", ")} while stopped`,
            );
        }
      }
      for (const s of samples) {
        if (s.http.startsWith("error") || s.grpc.startsWith("error"))
          hv.get(H_ANSWER)!.push(`${rel(s.t)}: http ${s.http}, grpc ${s.grpc}`);
      }
      const back = samples.find((s) => s.t > to && s.http === "200" && s.grpc === "SERVING");
      if (!back) {
        hv.get(H_BACK)!.push(
          `after SIGCONT: ${summarize(samples.filter((s) => s.t > to).map((s) => `${s.http}/${s.grpc}`))}`,
        );
      }

      const result = await run.finish();
      const violations = new Map([...outage.violations, ...hv, ...result.violations]);
      violations.set(
        "calls and turns work again after SIGCONT",
        recovery.problem ? [recovery.problem] : [],
      );
      report(
        `b. FerretDB SIGSTOP, ${backend}, stopped ${to - from} ms`,
        [
          ...outage.lines,
          `health during the stop (http): ${summarize(inPause.map((s) => s.http))}; (grpc): ${summarize(inPause.map((s) => s.grpc))}`,
          `health changes (s from the stop; SIGCONT at ${((to - from) / 1000).toFixed(1)}): ${timeline(samples, from)}`,
          `health SERVING again ${back ? back.t - to : "never"} ms after SIGCONT`,
          `recovered (WriteFile + SendMessage + turn completed) ${recovery.ms ?? "never"} ms after SIGCONT`,
          ...result.lines,
        ],
        violations,
      );
      expectNone(violations);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    `c. the server SIGKILLed at ${killsOf(backend)} random points of turns: nothing acknowledged or seen is lost, every turn ends once`,
    async () => {
      const random = seededRandom(backendSeed + 3);
      const run = new Run("c", `${mongo.dbName}_c`);
      await run.start(random);
      const kills: string[] = [];
      let midTurn = 0;
      const starts: number[] = [];
      for (let k = 1; k <= killsOf(backend); k++) {
        // A kill point: after the n-th live event since the (re)start, plus a little jitter.
        const events = 1 + Math.floor(random() * 200);
        const jitter = Math.floor(random() * 40);
        const up = Date.now();
        const reached = await run.workload.waitLiveEvents(events, 15_000);
        await sleep(jitter);
        const open = run.workload.openTurnCount();
        if (open > 0) midTurn++;
        const server = await run.ready();
        run.target.setDown();
        await server.crash();
        kills.push(
          `#${k}: after ${events} events${reached ? "" : " (not reached in 15 s)"} + ${jitter} ms, ${Date.now() - up} ms after the start, ${open} turns open`,
        );
        await sleep(Math.floor(random() * 200));
        const t = Date.now();
        await run.launch();
        starts.push(Date.now() - t);
      }
      const result = await run.finish();
      report(
        `c. server SIGKILL x ${killsOf(backend)}, ${backend}, seed ${SEED}`,
        [
          `kills that landed with a turn running: ${midTurn} of ${killsOf(backend)}; server starts took ${percentiles(starts)} ms`,
          ...kills,
          ...result.lines,
        ],
        result.violations,
      );
      expect(midTurn, "kill points inside turns").toBeGreaterThan(0);
      expectNone(result.violations);
    },
    TEST_TIMEOUT_MS,
  );
});
