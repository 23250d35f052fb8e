// The MongoDB adapter's retry and timeout rules, on the error shapes the driver and the servers
// really produce (FerretDB's SQLite lock error is copied from a run under load).

import {
  MongoBulkWriteError,
  MongoClientClosedError,
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoServerError,
  MongoServerSelectionError,
  MongoWriteConcernError,
} from "mongodb";
import { describe, expect, it } from "vitest";
import {
  backoffDelay,
  isTransient,
  MONGO_DEFAULTS,
  type ResilienceSettings,
  type RetryEvent,
  runOperation,
} from "../src/adapters/mongodb/resilience.js";
import { AppError } from "../src/domain/errors.js";

function serverError(code: number, message: string, labels: string[] = []): MongoServerError {
  const err = new MongoServerError({ ok: 0, code, errmsg: message, message });
  for (const label of labels) err.addErrorLabel(label);
  return err;
}

const SQLITE_BUSY = serverError(
  1,
  "[msg_update.go:133 handler.(*Handler).updateDocument] [update.go:114 common.UpdateDocument] [collection.go:191 sqlite.(*collection).UpdateAll] [collection.go:177 sqlite.(*collection).UpdateAll.func1] database is locked (5) (SQLITE_BUSY)",
);

function bulkError(cause: unknown): MongoBulkWriteError {
  return new MongoBulkWriteError(cause as never, {} as never);
}

describe("isTransient", () => {
  const transient: [string, unknown][] = [
    ["FerretDB over SQLite: database is locked", SQLITE_BUSY],
    ["a lost connection", new MongoNetworkError("connection 3 to 127.0.0.1:27017 closed")],
    ["a socket timeout", new MongoNetworkTimeoutError("connection timed out")],
    ["no server to select", new MongoServerSelectionError("connect ECONNREFUSED", {} as never)],
    ["WriteConflict", serverError(112, "WriteConflict error")],
    ["NotWritablePrimary (failover)", serverError(10107, "not primary")],
    ["PrimarySteppedDown", serverError(189, "stepped down")],
    ["InterruptedDueToReplStateChange", serverError(11602, "interrupted")],
    ["ShutdownInProgress", serverError(91, "shutting down")],
    ["a RetryableWriteError label", serverError(999, "any", ["RetryableWriteError"])],
    ["a TransientTransactionError label", serverError(999, "any", ["TransientTransactionError"])],
    ["a SystemOverloadedError label", serverError(999, "any", ["SystemOverloadedError"])],
    [
      "FerretDB over PostgreSQL: too many clients",
      serverError(1, "FATAL: sorry, too many clients already (SQLSTATE 53300)"),
    ],
    [
      "FerretDB over PostgreSQL: pool acquire timeout",
      serverError(1, "failed to acquire connection: context deadline exceeded"),
    ],
    [
      "a write concern error during failover",
      new MongoWriteConcernError({
        writeConcernError: { code: 91, errmsg: "shutting down" },
      } as never),
    ],
    ["insertMany on a lost connection", bulkError(new MongoNetworkError("connection closed"))],
    [
      "insertMany with a busy document",
      bulkError({
        message: "write errors",
        code: 1,
        writeErrors: [{ code: 1, index: 0, errmsg: "database is locked (5) (SQLITE_BUSY)" }],
      }),
    ],
  ];
  for (const [name, err] of transient) {
    it(`retries ${name}`, () => expect(isTransient(err)).toBe(true));
  }

  const permanent: [string, unknown][] = [
    ["a duplicate key", serverError(11000, "E11000 duplicate key error")],
    ["a bad value", serverError(2, "BadValue")],
    ["a document too large", serverError(10334, "BSONObjectTooLarge")],
    ["a bug", new TypeError("x is undefined")],
    ["a closed client", new MongoClientClosedError()],
    [
      "insertMany with duplicates only",
      bulkError({
        message: "write errors",
        code: 11000,
        writeErrors: [{ code: 11000, index: 1, errmsg: "E11000 duplicate key error" }],
      }),
    ],
  ];
  for (const [name, err] of permanent) {
    it(`passes on ${name}`, () => expect(isTransient(err)).toBe(false));
  }
});

function settings(overrides: Partial<ResilienceSettings> = {}): ResilienceSettings {
  return {
    operationTimeoutMs: 2_000,
    pingTimeoutMs: 500,
    indexTimeoutMs: 5_000,
    retryAttempts: 4,
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 20,
    onRetry: undefined,
    ...overrides,
  };
}

function expectUnavailable(err: unknown, cause: unknown): void {
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe("unavailable");
  expect((err as AppError).reason).toBe("STORE_UNAVAILABLE");
  expect((err as AppError).metadata).toEqual({ retryable: "true" });
  expect((err as Error & { cause?: unknown }).cause).toBe(cause);
  // The client sees no driver details (hosts, ports).
  expect((err as Error).message).not.toMatch(/127\.0\.0\.1|SQLITE|msg_update/);
}

describe("runOperation", () => {
  it("retries transient errors and returns what a later attempt gives", async () => {
    const retries: RetryEvent[] = [];
    let calls = 0;
    const result = await runOperation(
      settings({ onRetry: (e) => retries.push(e) }),
      "saveBlock",
      async () => {
        calls++;
        if (calls < 3) throw SQLITE_BUSY;
        return "stored";
      },
    );
    expect(result).toBe("stored");
    expect(calls).toBe(3);
    expect(retries.map((r) => [r.operation, r.attempt, r.error])).toEqual([
      ["saveBlock", 1, SQLITE_BUSY],
      ["saveBlock", 2, SQLITE_BUSY],
    ]);
  });

  it("gives up after the attempts with STORE_UNAVAILABLE", async () => {
    let calls = 0;
    const lost = new MongoNetworkError("connection 1 to 127.0.0.1:27017 closed");
    const err = await runOperation(settings(), "loadSession", async () => {
      calls++;
      throw lost;
    }).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expectUnavailable(err, lost);
    expect((err as Error).message).toContain("loadSession");
  });

  it("passes any other error on as it is, without retrying", async () => {
    let calls = 0;
    const duplicate = serverError(11000, "E11000 duplicate key error");
    const err = await runOperation(settings(), "createSessionRecord", async () => {
      calls++;
      throw duplicate;
    }).catch((e: unknown) => e);
    expect(err).toBe(duplicate);
    expect(calls).toBe(1);
  });

  it("ends a call that never settles with STORE_UNAVAILABLE after its budget", async () => {
    const started = performance.now();
    const err = await runOperation(
      settings({ operationTimeoutMs: 300 }),
      "readEvents",
      () => new Promise(() => {}),
    ).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).reason).toBe("STORE_UNAVAILABLE");
    expect((err as Error).message).toContain("no answer within 300 ms");
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3 * 300);
  });

  it("does not wait past the budget for a retry", async () => {
    let calls = 0;
    const started = performance.now();
    const err = await runOperation(
      settings({
        operationTimeoutMs: 200,
        retryAttempts: 100,
        retryBaseDelayMs: 1_000,
        retryMaxDelayMs: 1_000,
      }),
      "updateSessionRecord",
      async () => {
        calls++;
        throw SQLITE_BUSY;
      },
    ).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expectUnavailable(err, SQLITE_BUSY);
    expect(performance.now() - started).toBeLessThan(200);
  });

  it("keeps the last transient error as the cause when the budget ends during an attempt", async () => {
    let calls = 0;
    const err = await runOperation(settings({ operationTimeoutMs: 300 }), "appendEvents", () => {
      calls++;
      return calls === 1 ? Promise.reject(SQLITE_BUSY) : new Promise(() => {});
    }).catch((e: unknown) => e);
    expectUnavailable(err, SQLITE_BUSY);
  });
});

describe("backoffDelay", () => {
  it("doubles from the base up to the cap, half of it random", () => {
    for (let i = 0; i < 200; i++) {
      for (const [attempt, cap] of [
        [1, 100],
        [2, 200],
        [3, 400],
        [5, 1_600],
        [6, 2_000],
        [20, 2_000],
      ] as const) {
        const delay = backoffDelay(attempt, 100, 2_000);
        expect(delay).toBeGreaterThanOrEqual(cap / 2);
        expect(delay).toBeLessThanOrEqual(cap);
      }
    }
  });

  it("keeps the default retries well inside the default operation timeout", () => {
    let worst = 0;
    for (let attempt = 1; attempt < MONGO_DEFAULTS.retryAttempts; attempt++) {
      worst += Math.min(
        MONGO_DEFAULTS.retryMaxDelayMs,
        MONGO_DEFAULTS.retryBaseDelayMs * 2 ** (attempt - 1),
      );
    }
    expect(worst).toBeLessThan(MONGO_DEFAULTS.operationTimeoutMs / 2);
  });
});
