import type { MongoClientOptions } from "mongodb";
import { MONGO_DEFAULTS, type ResilienceSettings, type RetryEvent } from "./resilience.js";

// The adapter's settings and the driver options derived from them.

export interface MongoPersistenceOptions {
  /** Prefix of every collection name; default "ar_". */
  collectionPrefix?: string;
  /** Budget of one call, retries included; default MONGO_DEFAULTS.operationTimeoutMs. */
  operationTimeoutMs?: number;
  /** Budget of ping(); default MONGO_DEFAULTS.pingTimeoutMs. */
  pingTimeoutMs?: number;
  /** Budget of ensureIndexes(); default MONGO_DEFAULTS.indexTimeoutMs. */
  indexTimeoutMs?: number;
  /** Attempts of a call that fails with transient errors; default MONGO_DEFAULTS.retryAttempts. */
  retryAttempts?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Called before each retry, e.g. to log it. */
  onRetry?: (event: RetryEvent) => void;
}

export interface MongoConnectOptions extends MongoPersistenceOptions {
  /** Connections of the driver's pool; default MONGO_DEFAULTS.maxPoolSize (see there). */
  maxPoolSize?: number;
  /** TCP connect and handshake timeout; default MONGO_DEFAULTS.connectTimeoutMs. */
  connectTimeoutMs?: number;
  /** Further driver options; they win over the ones derived from the settings above. */
  client?: MongoClientOptions;
}

/** The resilience settings of `options`, defaults filled in. */
export function resilienceSettings(options: MongoPersistenceOptions): ResilienceSettings {
  return {
    operationTimeoutMs: options.operationTimeoutMs ?? MONGO_DEFAULTS.operationTimeoutMs,
    pingTimeoutMs: options.pingTimeoutMs ?? MONGO_DEFAULTS.pingTimeoutMs,
    indexTimeoutMs: options.indexTimeoutMs ?? MONGO_DEFAULTS.indexTimeoutMs,
    retryAttempts: Math.max(1, options.retryAttempts ?? MONGO_DEFAULTS.retryAttempts),
    retryBaseDelayMs: options.retryBaseDelayMs ?? MONGO_DEFAULTS.retryBaseDelayMs,
    retryMaxDelayMs: options.retryMaxDelayMs ?? MONGO_DEFAULTS.retryMaxDelayMs,
    onRetry: options.onRetry,
  };
}

/**
 * The driver options that bound every wait: server selection and the pool's wait queue end with
 * the operation's budget, a connection attempt sooner, and a socket that stays silent for twice
 * the budget is closed, which frees the connection of an attempt the adapter gave up on.
 */
export function mongoClientOptions(options: MongoConnectOptions = {}): MongoClientOptions {
  const timeout = options.operationTimeoutMs ?? MONGO_DEFAULTS.operationTimeoutMs;
  return {
    ignoreUndefined: true,
    maxPoolSize: options.maxPoolSize ?? MONGO_DEFAULTS.maxPoolSize,
    serverSelectionTimeoutMS: timeout,
    waitQueueTimeoutMS: timeout,
    connectTimeoutMS: Math.min(
      options.connectTimeoutMs ?? MONGO_DEFAULTS.connectTimeoutMs,
      timeout,
    ),
    socketTimeoutMS: 2 * timeout,
    ...options.client,
  };
}

/** The database named in a mongodb:// or mongodb+srv:// URI, if any. */
export function dbNameFromUri(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri);
  return match?.[1] ? decodeURIComponent(match[1]) : undefined;
}
