// Every setting comes from the environment; the README's settings table documents each one.

import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LogLevel } from "./app/shared/logger.js";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export interface Config {
  port: number;
  host: string;
  apiKeys: Map<string, string>;
  corsOrigins: string[];
  logLevel: LogLevel;
  mongodbUri: string;
  mongodbDb: string;
  mongodbTimeoutMs: number;
  mongodbMaxPoolSize: number;
  recoveryGraceMs: number;
  dataDir: string;
  shutdownGraceMs: number;
  sandboxProvider: "local" | "modal";
  allowUnisolatedSandbox: boolean;
  modal: { tokenId: string; tokenSecret: string; appName: string; image: string } | undefined;
  idleTimeoutMs: number;
  syncIntervalMs: number;
  defaultModel: string;
  demoProfile: boolean;
  /** SECRETS_KEY: the AES-256-GCM key secrets are stored with in MongoDB; none: as given. */
  secretsKey: Buffer | undefined;
  /** Each tenant's spending limit per calendar month (UTC), in micro-dollars; 0: none. */
  tenantMonthlyBudgetMicroUsd: number;
  /** REPLICA_ID: this replica's name in session leases; "" for the default (the host name). */
  replicaId: string;
  leaseTtlMs: number;
  feedPollMs: number;
  /** METRICS: serve Prometheus metrics at /metrics. */
  metrics: boolean;
  /** METRICS_PUBLIC: /metrics without an API key. */
  metricsPublic: boolean;
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = (env[name] ?? "").trim().toLowerCase();
  if (raw === "") return fallback;
  if (["1", "true", "yes", "on"].includes(raw)) return true;
  if (["0", "false", "no", "off"].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(env[name])}`);
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(`${name} must be a whole number >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** `key=tenant` pairs, comma-separated. */
export function parseApiKeys(raw: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const pair of raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = pair.indexOf("=");
    const key = pair.slice(0, eq).trim();
    const tenant = pair.slice(eq + 1).trim();
    if (eq <= 0 || !tenant || !/^[A-Za-z0-9._-]+$/.test(tenant) || /\s/.test(key)) {
      throw new ConfigError(
        "AGENT_RUNTIME_API_KEYS must be comma-separated key=tenant pairs (tenant: letters, digits, . _ -)",
      );
    }
    if (key.length < 16) {
      throw new ConfigError(
        `AGENT_RUNTIME_API_KEYS: keys must be at least 16 characters (tenant ${tenant})`,
      );
    }
    keys.set(key, tenant);
  }
  return keys;
}

/** SECRETS_KEY: 32 bytes in base64 (`openssl rand -base64 32`); empty: no key. */
export function parseSecretsKey(raw: string | undefined): Buffer | undefined {
  const text = (raw ?? "").trim();
  if (text === "") return undefined;
  // The message says what is wrong with the key, never what it is.
  const help = "SECRETS_KEY must be 32 bytes in base64 (make one with `openssl rand -base64 32`)";
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0)
    throw new ConfigError(`${help}: it is not base64`);
  const key = Buffer.from(text, "base64");
  if (key.length !== 32) throw new ConfigError(`${help}: it decodes to ${key.length} bytes`);
  return key;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const apiKeys = parseApiKeys(env.AGENT_RUNTIME_API_KEYS ?? "");
  const host = env.HOST || (apiKeys.size > 0 ? "0.0.0.0" : "127.0.0.1");
  if (apiKeys.size === 0 && !LOOPBACK.has(host)) {
    throw new ConfigError(
      `HOST=${host} would expose an open server: set AGENT_RUNTIME_API_KEYS, or listen on loopback`,
    );
  }
  const logLevel = (env.LOG_LEVEL || "info") as LogLevel;
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    throw new ConfigError(
      `LOG_LEVEL must be debug, info, warn or error, got ${JSON.stringify(logLevel)}`,
    );
  }
  const sandboxProvider = (env.SANDBOX_PROVIDER || "local") as Config["sandboxProvider"];
  if (sandboxProvider !== "local" && sandboxProvider !== "modal") {
    throw new ConfigError(
      `SANDBOX_PROVIDER must be local or modal, got ${JSON.stringify(env.SANDBOX_PROVIDER)}`,
    );
  }
  const tokenId = env.MODAL_TOKEN_ID ?? "";
  const tokenSecret = env.MODAL_TOKEN_SECRET ?? "";
  if (Boolean(tokenId) !== Boolean(tokenSecret)) {
    throw new ConfigError("set both MODAL_TOKEN_ID and MODAL_TOKEN_SECRET, or neither");
  }
  if (sandboxProvider === "modal" && !tokenId) {
    throw new ConfigError("SANDBOX_PROVIDER=modal needs MODAL_TOKEN_ID and MODAL_TOKEN_SECRET");
  }
  const defaultModel = env.DEFAULT_MODEL || "";
  if (!/^[A-Za-z0-9._:@/-]*$/.test(defaultModel)) {
    throw new ConfigError(`DEFAULT_MODEL is not a model id: ${JSON.stringify(defaultModel)}`);
  }
  const tenantBudget = (env.TENANT_MONTHLY_BUDGET_USD ?? "").trim();
  const tenantBudgetUsd = tenantBudget === "" ? 0 : Number(tenantBudget);
  if (!Number.isFinite(tenantBudgetUsd) || tenantBudgetUsd < 0) {
    throw new ConfigError(
      `TENANT_MONTHLY_BUDGET_USD must be a number of US dollars >= 0, got ${JSON.stringify(tenantBudget)}`,
    );
  }
  return {
    tenantMonthlyBudgetMicroUsd: Math.round(tenantBudgetUsd * 1_000_000),
    sandboxProvider,
    allowUnisolatedSandbox: bool(env, "ALLOW_UNISOLATED_SANDBOX", false),
    modal: tokenId
      ? {
          tokenId,
          tokenSecret,
          appName: env.MODAL_APP_NAME || "agent-runtime",
          image: env.MODAL_IMAGE || "",
        }
      : undefined,
    idleTimeoutMs: int(env, "IDLE_TIMEOUT_MS", 15 * 60 * 1000, 1),
    syncIntervalMs: int(env, "SYNC_INTERVAL_MS", 30 * 1000, 1),
    defaultModel,
    demoProfile: bool(env, "DEMO_PROFILE", true),
    secretsKey: parseSecretsKey(env.SECRETS_KEY),
    port: int(env, "PORT", 8080),
    host,
    apiKeys,
    corsOrigins: (env.CORS_ORIGINS ?? "*")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    logLevel,
    mongodbUri: env.MONGODB_URI ?? "",
    mongodbDb: env.MONGODB_DB || "agent_runtime",
    mongodbTimeoutMs: int(env, "MONGODB_TIMEOUT_MS", 10_000, 100),
    mongodbMaxPoolSize: int(env, "MONGODB_MAX_POOL_SIZE", 20, 1),
    recoveryGraceMs: int(
      env,
      "RECOVERY_GRACE_MS",
      Math.min(2 * int(env, "MONGODB_TIMEOUT_MS", 10_000, 100), 5_000),
    ),
    // Local workspaces are a working copy: what matters is saved through the persistence
    // adapter. The system's temp directory is reachable by the unprivileged sandbox user,
    // where a checkout under a private home directory may not be.
    dataDir: env.DATA_DIR || join(tmpdir(), "agent-runtime"),
    shutdownGraceMs: int(env, "SHUTDOWN_GRACE_MS", 10_000),
    replicaId: (env.REPLICA_ID ?? "").trim(),
    leaseTtlMs: int(env, "LEASE_TTL_MS", 10_000, 1_000),
    feedPollMs: int(env, "FEED_POLL_MS", 100, 10),
    metrics: bool(env, "METRICS", true),
    metricsPublic: bool(env, "METRICS_PUBLIC", false),
  };
}
