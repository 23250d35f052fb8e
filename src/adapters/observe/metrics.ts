// The runtime's Prometheus metrics (prom-client), one registry per runtime: what `/metrics`
// serves. The wrappers in this folder (store, model, sandbox, RPC) and the runtime feed it.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { SessionEvent } from "../../domain/types.js";

/** Live figures read at scrape time. */
export interface MetricsGauges {
  feedsOpen(): number;
  /** Messages waiting behind running turns, over the loaded sessions. */
  queuedMessages(): number;
  loadedSessions(): number;
}

/** Sessions whose counting position is kept (then it starts over: a retry may count twice). */
const MAX_COUNTED_SESSIONS = 100_000;
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const FAST = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class RuntimeMetrics {
  readonly registry = new Registry();
  readonly rpcs: Counter<"method" | "code">;
  readonly rpcSeconds: Histogram<"method" | "code">;
  readonly turns: Counter<"outcome">;
  readonly turnSeconds: Histogram<"outcome">;
  readonly modelStepSeconds: Histogram<"model">;
  readonly timeToFirstToken: Histogram<"model">;
  readonly modelErrors: Counter<"model" | "reason">;
  readonly tokens: Counter<"model" | "tenant" | "kind">;
  readonly costUsd: Counter<"model" | "tenant">;
  readonly sandboxesStarting: Gauge<"provider">;
  readonly sandboxesRunning: Gauge<"provider">;
  readonly sandboxStartSeconds: Histogram<"provider">;
  readonly sandboxStartFailures: Counter<"provider">;
  readonly sandboxCommands: Counter<"provider" | "result">;
  readonly events: Counter<string>;
  readonly slowSubscriberCutoffs: Counter<string>;
  readonly storeSeconds: Histogram<"operation">;
  readonly storeErrors: Counter<"operation">;
  readonly webhookDeliveries: Counter<"event" | "result">;
  /** StreamEvents streams open (the RPC interceptor counts them). */
  streamsOpen = 0;
  /** Per session, the last stored sequence counted: a retried append is not counted twice. */
  private readonly counted = new Map<string, number>();

  constructor(gauges?: MetricsGauges) {
    const r = this.registry;
    const p = "agentruntime_";
    this.rpcs = new Counter({
      name: `${p}rpc_requests_total`,
      help: "RPCs handled, by method and status code",
      labelNames: ["method", "code"],
      registers: [r],
    });
    this.rpcSeconds = new Histogram({
      name: `${p}rpc_duration_seconds`,
      help: "RPC latency (for streams: until the stream ended), by method and status code",
      labelNames: ["method", "code"],
      buckets: FAST,
      registers: [r],
    });
    this.turns = new Counter({
      name: `${p}turns_total`,
      help: "Turns completed, by outcome",
      labelNames: ["outcome"],
      registers: [r],
    });
    this.turnSeconds = new Histogram({
      name: `${p}turn_duration_seconds`,
      help: "Turn duration from turn_started to turn_completed, by outcome",
      labelNames: ["outcome"],
      buckets: SECONDS,
      registers: [r],
    });
    this.modelStepSeconds = new Histogram({
      name: `${p}model_step_duration_seconds`,
      help: "One streamed model call, by model",
      labelNames: ["model"],
      buckets: SECONDS,
      registers: [r],
    });
    this.timeToFirstToken = new Histogram({
      name: `${p}model_time_to_first_token_seconds`,
      help: "From the model request to its first streamed content, by model",
      labelNames: ["model"],
      buckets: SECONDS,
      registers: [r],
    });
    this.modelErrors = new Counter({
      name: `${p}model_errors_total`,
      help: "Model calls that failed, by model and reason",
      labelNames: ["model", "reason"],
      registers: [r],
    });
    this.tokens = new Counter({
      name: `${p}tokens_total`,
      help: "Model tokens, by model, tenant and kind (input, output, cache_read, cache_creation)",
      labelNames: ["model", "tenant", "kind"],
      registers: [r],
    });
    this.costUsd = new Counter({
      name: `${p}cost_usd_total`,
      help: "Model spend in US dollars, by model and tenant",
      labelNames: ["model", "tenant"],
      registers: [r],
    });
    this.sandboxesStarting = new Gauge({
      name: `${p}sandboxes_starting`,
      help: "Sandboxes being started, by provider",
      labelNames: ["provider"],
      registers: [r],
    });
    this.sandboxesRunning = new Gauge({
      name: `${p}sandboxes_running`,
      help: "Sandboxes started or attached by this process and not terminated, by provider",
      labelNames: ["provider"],
      registers: [r],
    });
    this.sandboxStartSeconds = new Histogram({
      name: `${p}sandbox_start_duration_seconds`,
      help: "Sandbox start latency, by provider",
      labelNames: ["provider"],
      buckets: SECONDS,
      registers: [r],
    });
    this.sandboxStartFailures = new Counter({
      name: `${p}sandbox_start_failures_total`,
      help: "Sandbox starts that failed, by provider",
      labelNames: ["provider"],
      registers: [r],
    });
    this.sandboxCommands = new Counter({
      name: `${p}sandbox_commands_total`,
      help: "Commands run in sandboxes, by provider and result (ok, failed, timed_out, error)",
      labelNames: ["provider", "result"],
      registers: [r],
    });
    this.events = new Counter({
      name: `${p}events_written_total`,
      help: "Session events stored (rate() gives events written per second)",
      registers: [r],
    });
    this.slowSubscriberCutoffs = new Counter({
      name: `${p}slow_subscriber_cutoffs_total`,
      help: "StreamEvents streams ended because the reader fell too far behind",
      registers: [r],
    });
    this.storeSeconds = new Histogram({
      name: `${p}store_duration_seconds`,
      help: "Persistence call latency, by operation",
      labelNames: ["operation"],
      buckets: FAST,
      registers: [r],
    });
    this.storeErrors = new Counter({
      name: `${p}store_errors_total`,
      help: "Persistence calls that failed, by operation",
      labelNames: ["operation"],
      registers: [r],
    });
    this.webhookDeliveries = new Counter({
      name: `${p}webhook_deliveries_total`,
      help: "Webhook delivery attempts, by event type and result (delivered, failed, gave_up)",
      labelNames: ["event", "result"],
      registers: [r],
    });
    if (gauges) {
      const gauge = (name: string, help: string, read: () => number) =>
        new Gauge({
          name: `${p}${name}`,
          help,
          registers: [r],
          collect() {
            this.set(read());
          },
        });
      gauge("feeds_open", "Session event feeds open in this process", gauges.feedsOpen);
      gauge("feed_subscribers", "StreamEvents streams open", () => this.streamsOpen);
      gauge("queued_messages", "Messages waiting for their turn (loaded sessions)", () =>
        gauges.queuedMessages(),
      );
      gauge("sessions_loaded", "Sessions held in memory", gauges.loadedSessions);
    }
  }

  /** Counts stored events: turns by outcome and duration, tokens and cost by model and tenant. */
  eventsStored(events: SessionEvent[], tenantOf: (sessionId: string) => string | undefined): void {
    for (const e of events) {
      const last = this.counted.get(e.sessionId) ?? 0;
      if (e.sequence <= last) continue;
      if (this.counted.size >= MAX_COUNTED_SESSIONS) this.counted.clear();
      this.counted.set(e.sessionId, e.sequence);
      this.events.inc();
      const p = e.payload;
      if (p.type === "turn_completed") {
        const outcome = p.turn.outcome ?? "completed";
        this.turns.inc({ outcome });
        const end = p.turn.endTime ?? e.time;
        const seconds = (end.getTime() - p.turn.startTime.getTime()) / 1000;
        if (seconds >= 0) this.turnSeconds.observe({ outcome }, seconds);
      } else if (p.type === "usage_updated") {
        const labels = { model: p.model || "unknown", tenant: tenantOf(e.sessionId) ?? "unknown" };
        const kinds = {
          input: p.step.inputTokens,
          output: p.step.outputTokens,
          cache_read: p.step.cacheReadInputTokens,
          cache_creation: p.step.cacheCreationInputTokens,
        };
        for (const [kind, n] of Object.entries(kinds))
          if (n > 0) this.tokens.inc({ ...labels, kind }, n);
        if (p.step.costMicroUsd > 0) this.costUsd.inc(labels, p.step.costMicroUsd / 1_000_000);
      }
    }
  }

  /** Forgets a deleted or unloaded session's counting position. */
  forget(sessionId: string): void {
    this.counted.delete(sessionId);
  }

  /** The Prometheus text exposition: this runtime's metrics and the process's. */
  async text(): Promise<{ body: string; contentType: string }> {
    const both = Registry.merge([processMetrics(), this.registry]);
    return { body: await both.metrics(), contentType: this.registry.contentType };
  }
}

let processRegistry: Registry | undefined;

/** Memory, CPU, event-loop delay, GC: one set per process, whatever the number of runtimes. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}
