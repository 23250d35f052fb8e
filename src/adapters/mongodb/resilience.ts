// Timeouts, bounded retries and error classification for the MongoDB adapter.
//
// Every adapter method runs as one "operation": a whole-call budget (the operation timeout), in
// which transient failures are retried a bounded number of times with exponential backoff and
// jitter. When the budget or the attempts run out, or the store never answers, the caller gets
// STORE_UNAVAILABLE; any other error (a bug, a bad document, a duplicate key the adapter does not
// expect) is passed on as it is.
//
// Driver 7.x ignores `timeoutMS` (client-side operation timeout; "has no effect"), so the
// deadline is kept here, and the driver's own socket, connect, server selection and wait queue
// timeouts bound what an abandoned attempt can hold on to.

import {
  MongoBulkWriteError,
  MongoError,
  MongoErrorLabel,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  MongoWriteConcernError,
} from "mongodb";
import { AppError } from "../../domain/errors.js";

export const STORE_UNAVAILABLE = "STORE_UNAVAILABLE";

/** Defaults of the adapter's resilience settings; each can be set on MongoPersistence. */
export const MONGO_DEFAULTS = Object.freeze({
  /**
   * The whole budget of one adapter call, retries included (MONGODB_TIMEOUT_MS). A store that
   * does not answer (stopped, wedged, partitioned) fails the call after this long.
   */
  operationTimeoutMs: 10_000,
  /** The budget of ping() (health checks). */
  pingTimeoutMs: 2_000,
  /** The budget of ensureIndexes(): a new index on a large collection takes a while to build. */
  indexTimeoutMs: 600_000,
  /** Attempts of one call, the first included, when it fails with a transient error. */
  retryAttempts: 5,
  /** Backoff before the n-th retry: up to base * 2^(n-1), capped, half of it random. */
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 2_000,
  /**
   * Connections of the driver's pool. Keep it well below the store's own pool: FerretDB over
   * PostgreSQL wedges for good once its PostgreSQL pool (`pool_max_conns`, default 50) is
   * exhausted, and every server process using the store has a pool of this size.
   */
  maxPoolSize: 20,
  /** TCP connect and handshake timeout (capped by the operation timeout). */
  connectTimeoutMs: 5_000,
});

export interface RetryEvent {
  operation: string;
  /** The attempt that failed (1 = the first). */
  attempt: number;
  delayMs: number;
  error: unknown;
}

export interface ResilienceSettings {
  operationTimeoutMs: number;
  pingTimeoutMs: number;
  indexTimeoutMs: number;
  retryAttempts: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** Called before each retry (for logs and metrics). Must not throw. */
  onRetry: ((event: RetryEvent) => void) | undefined;
}

/** Error codes of transient conditions (replica set failover, shutdown, write conflicts, ...). */
const TRANSIENT_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  24, // LockTimeout
  46, // LockBusy
  89, // NetworkTimeout
  91, // ShutdownInProgress
  112, // WriteConflict
  134, // ReadConcernMajorityNotAvailableYet
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  462, // IngressRequestRateLimitExceeded
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

const TRANSIENT_LABELS: string[] = [
  MongoErrorLabel.RetryableWriteError,
  MongoErrorLabel.TransientTransactionError,
  MongoErrorLabel.RetryableError,
  MongoErrorLabel.SystemOverloadedError,
];

/**
 * Messages of busy or unreachable storage behind a MongoDB-wire server that reports them as
 * plain internal errors: SQLite's lock contention (FerretDB over SQLite, code 1 "database is
 * locked (5) (SQLITE_BUSY)"), PostgreSQL connection limits and pool timeouts (FerretDB over
 * PostgreSQL), a backend starting or stopping.
 */
const TRANSIENT_MESSAGE =
  /database is locked|database table is locked|SQLITE_BUSY|SQLITE_LOCKED|too many clients|remaining connection slots|context deadline exceeded|context canceled|timeout: context already done|failed to connect to|connection refused|the database system is (starting up|shutting down|in recovery)|terminating connection|could not serialize access|deadlock detected/i;

/** Node's own errors of a socket the store closed or never opened. */
const SOCKET_ERROR_CODES = new Set(["EPIPE", "ECONNRESET", "ECONNREFUSED", "ETIMEDOUT"]);

function isSocketError(err: unknown): boolean {
  if (!(err instanceof Error) || err instanceof MongoError) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (
    (typeof code === "string" && SOCKET_ERROR_CODES.has(code)) ||
    /socket has been ended by the other party/.test(err.message)
  );
}

/** Whether `err` is a condition that a later attempt of the same (idempotent) call may not meet. */
export function isTransient(err: unknown): boolean {
  if (err instanceof MongoNetworkError) return true; // also timeouts and cleared pools
  if (err instanceof MongoServerSelectionError) return true;
  if (err instanceof Error && err.name === "MongoWaitQueueTimeoutError") return true;
  // A socket the store closed, surfacing as Node's own error (the driver wrote after the peer's
  // FIN: "This socket has been ended by the other party").
  if (isSocketError(err)) return true;
  if (!(err instanceof MongoError)) return false;
  // A bulk write (insertMany) wraps the driver's own errors, a lost connection among them.
  if (err instanceof MongoServerError && err.errorResponse instanceof Error) {
    if (isTransient(err.errorResponse)) return true;
  }
  if (TRANSIENT_LABELS.some((label) => err.hasErrorLabel(label))) return true;
  if (err instanceof MongoWriteConcernError) {
    const code = err.result?.writeConcernError?.code;
    if (typeof code === "number" && TRANSIENT_CODES.has(code)) return true;
  }
  if (err instanceof MongoBulkWriteError) {
    const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
    if (writeErrors.some((w) => isTransientCode(w.code, w.errmsg ?? ""))) return true;
  }
  if (err instanceof MongoServerError) return isTransientCode(err.code, err.message);
  return false;
}

function isTransientCode(code: unknown, message: string): boolean {
  return (typeof code === "number" && TRANSIENT_CODES.has(code)) || TRANSIENT_MESSAGE.test(message);
}

/** Thrown by withDeadline when the promise did not settle in time. */
class DeadlineExceeded extends Error {
  override readonly name = "DeadlineExceeded";
}

/**
 * `promise`, or a DeadlineExceeded rejection after `ms`. The promise itself keeps running (the
 * driver cannot cancel a write); its later failure is handled here, never unhandled.
 */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new DeadlineExceeded(`no answer within ${Math.round(ms)} ms`)),
      Math.max(0, ms),
    );
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** The error every adapter call ends with when the store cannot serve it. */
export function storeUnavailable(operation: string, why: string, cause: unknown): AppError {
  const err = new AppError(
    "unavailable",
    STORE_UNAVAILABLE,
    `the session store is unavailable (${operation}: ${why}); try again later`,
    undefined,
    { retryable: "true" },
  );
  Object.defineProperty(err, "cause", { value: cause, enumerable: false, writable: true });
  return err;
}

function describe(err: unknown): string {
  if (err instanceof MongoNetworkError || err instanceof MongoServerSelectionError) {
    return "cannot reach it";
  }
  if (err instanceof Error && err.name === "MongoWaitQueueTimeoutError") {
    return "no free connection";
  }
  return "it is busy";
}

/** Backoff before retry number `attempt` (1-based): half fixed, half random ("equal jitter"). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + Math.random() * (cap / 2));
}

/**
 * Runs `attempt` until it succeeds, fails with a non-transient error (thrown as it is), or the
 * budget or the attempts run out (STORE_UNAVAILABLE). `attempt` must be idempotent.
 */
export async function runOperation<T>(
  settings: ResilienceSettings,
  operation: string,
  attempt: () => Promise<T>,
  budgetMs: number = settings.operationTimeoutMs,
): Promise<T> {
  const deadline = performance.now() + budgetMs;
  let lastTransient: unknown;
  for (let n = 1; ; n++) {
    try {
      return await withDeadline(attempt(), deadline - performance.now());
    } catch (err) {
      if (err instanceof DeadlineExceeded) {
        throw storeUnavailable(operation, `no answer within ${budgetMs} ms`, lastTransient ?? err);
      }
      if (!isTransient(err)) throw err;
      lastTransient = err;
      const delayMs = backoffDelay(n, settings.retryBaseDelayMs, settings.retryMaxDelayMs);
      if (n >= settings.retryAttempts || performance.now() + delayMs >= deadline) {
        throw storeUnavailable(
          operation,
          `${describe(err)}, ${n} attempt${n === 1 ? "" : "s"} failed`,
          err,
        );
      }
      settings.onRetry?.({ operation, attempt: n, delayMs, error: err });
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
