// Every setting comes from the environment; the README's settings table documents each one.

import type { LogLevel } from "./app/logger.js";

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
  dataDir: string;
  shutdownGraceMs: number;
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
  return {
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
    dataDir: env.DATA_DIR || "./data",
    shutdownGraceMs: int(env, "SHUTDOWN_GRACE_MS", 10_000),
  };
}
