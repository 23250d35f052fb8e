// SecretService through the public API (in-process Connect clients): set, replace, list, delete,
// validation with field names, tenants, the per-tenant limit, and values that never come back
// out in a response or a log line.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "#gen/error_detail_pb.js";
import { MemorySecrets } from "../src/adapters/memory/secrets.js";
import { createLogger } from "../src/app/shared/logger.js";
import { parseSecretsKey } from "../src/config.js";
import { LIMITS } from "../src/domain/limits.js";
import type { Secret } from "../src/domain/types.js";
import type { AgentRuntime } from "../src/runtime.js";
import { type Clients, inProcessRuntime } from "./support/runtime.js";

const KEY_A = "secrets-key-a-0123456789";
const KEY_B = "secrets-key-b-0123456789";

async function rejects(p: Promise<unknown>, code: Code, field?: string): Promise<ConnectError> {
  const err = await p.then(
    () => expect.fail(`expected ${Code[code]}`),
    (e: unknown) => e,
  );
  const ce = ConnectError.from(err);
  expect(Code[ce.code], ce.message).toBe(Code[code]);
  if (field !== undefined) {
    const [detail] = ce.findDetails(ErrorDetailSchema);
    expect(detail?.field, ce.message).toBe(field);
  }
  return ce;
}

let runtime: AgentRuntime;
let a: Clients;
let b: Clients;
let store: MemorySecrets;
let logs: string[];

beforeEach(async () => {
  logs = [];
  store = new MemorySecrets();
  const r = await inProcessRuntime({
    apiKeys: { [KEY_A]: "acme", [KEY_B]: "globex" },
    secrets: store,
    logger: createLogger("debug", (line) => logs.push(line)),
  });
  runtime = r.runtime;
  a = r.clients(KEY_A);
  b = r.clients(KEY_B);
});
afterEach(() => runtime.shutdown());

describe("SecretService", () => {
  it("sets, replaces, lists and deletes", async () => {
    const { secret } = await a.secrets.setSecret({ name: "GITHUB_TOKEN", value: "ghp_one" });
    expect(secret?.name).toBe("GITHUB_TOKEN");
    const created = timestampDate(secret!.createTime!);
    expect(timestampDate(secret!.updateTime!)).toEqual(created);
    expect(await store.resolve("acme", ["GITHUB_TOKEN"])).toEqual({ GITHUB_TOKEN: "ghp_one" });

    await new Promise((r) => setTimeout(r, 5));
    const replaced = (await a.secrets.setSecret({ name: "GITHUB_TOKEN", value: "ghp_two" }))
      .secret!;
    expect(timestampDate(replaced.createTime!)).toEqual(created);
    expect(timestampDate(replaced.updateTime!).getTime()).toBeGreaterThan(created.getTime());
    expect(await store.resolve("acme", ["GITHUB_TOKEN"])).toEqual({ GITHUB_TOKEN: "ghp_two" });

    await a.secrets.setSecret({ name: "API_KEY", value: "k" });
    const listed = await a.secrets.listSecrets({});
    expect(listed.secrets.map((s) => s.name)).toEqual(["API_KEY", "GITHUB_TOKEN"]);

    await a.secrets.deleteSecret({ name: "API_KEY" });
    expect((await a.secrets.listSecrets({})).secrets.map((s) => s.name)).toEqual(["GITHUB_TOKEN"]);
    expect(await store.resolve("acme", ["API_KEY"])).toEqual({});
    const gone = await rejects(a.secrets.deleteSecret({ name: "API_KEY" }), Code.NotFound, "name");
    expect(gone.findDetails(ErrorDetailSchema)[0]?.reason).toBe("SECRET_NOT_FOUND");
  });

  it("rejects bad names and values, naming the field", async () => {
    for (const name of ["", "1ABC", "has-dash", "has space", "ÄBC", "A".repeat(129)])
      await rejects(a.secrets.setSecret({ name, value: "v" }), Code.InvalidArgument, "name");
    await a.secrets.setSecret({ name: "A".repeat(128), value: "v" });
    await rejects(a.secrets.deleteSecret({ name: "bad-name" }), Code.InvalidArgument, "name");

    await rejects(a.secrets.setSecret({ name: "EMPTY", value: "" }), Code.InvalidArgument, "value");
    await rejects(
      a.secrets.setSecret({ name: "NUL", value: "a\0b" }),
      Code.InvalidArgument,
      "value",
    );
    // The limit is in UTF-8 bytes: 64 KiB of ASCII fits, the same count of "é" does not.
    const max = LIMITS.maxSecretValueBytes;
    await a.secrets.setSecret({ name: "BIG", value: "x".repeat(max) });
    await rejects(
      a.secrets.setSecret({ name: "BIG", value: "x".repeat(max + 1) }),
      Code.InvalidArgument,
      "value",
    );
    await rejects(
      a.secrets.setSecret({ name: "WIDE", value: "é".repeat(max / 2 + 1) }),
      Code.InvalidArgument,
      "value",
    );
    expect((await a.secrets.listSecrets({})).secrets.map((s) => s.name)).toEqual([
      "A".repeat(128),
      "BIG",
    ]);
  });

  it("keeps each tenant's secrets to itself", async () => {
    await a.secrets.setSecret({ name: "TOKEN", value: "acme-token" });
    await b.secrets.setSecret({ name: "TOKEN", value: "globex-token" });
    await b.secrets.setSecret({ name: "ONLY_B", value: "b" });
    expect((await a.secrets.listSecrets({})).secrets.map((s) => s.name)).toEqual(["TOKEN"]);
    expect((await b.secrets.listSecrets({})).secrets.map((s) => s.name)).toEqual([
      "ONLY_B",
      "TOKEN",
    ]);
    await rejects(a.secrets.deleteSecret({ name: "ONLY_B" }), Code.NotFound, "name");
    await a.secrets.deleteSecret({ name: "TOKEN" });
    expect(await store.resolve("globex", ["TOKEN"])).toEqual({ TOKEN: "globex-token" });
    expect(await store.resolve("acme", ["TOKEN", "ONLY_B"])).toEqual({});
  });

  it("needs an API key", async () => {
    const { runtime: r, clients } = await inProcessRuntime({ apiKeys: { [KEY_A]: "acme" } });
    try {
      await rejects(clients().secrets.listSecrets({}), Code.Unauthenticated);
      await rejects(
        clients("wrong-key-0123456789").secrets.setSecret({ name: "X", value: "v" }),
        Code.Unauthenticated,
      );
    } finally {
      await r.shutdown();
    }
  });

  it(`holds at most ${LIMITS.maxSecretsPerTenant} per tenant`, async () => {
    const now = new Date();
    for (let i = 0; i < LIMITS.maxSecretsPerTenant; i++) {
      const s: Secret = {
        tenantId: "acme",
        name: `S${i}`,
        value: "v",
        createTime: now,
        updateTime: now,
      };
      await store.setSecret(s);
    }
    const full = await rejects(
      a.secrets.setSecret({ name: "ONE_MORE", value: "v" }),
      Code.ResourceExhausted,
      "name",
    );
    expect(full.findDetails(ErrorDetailSchema)[0]?.reason).toBe("TOO_MANY_SECRETS");
    // Replacing one that exists is no new secret; another tenant has its own allowance.
    await a.secrets.setSecret({ name: "S0", value: "new" });
    await b.secrets.setSecret({ name: "ONE_MORE", value: "v" });
    await a.secrets.deleteSecret({ name: "S1" });
    await a.secrets.setSecret({ name: "ONE_MORE", value: "v" });
    expect((await a.secrets.listSecrets({})).secrets).toHaveLength(LIMITS.maxSecretsPerTenant);
  });

  it("never returns or logs a value, also when calls fail", async () => {
    const marker = "Sup3rS3cretMarkerValue";
    const responses: unknown[] = [];
    const keep = async (p: Promise<unknown>) => {
      try {
        responses.push(await p);
      } catch (err) {
        const ce = ConnectError.from(err);
        responses.push({
          message: ce.message,
          details: ce.details,
          metadata: headers(ce.metadata),
        });
      }
    };
    await keep(a.secrets.setSecret({ name: "MARKED", value: marker }));
    await keep(a.secrets.setSecret({ name: "MARKED", value: `${marker}-replaced` }));
    await keep(a.secrets.listSecrets({}));
    await keep(a.secrets.setSecret({ name: "bad name", value: marker }));
    await keep(a.secrets.setSecret({ name: "TOO_BIG", value: marker.repeat(4000) }));
    await keep(a.secrets.setSecret({ name: "NUL", value: `${marker}\0` }));
    await keep(a.secrets.deleteSecret({ name: "NOT_THERE" }));
    await keep(b.secrets.listSecrets({}));
    // A store that fails: the error is logged (internal), the request is not.
    const failing = store.setSecret.bind(store);
    store.setSecret = async () => {
      throw new Error("disk on fire");
    };
    await keep(a.secrets.setSecret({ name: "MARKED", value: marker }));
    store.setSecret = failing;
    expect(logs.some((l) => l.includes("disk on fire"))).toBe(true);
    expect(responses).toHaveLength(9);
    for (const r of responses) expect(JSON.stringify(r, bigints)).not.toContain(marker);
    for (const line of logs) expect(line).not.toContain(marker);
    expect(await store.resolve("acme", ["MARKED"])).toEqual({ MARKED: `${marker}-replaced` });
  });
});

function headers(h: Headers): [string, string][] {
  const out: [string, string][] = [];
  h.forEach((value, key) => {
    out.push([key, value]);
  });
  return out;
}

function bigints(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("latin1");
  return value;
}

describe("SECRETS_KEY", () => {
  it("is 32 bytes of base64, and a bad one is refused without being echoed", () => {
    expect(parseSecretsKey("")).toBeUndefined();
    expect(parseSecretsKey(undefined)).toBeUndefined();
    const key = Buffer.alloc(32, 7).toString("base64");
    expect(parseSecretsKey(key)?.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(() => parseSecretsKey(Buffer.alloc(16, 1).toString("base64"))).toThrow(
      /SECRETS_KEY must be 32 bytes in base64.*decodes to 16 bytes/,
    );
    const notBase64 = "this is not base64 at all!!";
    expect(() => parseSecretsKey(notBase64)).toThrow(/not base64/);
    try {
      parseSecretsKey(notBase64);
    } catch (err) {
      expect((err as Error).message).not.toContain(notBase64);
    }
  });
});
