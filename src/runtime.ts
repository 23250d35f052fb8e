import { setMaxListeners } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { AnthropicModelProvider } from "./adapters/anthropic/model.js";
import { DemoModelProvider } from "./adapters/demo-model/model.js";
import { MemorySecrets } from "./adapters/memory/secrets.js";
import { EventStreams } from "./app/feed/event-streams.js";
import { DEFAULT_FEED_POLL_MS, FeedTails } from "./app/feed/feed-tails.js";
import { Feeds } from "./app/feed/feeds.js";
import { McpConnections } from "./app/mcp/connections.js";
import { Profiles } from "./app/profiles/profiles.js";
import { Recovery } from "./app/recovery/recovery.js";
import { Secrets } from "./app/secrets/secrets.js";
import { SessionCommands } from "./app/sessions/commands.js";
import { SessionManager } from "./app/sessions/session-manager.js";
import { Sessions } from "./app/sessions/sessions.js";
import { createLogger, type Logger } from "./app/shared/logger.js";
import { observeStore } from "./app/shared/observe-store.js";
import { Answers } from "./app/turns/answers.js";
import { Budgets } from "./app/turns/budget.js";
import { Messages } from "./app/turns/messages.js";
import { TurnRunner } from "./app/turns/turn-runner.js";
import { Workspaces } from "./app/workspace/workspaces.js";
import { demoApprovalProfile, demoProfile } from "./demo-profiles.js";
import { LIMITS } from "./domain/limits.js";
import type { ModelProviderKind } from "./domain/types.js";
import { Observability, type ObserveOptions } from "./observability.js";
import type { ModelProvider } from "./ports/model.js";
import type { PersistenceAdapter } from "./ports/persistence.js";
import type { SandboxProvider } from "./ports/sandbox.js";
import type { SecretStore } from "./ports/secrets.js";
import { authInterceptor } from "./transport/auth.js";
import { consoleHandler } from "./transport/console.js";
import { applyCors } from "./transport/cors.js";
import { errorInterceptor, requestGate } from "./transport/errors.js";
import { HealthState, registerHealth } from "./transport/health.js";
import { registerReflection } from "./transport/reflection.js";
import { SERVED_FILES } from "./transport/served-files.js";
import { registerApi } from "./transport/services.js";
import { setupWebhooks, type WebhookOptions } from "./webhook-setup.js";

export interface AgentRuntimeOptions extends ObserveOptions, WebhookOptions {
  /** Where sessions, profiles, files and events are stored. */
  persistence: PersistenceAdapter;
  /** The tenants' named secrets. Default: in memory (lost at restart). */
  secrets?: SecretStore;
  /** API key -> tenant id. Empty: every caller is the tenant "default". */
  apiKeys?: ReadonlyMap<string, string> | Record<string, string>;
  /** Browser origins allowed by CORS; ["*"] allows any. Default ["*"]. */
  corsOrigins?: readonly string[];
  logger?: Logger;
  /** Extra interceptors, run after authentication. */
  interceptors?: Interceptor[];
  /**
   * Where tools run. The first is the default for profiles that name no provider. Without any,
   * sessions can talk but not run tools.
   */
  sandboxProviders?: SandboxProvider[];
  /** Model providers by kind. Default: Anthropic (ANTHROPIC_API_KEY) and the offline demo model. */
  models?: Partial<Record<ModelProviderKind, ModelProvider>>;
  /** Model id for profiles that name none. */
  defaultModel?: string;
  /** Each tenant's spending limit per calendar month (UTC), in micro-dollars. 0: none. */
  tenantMonthlyBudgetMicroUsd?: number;
  /** An idle session's sandbox is synced and ended after this long. Default 15 minutes. */
  idleTimeoutMs?: number;
  /** Changed workspace files are saved this often while a sandbox runs. Default 30 seconds. */
  syncIntervalMs?: number;
  /** Tenants that get the built-in `demo` profile at start (the open tenant when no keys). */
  demoProfileTenants?: string[];
  /**
   * After a store failure stops a session's turns, they are tried again after `min` ms, doubling
   * up to `max` ms, and at once when the store answers again. Default 500 ms to 5 seconds.
   */
  turnRetryMs?: { min: number; max: number };
  /** How often the store is checked for the health service. Default 5 seconds. */
  storeCheckIntervalMs?: number;
  /** How long shutdown waits for a store that does not answer. Default 10 seconds. */
  shutdownStoreTimeoutMs?: number;
  /**
   * How long restart recovery waits before settling turns: writes a killed server sent just
   * before it died may reach a remote store that late. Default 0 (right for a store in this
   * process); the standalone server uses RECOVERY_GRACE_MS with MongoDB.
   */
  recoveryGraceMs?: number;
  /**
   * This replica's name in session leases: unique among the replicas on one store, and the same
   * after a restart (so a restarted replica takes its sessions back at once). Default: the
   * host name (one replica per machine; give each of several on one machine its own).
   */
  replicaId?: string;
  /** How long a replica's lease of a session lasts unless renewed. Default 10 seconds. */
  leaseTtlMs?: number;
  /**
   * How often a replica looks for work other replicas left it: new events of feeds it serves
   * from storage, commands for sessions it runs. Default 100 ms.
   */
  feedPollMs?: number;
  /** Serve the web console at `/` (built from console/ on first use). Default true. */
  console?: boolean;
}

export type NodeHandler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

export interface AgentRuntime {
  /** The loaded sessions: `getLoadedSessions()`, `getSession(id)?.getState()`, `unloadSession(id)`. */
  readonly sessionManager: SessionManager;
  /**
   * The use cases behind the API, for a host that calls them in process: every call is scoped
   * to a tenant and validated as over the wire.
   */
  readonly useCases: UseCases;
  readonly health: HealthState;
  readonly logger: Logger;
  /** Registers every service on a Connect router (to mount on the host's own server). */
  routes(router: ConnectRouter): void;
  /** Error mapping and authentication: pass them to the router that mounts `routes`. */
  readonly interceptors: Interceptor[];
  /** A Node request handler serving every service, `/healthz` and CORS. */
  handler: NodeHandler;
  /**
   * Checks the store, creates the demo profiles and starts background work: the store health
   * check and restart recovery. Resolves before recovery is done (see `recovered`): health
   * answers NOT_SERVING until it is, and calls on a session being recovered wait for it.
   */
  start(): Promise<void>;
  /** Resolves when restart recovery's first pass is done. */
  readonly recovered: Promise<void>;
  /** Stops accepting work, ends streams, persists every loaded session. */
  shutdown(): Promise<void>;
  /** Fires when shutdown begins; open streams end when it does. */
  readonly closing: AbortSignal;
}

export interface UseCases {
  profiles: Profiles;
  sessions: Sessions;
  messages: Messages;
  streams: EventStreams;
  workspaces: Workspaces;
  secrets: Secrets;
  answers: Answers;
  webhooks: ReturnType<typeof setupWebhooks>["webhooks"];
}

/** How often the store is checked for the health service. */
export const STORE_CHECK_INTERVAL_MS = 5_000;

export const SERVICE_NAMES = [
  "agentruntime.v1.AgentProfileService",
  "agentruntime.v1.SessionService",
  "agentruntime.v1.WorkspaceService",
  "agentruntime.v1.SecretService",
  "agentruntime.v1.WebhookService",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
] as const;

export async function createAgentRuntime(options: AgentRuntimeOptions): Promise<AgentRuntime> {
  const logger = options.logger ?? createLogger();
  // A call that finds the store unavailable has the health check look at once.
  let storeFailed = () => {};
  const observe = new Observability(options.persistence, options, logger);
  const store = observeStore(observe.store, () => storeFailed());
  const secrets = options.secrets ?? new MemorySecrets();
  const apiKeys =
    options.apiKeys instanceof Map
      ? options.apiKeys
      : new Map(Object.entries(options.apiKeys ?? {}));
  const corsOrigins = options.corsOrigins ?? ["*"];
  const closing = new AbortController();
  // Every open stream listens for shutdown on this one signal.
  setMaxListeners(0, closing.signal);
  let stopping: Promise<void> | undefined;

  const providers = (options.sandboxProviders ?? []).map((p) => observe.sandboxProvider(p));
  const feeds = new Feeds(store, logger);
  const sessionManager = new SessionManager({
    store,
    feeds,
    logger,
    secrets,
    sandboxes: providers[0]
      ? {
          defaultProvider: providers[0].name,
          providers: new Map(providers.map((p) => [p.name, p])),
        }
      : undefined,
    ...(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...(options.syncIntervalMs ? { syncIntervalMs: options.syncIntervalMs } : {}),
    ...(options.turnRetryMs ? { turnRetryMs: options.turnRetryMs } : {}),
    ...(options.replicaId ? { replicaId: options.replicaId } : {}),
    ...(options.leaseTtlMs ? { leaseTtlMs: options.leaseTtlMs } : {}),
  });
  const pollMs = options.feedPollMs ?? DEFAULT_FEED_POLL_MS;
  const tails = new FeedTails(store, logger, pollMs);
  feeds.onOpen = (sessionId) => tails.wakeAll(sessionId);
  const commands = new SessionCommands(sessionManager, store, logger, pollMs);
  observe.watch(sessionManager, feeds);
  // A profile's budget may have been raised: its sessions waiting for one check it again.
  const profiles = new Profiles(store, (profileId) => {
    for (const s of sessionManager.getLoadedSessions())
      if (s.record.agentProfileId === profileId && s.record.budgetWait) sessionManager.kick(s);
  });
  const sessions = new Sessions(store, profiles, sessionManager, commands);
  const answers = new Answers({ sessions, manager: sessionManager, store, logger, commands });
  const hooks = setupWebhooks(options, store, observe, logger);
  const useCases: UseCases = {
    answers,
    profiles,
    sessions,
    messages: new Messages(store, sessions, sessionManager, commands),
    streams: new EventStreams(sessions, feeds, tails, store),
    workspaces: new Workspaces(store, sessions, sessionManager, commands),
    secrets: new Secrets(secrets),
    webhooks: hooks.webhooks,
  };
  new TurnRunner({
    onParked: (sessionId, calls) => answers.arm(sessionId, calls),
    manager: sessionManager,
    store,
    models: observe.models(
      options.models ?? { anthropic: new AnthropicModelProvider(), demo: new DemoModelProvider() },
    ),
    logger,
    ...(options.defaultModel ? { defaultModel: options.defaultModel } : {}),
    mcp: new McpConnections(secrets, logger),
    budgets: new Budgets(store, logger, options.tenantMonthlyBudgetMicroUsd ?? 0),
  });
  const recovery = new Recovery({
    manager: sessionManager,
    store,
    logger,
    ...(options.recoveryGraceMs ? { graceMs: options.recoveryGraceMs } : {}),
    onTakeover: (r) => answers.arm(r.id, r.pendingToolCalls ?? []),
  });
  const health = new HealthState(SERVICE_NAMES);
  health.set("recovered", false);
  const raw = options.persistence;
  const checkStore = async () => {
    try {
      await (raw.ping ? raw.ping() : raw.loadSession("ses_00000000000000000000000000"));
      const back = !health.isOk("store");
      health.set("store", true);
      if (back) {
        logger.info("the store answers again");
        sessionManager.retryNow();
      }
      if (demoPending.length > 0) await ensureDemoProfiles();
    } catch (err) {
      if (health.isOk("store"))
        logger.warn("the store does not answer: health is NOT_SERVING", { err });
      health.set("store", false);
    }
  };
  let checking: Promise<void> | undefined;
  const checkStoreOnce = () => {
    checking ??= checkStore().finally(() => {
      checking = undefined;
    });
    return checking;
  };
  storeFailed = () => {
    if (health.isOk("store")) void checkStoreOnce();
  };
  let storeTimer: NodeJS.Timeout | undefined;
  let recovered: Promise<void> = new Promise(() => {});
  // The demo profile of each tenant, created at start, and again once the store answers.
  let demoPending = options.demoProfileTenants ?? [];
  const ensureDemoProfiles = async () => {
    for (const tenantId of demoPending) {
      try {
        await profiles.create(tenantId, demoProfile(), "builtin-demo-profile");
        await profiles.create(tenantId, demoApprovalProfile(), "builtin-demo-approvals-profile");
        demoPending = demoPending.filter((t) => t !== tenantId);
      } catch (err) {
        logger.warn("creating the demo profile failed; will retry", { tenantId, err });
      }
    }
  };

  const routes = (router: ConnectRouter) => {
    registerApi(router, { ...useCases, closing: closing.signal });
    registerHealth(router, health);
    registerReflection(router, SERVED_FILES, SERVICE_NAMES);
  };

  const interceptors = [
    observe.interceptor,
    errorInterceptor(logger),
    authInterceptor(apiKeys),
    ...(options.interceptors ?? []),
  ];
  const serveConsole = options.console === false ? undefined : consoleHandler(logger);
  const connectHandler = connectNodeAdapter({
    // Bad input that connect-node finds while reading a request is INVALID_ARGUMENT.
    requestGate: requestGate(logger),
    routes,
    interceptors,
    readMaxBytes: LIMITS.maxRequestBytes,
    fallback(req, res) {
      if (req.url === "/healthz" && (req.method === "GET" || req.method === "HEAD")) {
        const ok = health.isServing();
        res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            status: ok ? "SERVING" : "NOT_SERVING",
            ...(ok ? {} : { failing: health.failingConditions }),
          }),
        );
        return;
      }
      if (serveConsole?.(req, res)) return;
      res.writeHead(404, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ code: "not_found", message: `no route for ${req.method} ${req.url}` }),
      );
    },
  });

  const handler: NodeHandler = (req, res) => {
    if (applyCors(req, res, corsOrigins)) return;
    if (observe.serveMetrics(req, res, apiKeys)) return;
    connectHandler(req as never, res as never);
  };

  return {
    sessionManager,
    useCases,
    health,
    logger,
    routes,
    interceptors,
    handler,
    closing: closing.signal,
    async start() {
      await checkStoreOnce();
      storeTimer = setInterval(
        () => void checkStoreOnce(),
        options.storeCheckIntervalMs ?? STORE_CHECK_INTERVAL_MS,
      );
      storeTimer.unref();
      recovered = recovery.run().then(() => {
        health.set("recovered", true);
        if (!stopping) recovery.watch(sessionManager.leaseTtlMs / 2);
      });
      // Other replicas' commands and feeds' new events: polled, or told by the store.
      commands.start((sessionId) => tails.wakeAll(sessionId));
      hooks.deliveries.start();
      // Waiting calls' timeouts, from the records (a store that fails: the next start arms them).
      answers
        .start()
        .catch((err: unknown) => logger.warn("arming tool call timeouts failed", { err }));
    },
    get recovered() {
      return recovered;
    },
    shutdown() {
      stopping ??= (async () => {
        health.set("shutting_down", false);
        clearInterval(storeTimer);
        recovery.stop();
        answers.stop();
        hooks.deliveries.stop();
        commands.stop();
        tails.stop();
        // Running turns end as interrupted and every feed ends after its last event, so open
        // streams close cleanly with everything delivered; then anything else still open ends.
        await sessionManager.shutdown(options.shutdownStoreTimeoutMs);
        closing.abort();
      })();
      return stopping;
    },
  };
}

export { demoApprovalProfile, demoProfile } from "./demo-profiles.js";
