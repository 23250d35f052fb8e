import { setMaxListeners } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { type ConnectRouter, cors as connectCors, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { file_agentruntime_v1_error_detail } from "#gen/error_detail_pb.js";
import { file_agentruntime_v1_profile_service } from "#gen/profile_service_pb.js";
import { file_agentruntime_v1_session_service } from "#gen/session_service_pb.js";
import { file_agentruntime_v1_workspace_service } from "#gen/workspace_service_pb.js";
import { file_grpc_health_v1_health } from "#grpc/health/v1/health_pb.js";
import { file_grpc_reflection_v1_reflection } from "#grpc/reflection/v1/reflection_pb.js";
import { file_grpc_reflection_v1alpha_reflection } from "#grpc/reflection/v1alpha/reflection_pb.js";
import { AnthropicModelProvider } from "./adapters/anthropic/model.js";
import { DemoModelProvider } from "./adapters/demo-model/model.js";
import { createLogger, type Logger } from "./app/logger.js";
import { type ProfileInput, ProfileService } from "./app/profiles.js";
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_SYNC_INTERVAL_MS,
  SessionManager,
} from "./app/session-manager.js";
import { SessionService } from "./app/sessions.js";
import { Turns } from "./app/turns.js";
import { LIMITS } from "./domain/limits.js";
import type { ModelProviderKind } from "./domain/types.js";
import type { ModelProvider } from "./ports/model.js";
import type { PersistenceAdapter } from "./ports/persistence.js";
import type { SandboxProvider } from "./ports/sandbox.js";
import { authInterceptor } from "./transport/auth.js";
import { errorInterceptor } from "./transport/errors.js";
import { HealthState, registerHealth } from "./transport/health.js";
import { registerReflection } from "./transport/reflection.js";
import { registerApi } from "./transport/services.js";

export interface AgentRuntimeOptions {
  /** Where sessions, profiles, files and events are stored. */
  persistence: PersistenceAdapter;
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
  /** An idle session's sandbox is synced and ended after this long. Default 15 minutes. */
  idleTimeoutMs?: number;
  /** Changed workspace files are saved this often while a sandbox runs. Default 30 seconds. */
  syncIntervalMs?: number;
  /** Tenants that get the built-in `demo` profile at start (the open tenant when no keys). */
  demoProfileTenants?: string[];
}

export type NodeHandler = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

export interface AgentRuntime {
  readonly sessionManager: SessionManager;
  readonly profiles: ProfileService;
  readonly sessions: SessionService;
  readonly turns: Turns;
  readonly health: HealthState;
  readonly logger: Logger;
  /** Registers every service on a Connect router (to mount on the host's own server). */
  routes(router: ConnectRouter): void;
  /** Error mapping and authentication: pass them to the router that mounts `routes`. */
  readonly interceptors: Interceptor[];
  /** A Node request handler serving every service, `/healthz` and CORS. */
  handler: NodeHandler;
  /** Loads what needs recovering and starts background jobs. */
  start(): Promise<void>;
  /** Stops accepting work, ends streams, persists every loaded session. */
  shutdown(): Promise<void>;
  /** Fires when shutdown begins; open streams end when it does. */
  readonly closing: AbortSignal;
}

export const SERVICE_NAMES = [
  "agentruntime.v1.AgentProfileService",
  "agentruntime.v1.SessionService",
  "agentruntime.v1.WorkspaceService",
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
] as const;

const servedFiles = [
  file_agentruntime_v1_profile_service,
  file_agentruntime_v1_session_service,
  file_agentruntime_v1_workspace_service,
  file_agentruntime_v1_error_detail,
  file_grpc_health_v1_health,
  file_grpc_reflection_v1_reflection,
  file_grpc_reflection_v1alpha_reflection,
];

export async function createAgentRuntime(options: AgentRuntimeOptions): Promise<AgentRuntime> {
  const logger = options.logger ?? createLogger();
  const store = options.persistence;
  const apiKeys =
    options.apiKeys instanceof Map
      ? options.apiKeys
      : new Map(Object.entries(options.apiKeys ?? {}));
  const corsOrigins = options.corsOrigins ?? ["*"];
  const closing = new AbortController();
  // Every open stream listens for shutdown on this one signal.
  setMaxListeners(0, closing.signal);
  let stopping: Promise<void> | undefined;

  const providers = options.sandboxProviders ?? [];
  const sessionManager = new SessionManager({
    store,
    logger,
    ...(providers[0]
      ? {
          sandboxes: {
            defaultProvider: providers[0].name,
            providers: new Map(providers.map((p) => [p.name, p])),
          },
        }
      : {}),
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    syncIntervalMs: options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS,
  });
  const profiles = new ProfileService(store);
  const sessions = new SessionService(store, profiles, sessionManager);
  const turns = new Turns({
    manager: sessionManager,
    sessions,
    models: options.models ?? {
      anthropic: new AnthropicModelProvider(),
      demo: new DemoModelProvider(),
    },
    logger,
    ...(options.defaultModel ? { defaultModel: options.defaultModel } : {}),
  });
  const health = new HealthState(SERVICE_NAMES);

  const routes = (router: ConnectRouter) => {
    registerApi(router, { profiles, sessions, turns, closing: closing.signal });
    registerHealth(router, health);
    registerReflection(router, servedFiles, SERVICE_NAMES);
  };

  const interceptors = [
    errorInterceptor(logger),
    authInterceptor(apiKeys),
    ...(options.interceptors ?? []),
  ];
  const connectHandler = connectNodeAdapter({
    routes,
    interceptors,
    readMaxBytes: LIMITS.maxRequestBytes,
    fallback(req, res) {
      if (req.url === "/healthz" && (req.method === "GET" || req.method === "HEAD")) {
        const ok = health.isServing();
        res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
        res.end(JSON.stringify({ status: ok ? "SERVING" : "NOT_SERVING" }));
        return;
      }
      res.writeHead(404, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ code: "not_found", message: `no route for ${req.method} ${req.url}` }),
      );
    },
  });

  const allowHeaders = [...connectCors.allowedHeaders, "Authorization"].join(", ");
  const exposeHeaders = connectCors.exposedHeaders.join(", ");
  const handler: NodeHandler = (req, res) => {
    const origin = req.headers.origin;
    if (typeof origin === "string") {
      const allowed = corsOrigins.includes("*") || corsOrigins.includes(origin);
      if (allowed) {
        res.setHeader("Access-Control-Allow-Origin", corsOrigins.includes("*") ? "*" : origin);
        res.setHeader("Vary", "Origin");
        res.setHeader("Access-Control-Expose-Headers", exposeHeaders);
      }
      if (req.method === "OPTIONS" && req.headers["access-control-request-method"]) {
        if (allowed) {
          res.setHeader("Access-Control-Allow-Methods", connectCors.allowedMethods.join(", "));
          res.setHeader("Access-Control-Allow-Headers", allowHeaders);
          res.setHeader("Access-Control-Max-Age", "7200");
        }
        res.writeHead(allowed ? 204 : 403);
        res.end();
        return;
      }
    }
    connectHandler(req as never, res as never);
  };

  return {
    sessionManager,
    profiles,
    sessions,
    turns,
    health,
    logger,
    routes,
    interceptors,
    handler,
    closing: closing.signal,
    async start() {
      for (const tenantId of options.demoProfileTenants ?? []) {
        await profiles.create(tenantId, demoProfile(), "builtin-demo-profile");
      }
      await sessionManager.start();
    },
    shutdown() {
      stopping ??= (async () => {
        health.setNotServing();
        // Running turns end as interrupted and every feed ends after its last event, so open
        // streams close cleanly with everything delivered; then anything else still open ends.
        await sessionManager.shutdown();
        closing.abort();
      })();
      return stopping;
    },
  };
}

/** The built-in demo profile: the offline demo model with Write and Bash, no API key needed. */
export function demoProfile(): ProfileInput {
  return {
    name: "demo",
    description:
      "An offline, scripted agent that writes a file and runs a command: try it without an API key.",
    systemPrompt: "You are the Agent Runtime demo agent.",
    modelProvider: "demo",
    model: "",
    tools: ["Read", "Write", "Bash"],
    maxTurns: 10,
    subagents: [],
    defaultFiles: [],
    sandbox: {
      provider: "default",
      networkAllowed: false,
      env: {},
      image: "",
      cpu: 0,
      memoryMib: 0,
      providerOptions: {},
    },
    thinking: { enabled: false, budgetTokens: 0 },
    maxOutputTokens: 0,
  };
}
