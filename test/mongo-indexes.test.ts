// Every query the MongoDB adapter sends is served by one of its declared indexes (indexes.ts).
//
// How: the driver reports every command it sends (monitorCommands); a workload calls every
// adapter method with every filter it knows, and each find, aggregate, update and delete filter
// and sort is checked against the index table: its equality fields must be a prefix of an index,
// the sort must continue that prefix (in the index's direction or the reverse), and a range must
// be on the sort fields or the next index field. The index table is the one ensureIndexes()
// creates from, so the test and the code share it.
//
// Why not `explain` alone: FerretDB v1.24 over SQLite answers every explain with SQLite's plan
// "SCAN <table>", for an `_id` lookup (filterPushdown: true) as for a filter on an unindexed field
// (filterPushdown: false); its indexes never show in a plan, so explain cannot tell an indexed
// query from a collection scan there. Against real MongoDB (MONGODB_URI), the explain of every
// recorded find and aggregate must also show no COLLSCAN.

import { type CommandStartedEvent, type Document, MongoClient, type Sort } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CollectionName,
  FULL_SCANS,
  INDEXES,
  type IndexSpec,
} from "../src/adapters/mongodb/indexes.js";
import { MongoPersistence } from "../src/adapters/mongodb/persistence.js";
import { MongoSecrets } from "../src/adapters/mongodb/secrets.js";
import { newId } from "../src/domain/ids.js";
import type { AgentProfile, SessionEvent } from "../src/domain/types.js";
import { makeSession } from "../src/testing/records.js";
import {
  MONGO_START_TIMEOUT_MS,
  type MongoServer,
  randomDbName,
  startMongo,
} from "./support/mongo.js";

const PREFIX = "ar_";

// --- the rule ---

interface Shape {
  eq: Set<string>;
  range: Set<string>;
}

const RANGE_OPERATORS = new Set(["$gt", "$gte", "$lt", "$lte"]);

function isOperatorObject(value: unknown): value is Record<string, unknown> {
  return (
    value !== null &&
    typeof value === "object" &&
    !(value instanceof Date) &&
    !Array.isArray(value) &&
    Object.keys(value).length > 0 &&
    Object.keys(value).every((k) => k.startsWith("$"))
  );
}

/** The equality and range fields of a filter; one shape per branch of a top-level $or. */
function shapesOf(filter: Document): Shape[] {
  const top: Shape = { eq: new Set(), range: new Set() };
  let branches: Shape[] | undefined;
  for (const [field, value] of Object.entries(filter)) {
    if (field === "$or") {
      branches = (value as Document[]).flatMap(shapesOf);
      continue;
    }
    if (field.startsWith("$")) throw new Error(`unsupported filter operator ${field}`);
    if (!isOperatorObject(value)) {
      top.eq.add(field);
      continue;
    }
    for (const op of Object.keys(value)) {
      if (op === "$eq" || op === "$in") top.eq.add(field);
      else if (RANGE_OPERATORS.has(op)) top.range.add(field);
      // Checked on the documents the rest of the filter found (a lease absent, a command not
      // taken): no index needed when the rest is served.
      else if (op === "$exists") continue;
      else throw new Error(`unsupported operator ${op} on ${field}`);
    }
  }
  if (!branches) return [top];
  return branches.map((b) => ({
    eq: new Set([...top.eq, ...b.eq]),
    range: new Set([...top.range, ...b.range]),
  }));
}

/** Whether `index` serves a query of this shape and sort. */
function serves(
  index: Pick<IndexSpec, "key">,
  shape: Shape,
  sort: Record<string, number>,
): boolean {
  const keys = Object.entries(index.key);
  const prefix = keys.slice(0, shape.eq.size).map(([f]) => f);
  if (prefix.length !== shape.eq.size || !prefix.every((f) => shape.eq.has(f))) return false;
  const rest = keys.slice(shape.eq.size);
  // Sort fields bound by equality are constant: they need no index order.
  const sortFields = Object.entries(sort).filter(([f]) => !shape.eq.has(f));
  if (sortFields.length > rest.length) return false;
  const relation = new Set<number>();
  for (const [i, [field, dir]] of sortFields.entries()) {
    const [indexField, indexDir] = rest[i]!;
    if (field !== indexField) return false;
    relation.add(Math.sign(dir) * Math.sign(indexDir));
  }
  if (relation.size > 1) return false; // mixed: neither the index order nor its reverse
  const rangeOk =
    sortFields.length === 0
      ? shape.range.size <= 1 && [...shape.range].every((f) => rest[0]?.[0] === f)
      : [...shape.range].every((f) => sortFields.some(([s]) => s === f));
  return rangeOk;
}

const ID_INDEX = { key: { _id: 1 } } as const;

/** Why no declared index serves the query, or undefined when one does. */
function unserved(
  collection: CollectionName,
  filter: Document,
  sort: Record<string, number> = {},
): string | undefined {
  if (Object.keys(filter).length === 0 && Object.keys(sort).length === 0) {
    return FULL_SCANS.some((s) => s.collection === collection)
      ? undefined
      : "reads the whole collection";
  }
  const indexes = [ID_INDEX, ...INDEXES[collection]];
  for (const shape of shapesOf(filter)) {
    // One document by id: whatever else the filter says is checked on it.
    if (shape.eq.has("_id")) continue;
    if (!indexes.some((index) => serves(index, shape, sort))) {
      return `no index serves eq {${[...shape.eq]}} range {${[...shape.range]}} sort ${JSON.stringify(sort)}`;
    }
  }
  return undefined;
}

interface Query {
  command: string;
  collection: CollectionName;
  filter: Document;
  sort?: Record<string, number> | undefined;
}

/** The driver sends a sort as a Map (its order is the order of the keys). */
function plainSort(sort: unknown): Record<string, number> | undefined {
  if (sort === undefined || sort === null) return undefined;
  const entries = sort instanceof Map ? [...sort.entries()] : Object.entries(sort as Document);
  return Object.fromEntries(entries.map(([k, v]) => [String(k), Number(v)]));
}

/** The queries in one command (an update or delete command may carry several). */
function queriesOf(event: CommandStartedEvent): Query[] {
  const c = event.command;
  const name = event.commandName;
  const collectionOf = (raw: unknown): CollectionName => {
    const plain = String(raw).slice(PREFIX.length);
    if (!String(raw).startsWith(PREFIX) || !(plain in INDEXES)) {
      throw new Error(`${name} on an unknown collection ${String(raw)}`);
    }
    return plain as CollectionName;
  };
  switch (name) {
    case "find":
      return [
        {
          command: name,
          collection: collectionOf(c.find),
          filter: c.filter ?? {},
          sort: plainSort(c.sort),
        },
      ];
    case "aggregate": {
      const [first] = c.pipeline as Document[];
      return [
        { command: name, collection: collectionOf(c.aggregate), filter: first?.$match ?? {} },
      ];
    }
    case "update":
      return (c.updates as Document[]).map((u) => ({
        command: name,
        collection: collectionOf(c.update),
        filter: u.q,
      }));
    case "delete":
      return (c.deletes as Document[]).map((d) => ({
        command: name,
        collection: collectionOf(c.delete),
        filter: d.q,
      }));
    case "findAndModify":
      return [
        {
          command: name,
          collection: collectionOf(c.findAndModify),
          filter: c.query ?? {},
          sort: plainSort(c.sort),
        },
      ];
    case "count":
    case "distinct":
      return [{ command: name, collection: collectionOf(c[name]), filter: c.query ?? {} }];
    case "insert":
    case "createIndexes":
    case "dropIndexes":
    case "listIndexes":
    case "ping":
    case "hello":
    case "isMaster":
    case "endSessions":
    case "getMore":
    case "killCursors":
      return [];
    default:
      throw new Error(`the index check does not know the command ${name}`);
  }
}

// --- the rule itself can fail ---

describe("the index rule", () => {
  const cases: [CollectionName, Document, Record<string, number> | undefined, boolean][] = [
    ["sessions", { tenantId: "t" }, { lastActivityTime: -1, _id: -1 }, true],
    ["sessions", { tenantId: "t" }, { lastActivityTime: 1, _id: 1 }, true], // reverse order
    ["sessions", { tenantId: "t" }, { lastActivityTime: -1, _id: 1 }, false], // mixed order
    ["sessions", { tenantId: "t", state: "idle" }, { lastActivityTime: -1, _id: -1 }, true],
    ["sessions", { state: "idle", tenantId: "t" }, { lastActivityTime: -1, _id: -1 }, true],
    ["sessions", { tenantId: "t" }, { name: 1 }, false],
    ["sessions", { name: "x" }, undefined, false],
    ["sessions", { lastActivityTime: { $lt: new Date() } }, undefined, false],
    ["sessions", {}, undefined, true], // listAllSessions: declared as a full scan
    ["profiles", {}, undefined, false],
    ["events", { sessionId: "s", sequence: { $gt: 3 } }, { sequence: 1 }, true],
    ["events", { sequence: { $gt: 3 } }, { sequence: 1 }, false],
    ["events", { sessionId: "s", time: { $gt: new Date() } }, undefined, false],
    ["blocks", { sessionId: "s", sequence: { $gt: 0 } }, { sequence: 1, id: 1 }, true],
    ["blocks", { sessionId: "s" }, { id: 1 }, true],
    ["blocks", { sessionId: "s" }, { createTime: 1 }, false],
    ["files", { sessionId: "s", path: "p" }, undefined, true],
    ["files", { path: "p" }, undefined, false],
    ["transcripts", { _id: "s" }, undefined, true],
    ["transcripts", { sessionId: "s" }, { index: 1, part: 1 }, true],
    ["transcripts", { sessionId: "s", index: { $gte: 3 } }, undefined, true],
    ["transcripts", { index: { $gte: 3 } }, undefined, false],
    [
      "sessions",
      {
        tenantId: "t",
        $or: [
          { lastActivityTime: { $lt: new Date() } },
          { lastActivityTime: new Date(), _id: { $lt: "x" } },
        ],
      },
      { lastActivityTime: -1, _id: -1 },
      true,
    ],
    ["sessions", { $or: [{ tenantId: "t" }, { name: "x" }] }, undefined, false],
  ];
  for (const [collection, filter, sort, expected] of cases) {
    it(`${expected ? "accepts" : "rejects"} ${collection} ${JSON.stringify(filter)} sort ${JSON.stringify(sort ?? {})}`, () => {
      expect(unserved(collection, filter, sort) === undefined).toBe(expected);
    });
  }
});

// --- every query of the adapter ---

let server: MongoServer;
let client: MongoClient;
const events: CommandStartedEvent[] = [];

beforeAll(async () => {
  server = await startMongo();
  client = new MongoClient(server.uri, { monitorCommands: true });
  client.on("commandStarted", (e) => events.push(e));
  await client.connect();
}, MONGO_START_TIMEOUT_MS);

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

function makeProfile(overrides: Partial<AgentProfile> = {}): AgentProfile {
  const now = new Date();
  return {
    id: newId("prf"),
    tenantId: "tenant-i",
    name: "p",
    description: "",
    systemPrompt: "",
    modelProvider: "anthropic",
    model: "m",
    tools: [],
    maxTurns: 1,
    subagents: [],
    defaultFiles: [],
    sandbox: {
      provider: "local",
      networkAllowed: false,
      env: {},
      image: "",
      cpu: 1,
      memoryMib: 512,
      providerOptions: {},
    },
    thinking: { enabled: false, budgetTokens: 0 },
    maxOutputTokens: 1,
    createTime: now,
    updateTime: now,
    ...overrides,
  };
}

function makeEvent(sessionId: string, sequence: number): SessionEvent {
  return {
    sessionId,
    sequence,
    time: new Date(sequence),
    payload: { type: "file_deleted", path: `f${sequence}` },
  };
}

/** The adapter with every method call recorded by name. */
function recorded(store: MongoPersistence, called: Set<string>): MongoPersistence {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        called.add(String(key));
        return value.apply(target, args);
      };
    },
  });
}

describe("MongoPersistence queries", () => {
  it("are each served by a declared index (every method, every filter)", async () => {
    const dbName = randomDbName("indexes");
    const called = new Set<string>();
    const store = recorded(new MongoPersistence(client.db(dbName)), called);
    await store.ensureIndexes();
    events.length = 0;

    // Every method, with every optional filter and the paths taken on duplicates.
    const s = makeSession("tenant-i", { requestId: "req-1" });
    await store.createSessionRecord(s);
    await store.createSessionRecord({ ...makeSession("tenant-i", { requestId: "req-1" }) }); // by request key
    await store.createSessionRecord({ ...s, requestId: "req-2" }).catch(() => undefined); // by id
    const other = makeSession("tenant-i", { state: "running" });
    await store.createSessionRecord(other);
    await store.loadSession(s.id);
    await store.updateSessionRecord(s.id, { name: "renamed", sandbox: undefined });
    await store.listAllSessions();
    await store.listAllSessions({ state: "running" });
    for (const agentProfileId of [undefined, "prf_i"]) {
      for (const state of [undefined, "idle" as const]) {
        const query = {
          tenantId: "tenant-i",
          limit: 1,
          ...(agentProfileId ? { agentProfileId } : {}),
          ...(state ? { state } : {}),
        };
        const page = await store.listSessions(query);
        await store.listSessions({
          ...query,
          after: page.next ?? { lastActivityTime: new Date(), id: s.id },
        });
      }
    }
    // A transcript: appended, its tail cut, rewritten, read; and one stored by an earlier
    // version, read and continued (converted to entries, its document removed).
    await store.saveTranscript(s.id, { from: 0, entries: ["[1]", "[2]"] });
    await store.saveTranscript(s.id, { from: 2, entries: ["[3]"] });
    await store.saveTranscript(s.id, { from: 1, entries: [] });
    await store.saveTranscript(s.id, { from: 0, entries: ["[4]"] });
    await store.loadTranscript(s.id);
    await client
      .db(dbName)
      .collection(`${PREFIX}transcripts`)
      .insertOne({ _id: other.id as never, transcript: "[1,2]", updateTime: new Date() });
    await store.loadTranscript(other.id);
    await store.saveTranscript(other.id, { from: 2, entries: ["3"] });
    const file = {
      info: { path: "a.txt", size: 1, sha256: "x", modifyTime: new Date() },
      content: new Uint8Array([1]),
    };
    await store.saveWorkspaceFile(s.id, file);
    await store.readWorkspaceFile(s.id, "a.txt");
    await store.listWorkspaceFiles(s.id);
    await store.workspaceUsage(s.id);
    await store.deleteSessionFile(s.id, "a.txt");
    const p = makeProfile({ requestId: "req-p" });
    await store.createAgentProfile(p);
    await store.createAgentProfile(makeProfile({ requestId: "req-p" }));
    await store.createAgentProfile({ ...p, requestId: "req-q" }).catch(() => undefined);
    await store.listAgentProfiles({ tenantId: "tenant-i", limit: 1 });
    await store.listAgentProfiles({ tenantId: "tenant-i", limit: 1, afterId: p.id });
    await store.loadAgentProfile(p.id);
    await store.updateAgentProfile({ ...p, name: "q" });
    await store.profileInUse(p.id);
    await store.deleteAgentProfile(p.id);
    const batch = [1, 2, 3].map((n) => makeEvent(s.id, n));
    await store.appendEvents(s.id, batch);
    await store.appendEvents(s.id, batch); // a retried batch: looks up the stored events
    await store.readEvents(s.id, 0, 10);
    await store.saveBlock(s.id, {
      id: "blk_1",
      turnId: "t",
      createTime: new Date(),
      sequence: 1,
      content: { type: "system", text: "x" },
    });
    await store.listBlocks(s.id, 0, 10);
    const decision = {
      toolUseId: "tu_1",
      turnId: "t",
      toolName: "Bash",
      kind: "allow" as const,
      message: "",
      updatedInputJson: "",
      alwaysAllowRule: "",
      output: "",
      isError: false,
      decidedBy: "open",
      decideTime: new Date(),
    };
    await store.appendToolDecision(s.id, decision);
    await store.appendToolDecision(s.id, decision); // a retry: a duplicate key, kept as stored
    await store.listToolDecisions(s.id, undefined, 10);
    await store.listToolDecisions(s.id, decision, 10);
    await store.addTenantUsage("tenant-i", "2026-11", s.id, s.usage);
    await store.tenantUsage("tenant-i", "2026-11");
    // Coordination: a lease taken, renewed and given back; a fenced update and append; a feed
    // claimed; a command stored, taken, finished, read and removed.
    const now = Date.now();
    const taken = await store.acquireLease(s.id, "r1", new Date(now), new Date(now + 1000));
    if (!("lease" in taken)) throw new Error("no lease");
    await store.acquireLease(s.id, "r2", new Date(now), new Date(now + 1000)); // held
    await store.renewLeases([{ sessionId: s.id, lease: taken.lease }], new Date(now + 2000));
    await store.renewLeases(
      [{ sessionId: s.id, lease: { ...taken.lease, owner: "r9" } }], // lost: read back
      new Date(now + 2000),
    );
    await store.updateSessionRecord(s.id, { name: "fenced" }, taken.lease.token);
    await store.claimFeed(s.id, taken.lease.token);
    await store.appendEvents(s.id, [makeEvent(s.id, 4)], taken.lease.token);
    await store.feedHeads([s.id]);
    await store.releaseLease(s.id, taken.lease);
    const command = {
      id: "cmd_1",
      sessionId: s.id,
      kind: "k",
      args: "{}",
      owner: "r1",
      createTime: new Date(),
    };
    await store.enqueueCommand(command);
    await store.pendingCommands("r1", 10);
    await store.takeCommand(command.id, "r1");
    await store.takeCommand(command.id, "r2"); // lost: a duplicate claim
    await store.finishCommand(command.id, "{}");
    await store.loadCommand(command.id);
    await store.deleteCommand(command.id);
    (await store.watchChanges(() => {}))?.(); // FerretDB: none
    await store.ping();
    await store.deleteSession(s.id);
    await store.close();

    // The workload calls every method of the port (a new method needs a line above).
    const methods = Object.getOwnPropertyNames(MongoPersistence.prototype).filter(
      (m) => m !== "constructor" && !m.startsWith("_"),
    );
    const publicMethods = methods.filter(
      (m) => !["run", "collection", "database"].includes(m), // private helpers, the db getter
    );
    expect(publicMethods.filter((m) => !called.has(m))).toEqual([]);

    const queries = events.flatMap(queriesOf);
    const commands = new Set(queries.map((q) => `${q.command} ${q.collection}`));
    for (const expected of [
      "find sessions",
      "update sessions",
      "delete sessions",
      "find profiles",
      "update profiles",
      "delete profiles",
      "update files",
      "find files",
      "aggregate files",
      "delete files",
      "find events",
      "delete events",
      "update blocks",
      "find blocks",
      "delete blocks",
      "find transcripts",
      "delete transcripts",
      "find tool_decisions",
      "delete tool_decisions",
    ]) {
      expect(commands).toContain(expected);
    }
    // Sorted queries were seen as sorted (listSessions, listAgentProfiles, readEvents, listBlocks).
    expect(
      queries.filter((q) => Object.keys(q.sort ?? {}).length > 0).length,
    ).toBeGreaterThanOrEqual(4);
    const failures = queries
      .map((q) => ({ q, why: unserved(q.collection, q.filter, q.sort) }))
      .filter((r) => r.why !== undefined)
      .map(({ q, why }) => `${q.command} ${q.collection} ${JSON.stringify(q.filter)}: ${why}`);
    expect(failures).toEqual([]);

    // Against real MongoDB, the planner must agree (FerretDB's explain cannot tell: see above).
    const info = await client.db(dbName).command({ buildInfo: 1 });
    if (info.ferretdbVersion === undefined) {
      const db = client.db(dbName);
      for (const q of queries.filter((q) => q.command === "find")) {
        if (Object.keys(q.filter).length === 0) continue;
        const plan = await db
          .collection(`${PREFIX}${q.collection}`)
          .find(q.filter, q.sort ? { sort: q.sort as Sort } : {})
          .explain("queryPlanner");
        expect(JSON.stringify(plan.queryPlanner.winningPlan)).not.toContain("COLLSCAN");
      }
    }
    await client.db(dbName).dropDatabase();
  }, 120_000);
});

describe("MongoSecrets queries", () => {
  it("are each served by a declared index", async () => {
    const dbName = randomDbName("secrets");
    const store = new MongoSecrets(client.db(dbName), { key: Buffer.alloc(32, 1) });
    await store.ensureIndexes();
    events.length = 0;
    const now = new Date();
    const secret = {
      tenantId: "tenant-i",
      name: "A",
      value: "v",
      createTime: now,
      updateTime: now,
    };
    await store.setSecret(secret);
    await store.setSecret({ ...secret, value: "w" });
    await store.listSecrets("tenant-i");
    await store.resolve("tenant-i", ["A", "B"]);
    await store.deleteSecret("tenant-i", "A");

    const queries = events.flatMap(queriesOf);
    const commands = new Set(queries.map((q) => `${q.command} ${q.collection}`));
    for (const expected of ["findAndModify secrets", "find secrets", "delete secrets"])
      expect(commands).toContain(expected);
    const failures = queries
      .map((q) => ({ q, why: unserved(q.collection, q.filter, q.sort) }))
      .filter((r) => r.why !== undefined)
      .map(({ q, why }) => `${q.command} ${q.collection} ${JSON.stringify(q.filter)}: ${why}`);
    expect(failures).toEqual([]);
    await client.db(dbName).dropDatabase();
  });
});
