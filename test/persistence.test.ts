// The persistence behaviour suite against every adapter: in memory, and MongoDB on real servers
// (FerretDB over SQLite and over PostgreSQL started by test/support/mongo.ts, or the server in
// MONGODB_URI).

import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryPersistence } from "../src/adapters/memory/persistence.js";
import { INDEXES, RETIRED_INDEXES } from "../src/adapters/mongodb/indexes.js";
import { MongoPersistence } from "../src/adapters/mongodb/persistence.js";
import { persistenceSuite } from "../src/testing/index.js";
import {
  MONGO_START_TIMEOUT_MS,
  type MongoBackend,
  type MongoServer,
  randomDbName,
  startMongo,
} from "./support/mongo.js";

persistenceSuite("MemoryPersistence", {
  create: async () => new MemoryPersistence(),
});

// MongoDB: FerretDB over SQLite and over PostgreSQL, or the one server of MONGODB_URI.
const BACKENDS: MongoBackend[] = process.env.MONGODB_URI ? ["sqlite"] : ["sqlite", "postgresql"];
const servers = new Map<MongoBackend, { server: MongoServer; client: MongoClient }>();
const startErrors = new Map<MongoBackend, unknown>();

// A server that does not start fails every MongoDB test with the reason (a failing hook would
// only mark them skipped); the in-memory tests still run.
beforeAll(async () => {
  await Promise.all(
    BACKENDS.map(async (backend) => {
      try {
        const server = await startMongo({ backend });
        servers.set(backend, { server, client: await MongoClient.connect(server.uri) });
      } catch (err) {
        startErrors.set(backend, err);
      }
    }),
  );
}, MONGO_START_TIMEOUT_MS);

afterAll(async () => {
  for (const { server, client } of servers.values()) {
    await client.close();
    await server.stop();
  }
});

function running(backend: MongoBackend = "sqlite"): { server: MongoServer; client: MongoClient } {
  if (startErrors.has(backend)) throw startErrors.get(backend);
  const started = servers.get(backend);
  if (!started) throw new Error(`the MongoDB server (${backend}) did not start`);
  return started;
}

for (const backend of BACKENDS) {
  // Every test gets a database of its own, so each starts empty.
  const databases = new Map<MongoPersistence, string>();
  const label = process.env.MONGODB_URI ? "MONGODB_URI" : `FerretDB over ${backend}`;
  persistenceSuite(`MongoPersistence (${label})`, {
    create: async () => {
      const { server, client } = running(backend);
      const dbName = `${server.dbName}_${randomDbName("t")}`;
      const adapter = new MongoPersistence(client.db(dbName));
      await adapter.ensureIndexes();
      databases.set(adapter, dbName);
      return adapter;
    },
    cleanup: async (adapter) => {
      await adapter.close?.();
      const dbName = databases.get(adapter as MongoPersistence);
      databases.delete(adapter as MongoPersistence);
      if (dbName) await servers.get(backend)?.client.db(dbName).dropDatabase();
    },
  });
}

describe("MongoPersistence.connect", () => {
  function uriWithDb(uri: string, dbName: string): string {
    const match = /^(mongodb(?:\+srv)?:\/\/[^/?]+)\/?[^?]*(\?.*)?$/.exec(uri);
    if (!match) throw new Error(`cannot put a database name into ${uri}`);
    return `${match[1]}/${dbName}${match[2] ?? ""}`;
  }

  it("connects, creates the indexes and closes the client it owns", async () => {
    const dbName = randomDbName("connect");
    const adapter = await MongoPersistence.connect(running().server.uri, dbName);
    try {
      await adapter.saveTranscript("ses_1", { from: 0, entries: ["[]"] });
      expect(await adapter.loadTranscript("ses_1")).toEqual(["[]"]);
      const db = running().client.db(dbName);
      const indexes = async (name: string) =>
        Object.fromEntries((await db.collection(name).indexes()).map((i) => [i.name, i]));
      for (const name of ["ar_sessions", "ar_profiles"]) {
        // Asked for as sparse; FerretDB v1 does not report `sparse` (its unique indexes skip
        // absent fields anyway). The behaviour suite checks records without a request id.
        expect((await indexes(name)).request_key).toMatchObject({
          key: { requestKey: 1 },
          unique: true,
        });
      }
      expect((await indexes("ar_sessions")).tenant_activity).toMatchObject({
        key: { tenantId: 1, lastActivityTime: -1, _id: -1 },
      });
      expect((await indexes("ar_events")).session_sequence).toMatchObject({
        key: { sessionId: 1, sequence: 1 },
        unique: true,
      });
      expect((await indexes("ar_files")).session_path).toMatchObject({
        key: { sessionId: 1, path: 1 },
        unique: true,
      });
      expect((await indexes("ar_blocks")).session_block).toMatchObject({
        key: { sessionId: 1, id: 1 },
        unique: true,
      });
      // Indexes can be ensured again.
      await adapter.ensureIndexes();
    } finally {
      await adapter.close();
      await adapter.close();
      await running().client.db(dbName).dropDatabase();
    }
  });

  it("creates every declared index and drops retired ones", async () => {
    const dbName = randomDbName("retired");
    const db = running().client.db(dbName);
    // An index an earlier version created on blocks.
    await db
      .collection("ar_blocks")
      .createIndex({ sessionId: 1, sequence: 1 }, { name: "session_sequence" });
    const adapter = await MongoPersistence.connect(running().server.uri, dbName);
    try {
      for (const [name, declared] of Object.entries(INDEXES)) {
        if (declared.length === 0) continue; // the collection appears with its first write
        const names = (await db.collection(`ar_${name}`).indexes()).map((i) => i.name).sort();
        expect(names).toEqual(["_id_", ...declared.map((i) => i.name)].sort());
      }
      for (const [name, index] of RETIRED_INDEXES) {
        const names = (await db.collection(`ar_${name}`).indexes()).map((i) => i.name);
        expect(names).not.toContain(index);
      }
      await adapter.ensureIndexes();
    } finally {
      await adapter.close();
      await db.dropDatabase();
    }
  });

  it("takes the database named in the URI, with a collection prefix of choice", async () => {
    const dbName = randomDbName("fromuri");
    const adapter = await MongoPersistence.connect(
      uriWithDb(running().server.uri, dbName),
      undefined,
      {
        collectionPrefix: "x_",
      },
    );
    try {
      await adapter.saveTranscript("ses_2", { from: 0, entries: ["{}"] });
      const names = (await running().client.db(dbName).listCollections().toArray()).map(
        (c) => c.name,
      );
      expect(names).toContain("x_transcripts");
      expect(names).toContain("x_sessions");
      expect(names.filter((n) => n.startsWith("ar_"))).toEqual([]);
    } finally {
      await adapter.close();
      await running().client.db(dbName).dropDatabase();
    }
  });
});
