// The secret stores: one behaviour suite against MemorySecrets and MongoSecrets (FerretDB, or the
// server of MONGODB_URI), then what only MongoDB does: values encrypted at rest with a key, clear
// errors for a wrong or missing key, and the real server wiring (MONGODB_URI + SECRETS_KEY).

import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type Db, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SecretService } from "#gen/secret_service_pb.js";
import { MemorySecrets } from "../src/adapters/memory/secrets.js";
import { MongoSecrets } from "../src/adapters/mongodb/secrets.js";
import { AppError } from "../src/domain/errors.js";
import type { Secret } from "../src/domain/types.js";
import type { SecretStore } from "../src/ports/secrets.js";
import {
  MONGO_START_TIMEOUT_MS,
  type MongoServer,
  randomDbName,
  startMongo,
} from "./support/mongo.js";
import { startServer } from "./support/server.js";

let server: MongoServer | undefined;
let client: MongoClient | undefined;
let startError: unknown;

beforeAll(async () => {
  try {
    server = await startMongo();
    client = await MongoClient.connect(server.uri);
  } catch (err) {
    startError = err;
  }
}, MONGO_START_TIMEOUT_MS);

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

/** A fresh database of the test server (fails the test when the server did not start). */
function freshDb(): Db {
  if (startError) throw startError;
  if (!server || !client) throw new Error("the MongoDB server did not start");
  return client.db(`${server.dbName}_${randomDbName("s")}`);
}

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
const secret = (tenantId: string, name: string, value: string, ms = 0): Secret => ({
  tenantId,
  name,
  value,
  createTime: at(ms),
  updateTime: at(ms),
});

function storeSuite(label: string, create: () => Promise<SecretStore>): void {
  describe(label, () => {
    it("sets, replaces (keeping the create time), lists in name order and deletes", async () => {
      const store = await create();
      const first = await store.setSecret(secret("acme", "TOKEN", "one", 0));
      expect(first).toEqual(secret("acme", "TOKEN", "one", 0));
      const replaced = await store.setSecret(secret("acme", "TOKEN", "two", 1000));
      expect(replaced).toEqual({ ...secret("acme", "TOKEN", "two", 1000), createTime: at(0) });
      await store.setSecret(secret("acme", "API_KEY", "k", 2000));
      await store.setSecret(secret("acme", "b_lower", "l", 2000));
      await store.setSecret(secret("globex", "TOKEN", "theirs", 3000));

      const listed = await store.listSecrets("acme");
      expect(listed).toEqual([
        { tenantId: "acme", name: "API_KEY", createTime: at(2000), updateTime: at(2000) },
        { tenantId: "acme", name: "TOKEN", createTime: at(0), updateTime: at(1000) },
        { tenantId: "acme", name: "b_lower", createTime: at(2000), updateTime: at(2000) },
      ]);
      for (const s of listed) expect(s).not.toHaveProperty("value");

      expect(await store.resolve("acme", ["TOKEN", "API_KEY", "MISSING"])).toEqual({
        TOKEN: "two",
        API_KEY: "k",
      });
      expect(await store.resolve("globex", ["TOKEN", "API_KEY"])).toEqual({ TOKEN: "theirs" });
      expect(await store.resolve("acme", [])).toEqual({});

      expect(await store.deleteSecret("acme", "TOKEN")).toBe(true);
      expect(await store.deleteSecret("acme", "TOKEN")).toBe(false);
      expect(await store.resolve("acme", ["TOKEN"])).toEqual({});
      expect(await store.resolve("globex", ["TOKEN"])).toEqual({ TOKEN: "theirs" });
      expect(await store.listSecrets("nobody")).toEqual([]);
    });

    it("keeps values exactly (unicode, 64 KiB, newlines)", async () => {
      const store = await create();
      const values = {
        UNICODE: "ключ 🔑 é\u2028",
        BIG: "x".repeat(64 * 1024),
        LINES: "-----BEGIN KEY-----\nabc\n-----END KEY-----\n",
      };
      for (const [name, value] of Object.entries(values))
        await store.setSecret(secret("acme", name, value));
      expect(await store.resolve("acme", Object.keys(values))).toEqual(values);
    });

    it("takes concurrent sets of one name as one secret", async () => {
      const store = await create();
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => store.setSecret(secret("acme", "RACE", `v${i}`, i))),
      );
      expect((await store.listSecrets("acme")).map((s) => s.name)).toEqual(["RACE"]);
      expect((await store.resolve("acme", ["RACE"])).RACE).toMatch(/^v[0-7]$/);
    });
  });
}

storeSuite("MemorySecrets", async () => new MemorySecrets());
storeSuite("MongoSecrets", async () => {
  const store = new MongoSecrets(freshDb());
  await store.ensureIndexes();
  return store;
});
storeSuite("MongoSecrets with a key", async () => {
  const store = new MongoSecrets(freshDb(), { key: randomBytes(32) });
  await store.ensureIndexes();
  return store;
});

async function rejectsApp(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => expect.fail("expected an error"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe("MongoSecrets at rest", () => {
  it("stores sealed values with a key, and plain values without", async () => {
    const db = freshDb();
    const marker = `marker-${randomBytes(8).toString("hex")}`;
    const sealed = new MongoSecrets(db, { key: randomBytes(32) });
    await sealed.ensureIndexes();
    await sealed.setSecret(secret("acme", "SEALED", marker));
    const raw = await db.collection("ar_secrets").findOne({ name: "SEALED" });
    expect(JSON.stringify(raw)).not.toContain(marker);
    expect(raw?.value).toBeUndefined();
    expect(raw?.sealed).toMatchObject({ alg: "A256GCM" });
    expect(await sealed.resolve("acme", ["SEALED"])).toEqual({ SEALED: marker });

    const plain = new MongoSecrets(db);
    await plain.setSecret(secret("acme", "PLAIN", marker));
    const rawPlain = await db.collection("ar_secrets").findOne({ name: "PLAIN" });
    expect(rawPlain?.value).toBe(marker);
    // A value stored before the key was set still reads; set again, it is sealed.
    expect(await sealed.resolve("acme", ["PLAIN"])).toEqual({ PLAIN: marker });
    await sealed.setSecret(secret("acme", "PLAIN", marker, 1));
    const resealed = await db.collection("ar_secrets").findOne({ name: "PLAIN" });
    expect(JSON.stringify(resealed)).not.toContain(marker);
    expect(resealed?.createTime).toEqual(at(0));
  });

  it("answers a wrong, missing or tampered key with SECRET_UNREADABLE, not a crash", async () => {
    const db = freshDb();
    const store = new MongoSecrets(db, { key: randomBytes(32) });
    await store.setSecret(secret("acme", "TOKEN", "value"));
    await store.setSecret(secret("acme", "OTHER", "other"));

    const wrong = await rejectsApp(
      new MongoSecrets(db, { key: randomBytes(32) }).resolve("acme", ["TOKEN"]),
    );
    expect(wrong.code).toBe("failed_precondition");
    expect(wrong.reason).toBe("SECRET_UNREADABLE");
    expect(wrong.message).toMatch(/"TOKEN" cannot be read: it was stored with another SECRETS_KEY/);

    const none = await rejectsApp(new MongoSecrets(db).resolve("acme", ["TOKEN"]));
    expect(none.reason).toBe("SECRET_UNREADABLE");
    expect(none.message).toMatch(/stored encrypted and this server has no SECRETS_KEY/);

    // A sealed value moved onto another secret's document does not open there.
    const collection = db.collection("ar_secrets");
    const token = await collection.findOne({ name: "TOKEN" });
    await collection.updateOne({ name: "OTHER" }, { $set: { sealed: token?.sealed } });
    const moved = await rejectsApp(store.resolve("acme", ["OTHER"]));
    expect(moved.message).toMatch(/"OTHER" cannot be read: its stored form does not decrypt/);
    // The listing needs no key.
    expect((await new MongoSecrets(db).listSecrets("acme")).map((s) => s.name)).toEqual([
      "OTHER",
      "TOKEN",
    ]);
  });
});

describe("MongoSecrets when the store does not answer", () => {
  it("fails each call with STORE_UNAVAILABLE in its budget, then works again", async () => {
    const own = await startMongo({ own: true });
    const ownClient = await MongoClient.connect(own.uri, {
      serverSelectionTimeoutMS: 500,
      socketTimeoutMS: 1_000,
    });
    try {
      const store = new MongoSecrets(ownClient.db(own.dbName), {
        operationTimeoutMs: 800,
        key: randomBytes(32),
      });
      await store.ensureIndexes();
      await store.setSecret(secret("acme", "TOKEN", "v"));
      own.pause();
      for (const call of [
        () => store.setSecret(secret("acme", "TOKEN", "w", 1)),
        () => store.listSecrets("acme"),
        () => store.resolve("acme", ["TOKEN"]),
        () => store.deleteSecret("acme", "TOKEN"),
      ]) {
        const err = await rejectsApp(call());
        expect(err.code).toBe("unavailable");
        expect(err.reason).toBe("STORE_UNAVAILABLE");
      }
      own.resume();
      await expect
        .poll(() => store.resolve("acme", ["TOKEN"]).catch(() => undefined), { timeout: 15_000 })
        .toBeDefined();
      // The calls FerretDB held while paused may still land after it resumes (the held delete
      // of TOKEN among them, at any time): the next calls work, shown on another secret.
      await store.setSecret(secret("acme", "OTHER", "x", 2));
      expect(await store.resolve("acme", ["OTHER"])).toEqual({ OTHER: "x" });
    } finally {
      own.resume();
      await ownClient.close();
      await own.stop();
    }
  }, 60_000);
});

describe("the server with MONGODB_URI and SECRETS_KEY", () => {
  it("stores secrets encrypted in its database and logs no value", async () => {
    const db = freshDb();
    const key = "secrets-server-key-0123456789";
    const marker = `marker-${randomBytes(8).toString("hex")}`;
    const started = await startServer({
      env: {
        MONGODB_URI: server!.uri,
        MONGODB_DB: db.databaseName,
        SECRETS_KEY: randomBytes(32).toString("base64"),
        AGENT_RUNTIME_API_KEYS: `${key}=acme`,
        LOG_LEVEL: "debug",
      },
    });
    try {
      const transport = createConnectTransport({ baseUrl: started.url, httpVersion: "1.1" });
      const secrets = createClient(SecretService, transport);
      const headers = { authorization: `Bearer ${key}` };
      await secrets.setSecret({ name: "TOKEN", value: marker }, { headers });
      const failed = await secrets
        .setSecret({ name: "bad name", value: marker }, { headers })
        .catch((e: unknown) => ConnectError.from(e));
      expect((failed as ConnectError).code).toBe(Code.InvalidArgument);
      expect((failed as ConnectError).message).not.toContain(marker);
      // Malformed requests: neither the answer nor a log line quotes the body. (Unknown JSON
      // keys are ignored: that one is a good request.)
      for (const body of [
        `{"name":"TOKEN","value":{"v":"${marker}"}}`,
        `{"name":"TOKEN","value":"${marker}","bogus":1}`,
        `{"name":"TOKEN","value":"${marker}"`,
      ]) {
        const res = await fetch(`${started.url}/agentruntime.v1.SecretService/SetSecret`, {
          method: "POST",
          headers: { ...headers, "content-type": "application/json" },
          body,
        });
        expect(body.includes("bogus") ? 200 : 400).toBe(res.status);
        expect(await res.text()).not.toContain(marker);
      }
      const listed = await secrets.listSecrets({}, { headers });
      expect(listed.secrets.map((s) => s.name)).toEqual(["TOKEN"]);
      expect(
        JSON.stringify(listed, (_k, v) => (typeof v === "bigint" ? String(v) : v)),
      ).not.toContain(marker);
      const raw = await db.collection("ar_secrets").findOne({ name: "TOKEN" });
      expect(raw?.sealed).toBeDefined();
      expect(JSON.stringify(raw)).not.toContain(marker);
      expect(started.logs.some((l) => l.includes("secrets: stored encrypted"))).toBe(true);
    } finally {
      expect(await started.stop()).toBe(0);
    }
    expect(started.logs.join("\n")).not.toContain(marker);
  });

  it("refuses to start with a malformed SECRETS_KEY, saying why", async () => {
    const err = await startServer({ env: { SECRETS_KEY: "dG9vIHNob3J0" } }).then(
      () => expect.fail("the server started"),
      (e: unknown) => e as Error,
    );
    expect(err.message).toMatch(/exited with code 2/);
    expect(err.message).toMatch(/SECRETS_KEY must be 32 bytes in base64.*decodes to 9 bytes/);
    expect(err.message).not.toContain("dG9vIHNob3J0");
  });
});
