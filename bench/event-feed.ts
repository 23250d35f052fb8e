/**
 * Event feed benchmark: one session streams `block_delta` events to 1, 100 and 1000 subscribers
 * over gRPC (HTTP/2, loopback), through the real runtime server and through a bare connect-node
 * server-stream that broadcasts the same events with nothing else. Prints delivery latency
 * (receive - emit) and deliveries per second for each. See bench/README.md.
 *
 *   npm run bench                      both emission modes, every size
 *   npm run bench -- --mode=paced      one mode (paced | flood)
 *   npm run bench -- --sizes=1,100     some sizes only
 *   npm run bench -- --targets=runtime the runtime only (no bare baseline server)
 *
 * The servers and the emitter run on the main thread; the subscribers run in a worker thread of
 * the same process, so client work does not queue behind server work on one event loop. Both
 * threads read the same monotonic clock (process.hrtime), so receive - emit needs no correction.
 */
import { setMaxListeners } from "node:events";
import http2 from "node:http2";
import os from "node:os";
import { type EventLoopUtilization, performance } from "node:perf_hooks";
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import {
  connectNodeAdapter,
  createGrpcTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { type SessionEvent, SessionEventSchema } from "#gen/event_pb.js";
import { SessionService } from "#gen/session_service_pb.js";
import { MemoryPersistence } from "../src/adapters/memory/persistence.js";
import { startTracing } from "../src/adapters/observe/tracing.js";
import { silentLogger } from "../src/app/shared/logger.js";
import { newId } from "../src/domain/ids.js";
import { createAgentRuntime, demoProfile } from "../src/runtime.js";
import { listen } from "../src/server.js";

/** Subscribers per HTTP/2 connection (one client transport each). */
const SUBSCRIBERS_PER_CONNECTION = 100;
/** A text delta as a model streams it: a sentence. */
const DELTA_TEXT = "The quick brown fox jumps over the lazy dog, then writes a test. ";
const BLOCK_ID = "blk_bench";
/** Any single wait (connecting, delivery, closing) longer than this fails the case. */
const WAIT_MS = 30_000;
/** The whole run is abandoned after this long. */
const WATCHDOG_MS = 180_000;

/** Milliseconds on the process-wide monotonic clock, the same in every thread. */
const now = () => Number(process.hrtime.bigint()) / 1e6;

interface Pace {
  events: number;
  /** Events emitted back to back... */
  burst: number;
  /** ...then this many ms until the next burst starts (0: setImmediate, as fast as possible). */
  everyMs: number;
}

interface Mode {
  name: "paced" | "flood";
  describe: string;
  pace: Record<number, Pace>;
}

const MODES: Mode[] = [
  {
    name: "paced",
    describe:
      "a steady 5,000 deliveries/s: S=1 bursts of 5 events every 1 ms, S=100 one event every 20 ms, S=1000 one event every 200 ms",
    pace: {
      1: { events: 5000, burst: 5, everyMs: 1 },
      100: { events: 150, burst: 1, everyMs: 20 },
      1000: { events: 20, burst: 1, everyMs: 200 },
    },
  },
  {
    name: "flood",
    describe:
      "as fast as possible: bursts of up to 100 events, setImmediate between bursts (lets I/O run); delivered/s is the capacity",
    pace: {
      1: { events: 5000, burst: 100, everyMs: 0 },
      100: { events: 1000, burst: 100, everyMs: 0 },
      1000: { events: 50, burst: 100, everyMs: 0 },
    },
  },
];

// --- what the worker is told and tells back ---

interface OpenCommand {
  type: "open";
  url: string;
  sessionId: string;
  /** Subscribers ask for events after this; `after + 1` is the warm-up event. */
  after: number;
  events: number;
  subscribers: number;
}

type WorkerMessage =
  | { type: "warm" }
  | { type: "done" }
  | {
      type: "result";
      /** Receive time of event k for subscriber i at [i * events + k]; 0 = never received. */
      receivedAt: Float64Array;
      outOfOrder: number;
      streamErrors: string[];
    };

// --- servers ---

/** A stream of events for one session and what the bench needs to drive it. */
interface Source {
  sessionId: string;
  /** The last sequence emitted so far. */
  sequence(): number;
  /** Streams connected on the server side. */
  subscribers(): number;
  /** Emits one text delta; returns its sequence. */
  emit(text: string): number;
}

interface Target {
  name: "runtime" | "baseline";
  url: string;
  newSource(): Promise<Source>;
  close(): Promise<void>;
}

/** The real server: runtime, memory persistence, `listen` on a loopback port. */
async function startRuntime(): Promise<Target> {
  const runtime = await createAgentRuntime({
    persistence: new MemoryPersistence(),
    logger: silentLogger,
    models: {},
    // Metrics are on by default; BENCH_METRICS=0 turns them off (bench/observe.ts compares).
    metrics: process.env.BENCH_METRICS !== "0",
  });
  await runtime.start();
  const server = await listen(runtime, { port: 0, host: "127.0.0.1" });
  const profile = await runtime.useCases.profiles.create("default", demoProfile());
  return {
    name: "runtime",
    url: `http://127.0.0.1:${server.port}`,
    async newSource() {
      const view = await runtime.useCases.sessions.create("default", {
        agentProfileId: profile.id,
        name: "bench",
        metadata: {},
        initialFiles: [],
        options: { model: "" },
        requestId: "",
      });
      const { feed } = await runtime.sessionManager.load(view.record.id);
      return {
        sessionId: view.record.id,
        sequence: () => feed.sequence,
        subscribers: () => feed.subscriberCount,
        emit: (text) =>
          feed.emit({
            type: "block_delta",
            blockId: BLOCK_ID,
            delta: { kind: "text", value: text },
          }).sequence,
      };
    },
    async close() {
      await runtime.shutdown();
      await server.close(1_000);
    },
  };
}

/** A subscriber's queue in the baseline broadcast (a read index: no O(n) shift on a backlog). */
class Queue {
  private items: SessionEvent[] = [];
  private head = 0;
  wake: (() => void) | undefined;

  push(event: SessionEvent): void {
    this.items.push(event);
    this.wake?.();
  }

  take(): SessionEvent | undefined {
    if (this.head === this.items.length) return undefined;
    const event = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return event;
  }
}

function baselineEvent(sessionId: string, sequence: number, text: string): SessionEvent {
  return create(SessionEventSchema, {
    sessionId,
    sequence: BigInt(sequence),
    time: timestampFromDate(new Date()),
    payload: {
      case: "blockDelta",
      value: { blockId: BLOCK_ID, delta: { case: "text", value: text } },
    },
  });
}

/** connect-node on `http2.createServer`, only StreamEvents, broadcasting from memory. */
async function startBaseline(): Promise<Target> {
  const sessions = new Map<string, Set<Queue>>();
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(SessionService, {
        async *streamEvents(req, ctx) {
          const queues = sessions.get(req.sessionId);
          if (!queues) return;
          const queue = new Queue();
          queues.add(queue);
          const stop = () => queue.wake?.();
          ctx.signal.addEventListener("abort", stop, { once: true });
          try {
            for (;;) {
              const event = queue.take();
              if (event) {
                yield { event };
                continue;
              }
              if (ctx.signal.aborted) return;
              await new Promise<void>((resolve) => {
                queue.wake = resolve;
              });
              queue.wake = undefined;
            }
          } finally {
            queues.delete(queue);
            ctx.signal.removeEventListener("abort", stop);
          }
        },
      });
    },
  });
  const server = http2.createServer(handler);
  const h2Sessions = new Set<http2.Http2Session>();
  server.on("session", (s) => {
    h2Sessions.add(s);
    s.on("close", () => h2Sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    name: "baseline",
    url: `http://127.0.0.1:${port}`,
    async newSource() {
      const sessionId = newId("ses");
      const queues = new Set<Queue>();
      sessions.set(sessionId, queues);
      let sequence = 0;
      return {
        sessionId,
        sequence: () => sequence,
        subscribers: () => queues.size,
        emit(text) {
          const event = baselineEvent(sessionId, ++sequence, text);
          for (const q of queues) q.push(event);
          return sequence;
        },
      };
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of h2Sessions) s.destroy();
      await closed;
    },
  };
}

// --- the subscribers (worker thread) ---

/** Opens the subscribers of one case, reports warm-up and completion, then the receive times. */
function runSubscribers(port: NonNullable<typeof parentPort>): void {
  let close: (() => Promise<void>) | undefined;
  port.on("message", (msg: OpenCommand | { type: "close" }) => {
    if (msg.type === "close") {
      void close?.();
      return;
    }
    const { url, sessionId, after, events: E, subscribers: S } = msg;
    const first = after + 2;
    const last = first + E - 1;
    const receivedAt = new Float64Array(S * E);
    const abort = new AbortController();
    setMaxListeners(0, abort.signal);
    const managers = Array.from(
      { length: Math.ceil(S / SUBSCRIBERS_PER_CONNECTION) },
      () => new Http2SessionManager(url),
    );
    const clients = managers.map((sessionManager) =>
      createClient(SessionService, createGrpcTransport({ baseUrl: url, sessionManager })),
    );
    let warm = 0;
    let done = 0;
    let outOfOrder = 0;
    const streamErrors: string[] = [];

    const subscribe = async (i: number) => {
      const client = clients[Math.floor(i / SUBSCRIBERS_PER_CONNECTION)]!;
      const offset = i * E - first;
      let previous = after;
      try {
        const stream = client.streamEvents(
          { sessionId, afterSequence: BigInt(after) },
          { signal: abort.signal },
        );
        for await (const res of stream) {
          const t = now();
          const seq = Number(res.event?.sequence ?? 0n);
          if (seq !== previous + 1) outOfOrder++;
          previous = seq;
          if (seq >= first && seq <= last) receivedAt[offset + seq] = t;
          if (seq === after + 1 && ++warm === S) port.postMessage({ type: "warm" });
          if (seq === last && ++done === S) port.postMessage({ type: "done" });
        }
      } catch (err) {
        if (!abort.signal.aborted) streamErrors.push(String(err));
      }
    };
    const streams = Array.from({ length: S }, (_, i) => subscribe(i));

    close = async () => {
      abort.abort();
      await Promise.allSettled(streams);
      for (const m of managers) m.abort();
      const result: WorkerMessage = { type: "result", receivedAt, outOfOrder, streamErrors };
      port.postMessage(result, [receivedAt.buffer]);
    };
  });
}

/** The main thread's side of the worker: send commands, wait for a given reply. */
class Subscribers {
  private readonly waiting = new Map<string, (msg: WorkerMessage) => void>();
  private readonly exited: Promise<never>;

  constructor(private readonly worker: Worker) {
    worker.on("message", (msg: WorkerMessage) => {
      const resolve = this.waiting.get(msg.type);
      this.waiting.delete(msg.type);
      resolve?.(msg);
    });
    this.exited = new Promise((_, reject) => {
      worker.on("error", reject);
      worker.on("exit", (code) => reject(new Error(`subscriber worker exited (${code})`)));
    });
    this.exited.catch(() => {});
  }

  send(msg: OpenCommand | { type: "close" }): void {
    this.worker.postMessage(msg);
  }

  /** Resolves on the worker's next message of this type. Register before causing it. */
  next<T extends WorkerMessage["type"]>(
    type: T,
    what: string,
  ): Promise<Extract<WorkerMessage, { type: T }>> {
    const reply = new Promise<Extract<WorkerMessage, { type: T }>>((resolve) => {
      this.waiting.set(type, resolve as (msg: WorkerMessage) => void);
    });
    return withTimeout(Promise.race([reply, this.exited]), what);
  }

  /** The worker's event loop utilization, as `performance.eventLoopUtilization` gives it. */
  utilization(since?: EventLoopUtilization): EventLoopUtilization {
    return this.worker.performance.eventLoopUtilization(since);
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

// --- one case ---

class Timeout extends Error {}

async function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Timeout(`timed out waiting for ${what}`)), WAIT_MS);
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = now() + WAIT_MS;
  while (!check()) {
    if (now() > deadline) throw new Timeout(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A collection between cases, so one case's garbage does not land in the next. */
const gc: (() => void) | undefined = (() => {
  try {
    v8.setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  } catch {
    return undefined;
  }
})();

interface Result {
  target: string;
  mode: string;
  subscribers: number;
  events: number;
  deliveries: number;
  missing: number;
  outOfOrder: number;
  streamErrors: string[];
  /** Sorted, ms. */
  latencies: Float64Array;
  /** From the first emit to the last receive. */
  wallMs: number;
  /** From the first emit to the last. */
  emitMs: number;
  /** Peak growth of the main thread's heap during the case (servers, emitter; garbage included). */
  heapGrowth: number;
  /** Share of the time from first emit to last receive each thread's event loop was busy. */
  serverBusy: number;
  clientBusy: number;
  failure?: string;
}

/**
 * One case: S subscribers on a fresh session; sync with a warm-up event every subscriber must
 * receive; emit the events at the mode's pace; wait until every subscriber has every event.
 */
async function runCase(
  target: Target,
  subscribers: Subscribers,
  mode: Mode,
  S: number,
  pace: Pace,
): Promise<Result> {
  const E = pace.events;
  gc?.();
  const heapStart = v8.getHeapStatistics().used_heap_size;
  let heapPeak = heapStart;
  const sample = () => {
    heapPeak = Math.max(heapPeak, v8.getHeapStatistics().used_heap_size);
  };
  const sampler = setInterval(sample, 20);

  const source = await target.newSource();
  const after = source.sequence();
  const first = after + 2;
  const emitAt = new Float64Array(E);
  const result: Result = {
    target: target.name,
    mode: mode.name,
    subscribers: S,
    events: E,
    deliveries: 0,
    missing: 0,
    outOfOrder: 0,
    streamErrors: [],
    latencies: new Float64Array(0),
    wallMs: 0,
    emitMs: 0,
    heapGrowth: 0,
    serverBusy: 0,
    clientBusy: 0,
  };

  let t0 = 0;
  let serverLoop: EventLoopUtilization | undefined;
  let clientLoop: EventLoopUtilization | undefined;
  try {
    const warm = subscribers.next("warm", "every subscriber to receive the warm-up event");
    subscribers.send({
      type: "open",
      url: target.url,
      sessionId: source.sessionId,
      after,
      events: E,
      subscribers: S,
    });
    await until(() => source.subscribers() === S, `${S} subscribers to connect`);
    source.emit(DELTA_TEXT);
    await warm;

    const done = subscribers.next("done", "every subscriber to receive every event");
    t0 = now();
    serverLoop = performance.eventLoopUtilization();
    clientLoop = subscribers.utilization();
    let sent = 0;
    for (let burst = 1; sent < E; burst++) {
      const n = Math.min(pace.burst, E - sent);
      for (let j = 0; j < n; j++) {
        const t = now();
        emitAt[source.emit(DELTA_TEXT) - first] = t;
      }
      sent += n;
      if (sent === E) break;
      // On schedule: sleep until the next burst is due; behind: only let I/O run, then catch up.
      const wait = pace.everyMs === 0 ? 0 : t0 + burst * pace.everyMs - now();
      await (wait > 0 ? sleep(wait) : nextTurn());
    }
    result.emitMs = now() - t0;
    await done;
    result.serverBusy = performance.eventLoopUtilization(serverLoop).utilization;
    result.clientBusy = subscribers.utilization(clientLoop).utilization;
  } catch (err) {
    result.failure = err instanceof Error ? err.message : String(err);
  } finally {
    clearInterval(sampler);
    sample();
  }
  const closed = subscribers.next("result", "the subscribers to close");
  subscribers.send({ type: "close" });
  const { receivedAt, outOfOrder, streamErrors } = await closed;

  let lastReceive = t0;
  const latencies = new Float64Array(S * E);
  let n = 0;
  for (let i = 0; i < S * E; i++) {
    const t = receivedAt[i]!;
    if (t === 0) continue;
    latencies[n++] = t - emitAt[i % E]!;
    if (t > lastReceive) lastReceive = t;
  }
  result.deliveries = n;
  result.missing = S * E - n;
  result.outOfOrder = outOfOrder;
  result.streamErrors = streamErrors;
  result.latencies = latencies.subarray(0, n).sort();
  result.wallMs = lastReceive - t0;
  result.heapGrowth = heapPeak - heapStart;
  return result;
}

// --- output ---

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function ms(v: number): string {
  if (Number.isNaN(v)) return "-";
  return v < 10 ? `${v.toFixed(2)}ms` : v < 100 ? `${v.toFixed(1)}ms` : `${Math.round(v)}ms`;
}

function mb(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)}MB`;
}

function pct(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function row(r: Result): string {
  const perSecond = (count: number, durationMs: number) =>
    durationMs > 0 ? String(Math.round((count * 1000) / durationMs)) : "-";
  const cells = [
    r.target.padEnd(8),
    r.mode.padEnd(5),
    `S=${r.subscribers}`.padEnd(6),
    `events=${r.events}`.padEnd(11),
    `deliveries=${r.deliveries}`.padEnd(17),
    `p50=${ms(percentile(r.latencies, 0.5))}`.padEnd(12),
    `p99=${ms(percentile(r.latencies, 0.99))}`.padEnd(12),
    `max=${ms(percentile(r.latencies, 1))}`.padEnd(12),
    `delivered/s=${perSecond(r.deliveries, r.wallMs)}`.padEnd(19),
    `emitted/s=${perSecond(r.events, r.emitMs)}`.padEnd(16),
    `busy=${pct(r.serverBusy)}/${pct(r.clientBusy)}`.padEnd(14),
    `heap+=${mb(r.heapGrowth)}`,
  ];
  const problems = [
    r.missing ? `MISSING=${r.missing}` : "",
    r.outOfOrder ? `OUT-OF-ORDER=${r.outOfOrder}` : "",
    r.streamErrors.length
      ? `STREAM-ERRORS=${r.streamErrors.length} (${r.streamErrors[0]?.slice(0, 120)})`
      : "",
    r.failure ? `FAILED: ${r.failure}` : "",
  ].filter(Boolean);
  return [...cells, ...problems].join(" ").trimEnd();
}

function parseArgs(): { modes: Mode[]; sizes: number[]; baseline: boolean } {
  let modes = MODES;
  let sizes = [1, 100, 1000];
  let baseline = true;
  for (const arg of process.argv.slice(2)) {
    const [key, value = ""] = arg.replace(/^--/, "").split("=");
    if (key === "mode") modes = MODES.filter((m) => value.split(",").includes(m.name));
    else if (key === "sizes") sizes = value.split(",").map(Number);
    else if (key === "targets") baseline = value.split(",").includes("baseline");
    else
      throw new Error(
        `unknown argument ${arg} (use --mode=paced,flood --sizes=1,100,1000 --targets=runtime,baseline)`,
      );
  }
  for (const s of sizes) {
    if (!MODES[0]!.pace[s]) throw new Error(`size ${s} is not one of 1, 100, 1000`);
  }
  return { modes, sizes, baseline };
}

/** This file in a worker thread. tsx's `--import` hook does not reach workers: register it there. */
function startWorker(): Worker {
  const tsx = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const self = JSON.stringify(import.meta.url);
  return new Worker(
    `import(${tsx}).then(({ register }) => { register(); return import(${self}); });`,
    { eval: true },
  );
}

async function main(): Promise<void> {
  const { modes, sizes, baseline: withBaseline } = parseArgs();
  // OpenTelemetry tracing when the OTEL_* variables ask for it (bench/observe.ts sets them).
  const tracing = startTracing(process.env);
  const sample = baselineEvent(newId("ses"), 1, DELTA_TEXT);
  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  console.log(
    `event-feed bench  node ${process.version}  ${os.platform()}/${os.arch()}  ${cpus.length} CPUs (${cpus[0]?.model.trim() ?? "?"})  load ${load}  ${new Date().toISOString()}`,
  );
  console.log(
    `transport: gRPC over h2c (connect-node createGrpcTransport), loopback, ${SUBSCRIBERS_PER_CONNECTION} subscribers per connection; servers on the main thread, subscribers in one worker thread`,
  );
  console.log(
    `event: block_delta text, ${DELTA_TEXT.length} chars, ${toBinary(SessionEventSchema, sample).length} bytes as protobuf`,
  );
  for (const m of modes) console.log(`${m.name}: ${m.describe}`);
  console.log(
    "latency = receive - emit per delivery; delivered/s = deliveries / (last receive - first emit); busy = server/client event loop utilization during delivery; heap+ = peak main-thread (server side) heap growth",
  );
  console.log();

  const subscribers = new Subscribers(startWorker());
  const runtime = await startRuntime();
  const baseline = await startBaseline();
  let failed = false;
  try {
    // Unreported warm-up: JIT, connection code paths, allocation.
    const targets = withBaseline ? [runtime, baseline] : [runtime];
    for (const target of targets) {
      await runCase(target, subscribers, MODES[1]!, 100, { events: 200, burst: 100, everyMs: 0 });
    }
    for (const mode of modes) {
      for (const S of sizes) {
        for (const target of targets) {
          const r = await runCase(target, subscribers, mode, S, mode.pace[S]!);
          if (r.failure || r.missing || r.outOfOrder || r.streamErrors.length) failed = true;
          console.log(row(r));
        }
      }
    }
  } finally {
    await subscribers.terminate();
    await runtime.close();
    await baseline.close();
    await tracing?.shutdown();
  }
  console.log(`\nprocess peak RSS: ${mb(process.resourceUsage().maxRSS * 1024)}`);
  const cpu = process.cpuUsage();
  console.log(`process CPU: ${((cpu.user + cpu.system) / 1e6).toFixed(2)}s`);
  process.exitCode = failed ? 1 : 0;
}

if (isMainThread) {
  const watchdog = setTimeout(() => {
    console.error(`bench: still running after ${WATCHDOG_MS / 1000}s, giving up`);
    process.exit(2);
  }, WATCHDOG_MS);
  watchdog.unref();
  main()
    .catch((err) => {
      console.error("bench failed:", err);
      process.exitCode = 1;
    })
    .finally(() => {
      // Connections or timers left by a failed case must not keep the process up.
      setTimeout(() => process.exit(), 500).unref();
    });
} else if (parentPort) {
  runSubscribers(parentPort);
}
