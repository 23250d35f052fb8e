// Part of the composition root: metrics and tracing around the adapters the runtime is given
// (store, models, sandbox providers), the RPC interceptor, and the `/metrics` endpoint.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Interceptor } from "@connectrpc/connect";
import { type MetricsGauges, RuntimeMetrics } from "./adapters/observe/metrics.js";
import { observedModel } from "./adapters/observe/model.js";
import { observeInterceptor } from "./adapters/observe/rpc.js";
import { observedSandboxProvider } from "./adapters/observe/sandbox.js";
import { observedStore } from "./adapters/observe/store.js";
import type { Feeds } from "./app/feed/feeds.js";
import type { SessionManager } from "./app/sessions/session-manager.js";
import type { ModelProviderKind, SessionEvent } from "./domain/types.js";
import type { Logger } from "./ports/logger.js";
import type { ModelProvider } from "./ports/model.js";
import type { PersistenceAdapter } from "./ports/persistence.js";
import type { SandboxProvider } from "./ports/sandbox.js";

export interface ObserveOptions {
  /** Serve Prometheus metrics at `/metrics`. Default true. */
  metrics?: boolean;
  /** Serve `/metrics` without an API key. Default false: any valid API key may read it. */
  metricsPublic?: boolean;
}

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

export class Observability {
  readonly metrics: RuntimeMetrics | undefined;
  readonly store: PersistenceAdapter;
  readonly tenantOf: (sessionId: string) => string | undefined;
  readonly interceptor: Interceptor;
  private readonly listeners: Array<(sessionId: string, events: SessionEvent[]) => void> = [];
  private gauges: MetricsGauges | undefined;

  constructor(
    persistence: PersistenceAdapter,
    private readonly options: ObserveOptions,
    private readonly logger: Logger,
  ) {
    this.metrics =
      options.metrics === false
        ? undefined
        : new RuntimeMetrics({
            feedsOpen: () => this.gauges?.feedsOpen() ?? 0,
            queuedMessages: () => this.gauges?.queuedMessages() ?? 0,
            loadedSessions: () => this.gauges?.loadedSessions() ?? 0,
          });
    const observed = observedStore(persistence, this.metrics, (sessionId, events) => {
      this.metrics?.eventsStored(events, observed.tenantOf);
      for (const listener of this.listeners) {
        try {
          listener(sessionId, events);
        } catch (err) {
          this.logger.error("an event listener failed", { sessionId, err });
        }
      }
    });
    this.store = observed.store;
    this.tenantOf = observed.tenantOf;
    this.interceptor = observeInterceptor(this.metrics);
  }

  /** The live figures `/metrics` reads at scrape time: of these loaded sessions and feeds. */
  watch(sessions: SessionManager, feeds: Feeds): void {
    this.gauges = {
      feedsOpen: () => feeds.openCount,
      queuedMessages: () =>
        sessions.getLoadedSessions().reduce((n, s) => n + s.record.queuedMessages.length, 0),
      loadedSessions: () => sessions.getLoadedSessions().length,
    };
  }

  /** Called with every batch of events once stored (never blocks the writer; must not throw). */
  onEventsStored(listener: (sessionId: string, events: SessionEvent[]) => void): void {
    this.listeners.push(listener);
  }

  model(kind: ModelProviderKind, model: ModelProvider): ModelProvider {
    return observedModel(model, kind, this.metrics);
  }

  models(
    models: Partial<Record<ModelProviderKind, ModelProvider>>,
  ): Partial<Record<ModelProviderKind, ModelProvider>> {
    const out: Partial<Record<ModelProviderKind, ModelProvider>> = {};
    for (const [kind, model] of Object.entries(models) as [ModelProviderKind, ModelProvider][])
      if (model) out[kind] = this.model(kind, model);
    return out;
  }

  sandboxProvider(provider: SandboxProvider): SandboxProvider {
    return observedSandboxProvider(provider, this.metrics);
  }

  /**
   * Answers `GET /metrics` (true) or leaves the request alone (false). Behind the API keys
   * (`Authorization: Bearer <key>`, any tenant's) unless `metricsPublic`.
   */
  serveMetrics(req: Req, res: Res, apiKeys: ReadonlyMap<string, string>): boolean {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics" || !this.metrics) return false;
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    if (!this.options.metricsPublic && apiKeys.size > 0) {
      const header = String(req.headers.authorization ?? "");
      const key = /^Bearer\s+(\S+)$/i.exec(header.trim())?.[1];
      if (!key || !apiKeys.has(key)) {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            code: "unauthenticated",
            message: "send an API key as Authorization: Bearer <key>",
          }),
        );
        return true;
      }
    }
    this.metrics.text().then(
      ({ body, contentType }) => {
        res.writeHead(200, { "content-type": contentType });
        if (req.method === "HEAD") res.end();
        else res.end(body);
      },
      (err: unknown) => {
        this.logger.error("collecting metrics failed", { err });
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ code: "internal", message: "collecting metrics failed" }));
      },
    );
    return true;
  }
}
