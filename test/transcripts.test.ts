// A session's transcript, entry by entry: what Transcripts (src/app/turns/conversation.ts) sends
// to the store, after failures too; and on MongoDB (FerretDB), a long session stored and resumed,
// saves cut short, and transcripts stored by earlier versions (one document per session).

import { randomBytes } from "node:crypto";
import { type Collection, type Db, type Document, MongoClient, MongoNetworkError } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryPersistence } from "../src/adapters/memory/persistence.js";
import { MongoPersistence } from "../src/adapters/mongodb/persistence.js";
import { addUserMessage, Transcripts } from "../src/app/turns/conversation.js";
import { newId } from "../src/domain/ids.js";
import type { ModelMessage } from "../src/ports/model.js";
import type { TranscriptChange } from "../src/ports/persistence.js";
import {
  MONGO_START_TIMEOUT_MS,
  type MongoBackend,
  type MongoServer,
  randomDbName,
  startMongo,
} from "./support/mongo.js";

const user = (text: string): ModelMessage => ({ role: "user", content: [{ type: "text", text }] });
const assistant = (text: string): ModelMessage => ({
  role: "assistant",
  content: [{ type: "text", text }],
});
const json = (messages: ModelMessage[]) => messages.map((m) => JSON.stringify(m));

/** A store that records every change it is given and can be told to fail the next saves. */
class RecordingStore extends MemoryPersistence {
  readonly changes: TranscriptChange[] = [];
  /** "before": fail without storing; "after": store, then fail (a lost acknowledgement). */
  failNext: ("before" | "after" | undefined)[] = [];

  override async saveTranscript(sessionId: string, change: TranscriptChange): Promise<void> {
    this.changes.push(structuredClone(change));
    const fail = this.failNext.shift();
    if (fail === "before") throw new Error("injected: store unavailable");
    await super.saveTranscript(sessionId, change);
    if (fail === "after") throw new Error("injected: acknowledgement lost");
  }
}

describe("Transcripts", () => {
  it("saves only what changed: new messages, a changed one and what follows it", async () => {
    const store = new RecordingStore();
    const transcripts = new Transcripts(store);
    const messages = await transcripts.get("ses_a");
    expect(messages).toEqual([]);
    messages.push(user("one"));
    await transcripts.save("ses_a", messages);
    messages.push(assistant("two"), user("three"));
    await transcripts.save("ses_a", messages);
    // Unchanged: nothing to store.
    await transcripts.save("ses_a", messages);
    // The last message changed in place (a user message joins the one before it).
    addUserMessage(messages, "four", []);
    await transcripts.save("ses_a", messages);
    // An earlier message changed deep inside.
    (messages[1]!.content[0] as { text: string }).text = "TWO";
    await transcripts.save("ses_a", messages);
    expect(store.changes).toEqual([
      { from: 0, entries: json([user("one")]) },
      { from: 1, entries: json([assistant("two"), user("three")]) },
      { from: 2, entries: json([messages[2]!]) },
      { from: 1, entries: json(messages.slice(1)) },
    ]);
    expect(await store.loadTranscript("ses_a")).toEqual(json(messages));
  });

  it("stores the conversation as it was when save was called", async () => {
    const store = new RecordingStore();
    const transcripts = new Transcripts(store);
    const messages = await transcripts.get("ses_b");
    messages.push(user("one"));
    const first = transcripts.save("ses_b", messages);
    (messages[0]!.content[0] as { text: string }).text = "changed";
    messages.push(assistant("two"));
    const second = transcripts.save("ses_b", messages);
    await Promise.all([first, second]);
    expect(store.changes).toEqual([
      { from: 0, entries: json([user("one")]) },
      { from: 0, entries: json(messages) },
    ]);
  });

  it("replaces the conversation by a shorter one from the first message that differs", async () => {
    const store = new RecordingStore();
    const transcripts = new Transcripts(store);
    const messages = await transcripts.get("ses_c");
    messages.push(user("task"), assistant("a"), user("b"), assistant("c"), user("d"));
    await transcripts.save("ses_c", messages);
    // Compaction keeps the first message and summarises the rest.
    messages.splice(1, messages.length, assistant("summary"));
    await transcripts.save("ses_c", messages);
    // A new array in place of the old one, all of it different.
    const compacted = [user("summary of everything")];
    await transcripts.save("ses_c", compacted);
    expect(store.changes.slice(1)).toEqual([
      { from: 1, entries: json([assistant("summary")]) },
      { from: 0, entries: json(compacted) },
    ]);
    expect(await store.loadTranscript("ses_c")).toEqual(json(compacted));
    expect(await transcripts.get("ses_c")).toBe(compacted);
  });

  it("after a failed save, stores everything not known to be stored", async () => {
    const store = new RecordingStore();
    const transcripts = new Transcripts(store);
    const messages = await transcripts.get("ses_d");
    messages.push(user("one"), assistant("two"));
    await transcripts.save("ses_d", messages);
    // Fails before storing anything: the next save sends the two new messages and its own.
    messages.push(user("three"), assistant("four"));
    store.failNext = ["before"];
    await expect(transcripts.save("ses_d", messages)).rejects.toThrow("injected");
    messages.push(user("five"));
    await transcripts.save("ses_d", messages);
    // Shrinks, and the store took it but the answer was lost: the same change again, although
    // the conversation did not change since.
    messages.splice(3);
    store.failNext = ["after"];
    await expect(transcripts.save("ses_d", messages)).rejects.toThrow("injected");
    await transcripts.save("ses_d", messages);
    // Then known again: nothing to store.
    await transcripts.save("ses_d", messages);
    expect(store.changes.slice(1)).toEqual([
      { from: 2, entries: json([user("three"), assistant("four")]) },
      { from: 2, entries: json([user("three"), assistant("four"), user("five")]) },
      { from: 3, entries: [] },
      { from: 3, entries: [] },
    ]);
    expect(await store.loadTranscript("ses_d")).toEqual(json(messages));
  });

  it("saves in the order called, each after the one before, and a failure stops none", async () => {
    const store = new RecordingStore();
    const transcripts = new Transcripts(store);
    const messages = await transcripts.get("ses_e");
    const saves: Promise<void>[] = [];
    store.failNext = [undefined, "before"];
    for (let i = 0; i < 5; i++) {
      messages.push(i % 2 === 0 ? user(`${i}`) : assistant(`${i}`));
      saves.push(transcripts.save("ses_e", messages));
    }
    const results = await Promise.allSettled(saves);
    expect(results.map((r) => r.status)).toEqual([
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
      "fulfilled",
    ]);
    expect(store.changes.map((c) => c.from)).toEqual([0, 1, 1, 3, 4]);
    const fresh = new Transcripts(store);
    expect(await fresh.get("ses_e")).toEqual(messages);
  });
});

// --- MongoDB ---

const BACKENDS: MongoBackend[] = process.env.MONGODB_URI ? ["sqlite"] : ["postgresql", "sqlite"];
const servers = new Map<MongoBackend, { server: MongoServer; client: MongoClient }>();

beforeAll(async () => {
  await Promise.all(
    BACKENDS.map(async (backend) => {
      const server = await startMongo({ backend });
      servers.set(backend, { server, client: await MongoClient.connect(server.uri) });
    }),
  );
}, MONGO_START_TIMEOUT_MS);

afterAll(async () => {
  for (const { server, client } of servers.values()) {
    await client.close();
    await server.stop();
  }
});

function running(backend: MongoBackend): { server: MongoServer; client: MongoClient } {
  const started = servers.get(backend);
  if (!started) throw new Error(`the MongoDB server (${backend}) did not start`);
  return started;
}

/** Overrides of collection methods, by method name (the rest pass through). */
type Faults = Record<string, (target: Collection<Document>, ...args: never[]) => unknown>;

/** `db` with its collections' methods in `faults` replaced. */
function faulty(db: Db, faults: Faults): Db {
  const wrap = (collection: Collection<Document>) =>
    new Proxy(collection, {
      get(target, key) {
        const fault = faults[String(key)];
        if (fault) return (...args: never[]) => fault(target, ...args);
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return new Proxy(db, {
    get(target, key) {
      if (key === "collection") return (name: string) => wrap(target.collection(name));
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** About `bytes` of tool output: lines of a listing, partly random (compresses as real output). */
function toolOutput(turn: number, bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `-rw-r--r-- 1 agent agent ${1000 + i} src/turn_${turn}/file_${i}.ts ${randomBytes(24).toString("hex")}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join("");
}

for (const backend of BACKENDS) {
  describe(`Transcripts on MongoDB (FerretDB over ${backend})`, () => {
    const client = () => running(backend).client;
    const newDb = () => `${running(backend).server.dbName}_${randomDbName("tr")}`;

    it("stores a session of 500 turns with 40 MB of tool output and resumes it", async () => {
      const dbName = newDb();
      const sessionId = newId("ses");
      const store = new MongoPersistence(client().db(dbName));
      await store.ensureIndexes();
      const transcripts = new Transcripts(store);
      const messages = await transcripts.get(sessionId);
      const failures: unknown[] = [];
      const started = performance.now();
      for (let turn = 0; turn < 500; turn++) {
        // As the turn runner does: a save after each message, unawaited, and the last awaited.
        const persist = () =>
          void transcripts.save(sessionId, messages).catch((err) => failures.push(err));
        messages.push(user(`Turn ${turn}: list the files.`));
        persist();
        const id = `toolu_${turn}`;
        messages.push({
          role: "assistant",
          content: [{ type: "tool_use", id, name: "Bash", input: { command: `ls -l ${turn}` } }],
        });
        persist();
        messages.push({
          role: "user",
          content: [{ type: "tool_result", tool_use_id: id, content: toolOutput(turn, 80_000) }],
        });
        await transcripts.save(sessionId, messages);
      }
      const saved = performance.now() - started;
      expect(failures).toEqual([]);
      const expected = JSON.stringify(messages);
      expect(expected.length).toBeGreaterThan(40_000_000);

      // A new adapter and a new Transcripts, as after a restart.
      const reader = new MongoClient(running(backend).server.uri);
      try {
        const resumedAt = performance.now();
        const resumed = await new Transcripts(new MongoPersistence(reader.db(dbName))).get(
          sessionId,
        );
        const loaded = performance.now() - resumedAt;
        expect(resumed).toHaveLength(1500);
        expect(JSON.stringify(resumed) === expected).toBe(true);
        // One document per message (none of them is large enough to be cut in pieces).
        const docs = client().db(dbName).collection("ar_transcripts");
        expect(await docs.countDocuments({ sessionId })).toBe(1500);
        console.info(
          `500 turns on FerretDB over ${backend}: saved in ${Math.round(saved)} ms, resumed in ${Math.round(loaded)} ms`,
        );
      } finally {
        await reader.close();
        await client().db(dbName).dropDatabase();
      }
    }, 240_000);

    it("reads a save cut short as the old transcript or a prefix of either; the next one ends it", async () => {
      const dbName = newDb();
      const db = client().db(dbName);
      const faults: Faults = {};
      const store = new MongoPersistence(faulty(db, faults));
      await store.ensureIndexes();
      const s = newId("ses");
      const m = (text: string) => JSON.stringify(user(text));
      const [a, b, c, d, e, x, y] = ["a", "b", "c", "d", "e", "x", "y"].map(m) as string[];
      const old = [a!, b!, c!, d!, e!];
      await store.saveTranscript(s, { from: 0, entries: old });
      const change = { from: 1, entries: [x!, y!] };
      const next = [a!, x!, y!];

      // The new entries only partly written: x over b, and d, e still there.
      faults.insertMany = async (target, docs: Document[], options: Document) => {
        await target.insertMany(docs.slice(0, 1), options);
        throw new Error("injected: cut short after one write");
      };
      await expect(store.saveTranscript(s, change)).rejects.toThrow("injected");
      expect(await store.loadTranscript(s)).toEqual([a, x]);
      delete faults.insertMany;

      // Written, but the old tail not removed.
      faults.deleteMany = async (target, filter: Document) => {
        if ("index" in filter) throw new Error("injected: no delete");
        return target.deleteMany(filter);
      };
      await expect(store.saveTranscript(s, change)).rejects.toThrow("injected");
      expect(await store.loadTranscript(s)).toEqual(next);
      delete faults.deleteMany;
      await store.saveTranscript(s, change);
      expect(await store.loadTranscript(s)).toEqual(next);
      expect(await db.collection("ar_transcripts").countDocuments({ sessionId: s })).toBe(3);

      // Cut to its first entry, the tail removed from its end first: the old transcript's
      // prefixes, never shorter than the entries kept.
      faults.deleteMany = async (target, filter: Document) => {
        await target.deleteMany({ ...filter, index: { $gte: 2 } });
        throw new Error("injected: cut short while deleting");
      };
      await expect(store.saveTranscript(s, { from: 1, entries: [] })).rejects.toThrow("injected");
      expect(await store.loadTranscript(s)).toEqual([a, x]);
      delete faults.deleteMany;
      await store.saveTranscript(s, { from: 1, entries: [] });
      expect(await store.loadTranscript(s)).toEqual([a]);

      // Appended, the later entries stored and the first not (writes may land in any order):
      // a gap, so the old transcript.
      const appended = [m("p"), m("q"), m("r")];
      faults.insertMany = async (target, docs: Document[], options: Document) => {
        await target.insertMany(docs.slice(1), options);
        throw new Error("injected: the first insert lost");
      };
      await expect(store.saveTranscript(s, { from: 1, entries: appended })).rejects.toThrow(
        "injected",
      );
      expect(await store.loadTranscript(s)).toEqual([a]);
      delete faults.insertMany;
      await store.saveTranscript(s, { from: 1, entries: appended });
      expect(await store.loadTranscript(s)).toEqual([a, ...appended]);
      await store.saveTranscript(s, { from: 1, entries: [] });

      // An entry in pieces, rewritten and cut short after its first piece.
      const big = (fill: string) => m(fill.repeat(9_000_000));
      await store.saveTranscript(s, { from: 1, entries: [big("p")] });
      faults.insertMany = async (target, docs: Document[], options: Document) => {
        await target.insertMany(docs.slice(0, 1), options);
        throw new Error("injected: cut short after one piece");
      };
      await expect(store.saveTranscript(s, { from: 1, entries: [big("q")] })).rejects.toThrow(
        "injected",
      );
      expect(await store.loadTranscript(s)).toEqual([a]);
      delete faults.insertMany;
      await store.saveTranscript(s, { from: 1, entries: [big("q")] });
      const loaded = await store.loadTranscript(s);
      expect(loaded.length === 2 && loaded[1] === big("q")).toBe(true);

      // Inserted, but the answer lost: tried again, the pieces are found stored and written again.
      let lost = true;
      faults.insertMany = async (target, docs: Document[], options: Document) => {
        const result = await target.insertMany(docs, options);
        if (!lost) return result;
        lost = false;
        throw new MongoNetworkError("injected: connection lost");
      };
      await store.saveTranscript(s, { from: 2, entries: [m("after")] });
      expect(lost).toBe(false);
      delete faults.insertMany;
      const after = await store.loadTranscript(s);
      expect(after.length === 3 && after[1] === big("q") && after[2] === m("after")).toBe(true);
      await db.dropDatabase();
    }, 120_000);

    it("reads transcripts of earlier versions, and the next save stores them as entries", async () => {
      const dbName = newDb();
      const db = client().db(dbName);
      const legacy = db.collection<{ _id: string; transcript: string; updateTime: Date }>(
        "ar_transcripts",
      );
      const [s, t, empty, broken] = [newId("ses"), newId("ses"), newId("ses"), newId("ses")];
      const conversation = [user("hello"), assistant("hi ✓"), user("more")];
      const updateTime = new Date();
      // Stored before the entries' index exists: creating it must not trip over these.
      await legacy.insertMany([
        { _id: s, transcript: JSON.stringify(conversation), updateTime },
        { _id: t, transcript: JSON.stringify([user("other")]), updateTime },
        { _id: empty, transcript: "[]", updateTime },
        { _id: broken, transcript: "{not json", updateTime },
      ]);
      const faults: Faults = {};
      const store = new MongoPersistence(faulty(db, faults));
      await store.ensureIndexes();

      const transcripts = new Transcripts(store);
      const messages = await transcripts.get(s);
      expect(messages).toEqual(conversation);
      expect(await store.loadTranscript(empty)).toEqual([]);
      await expect(store.loadTranscript(broken)).rejects.toThrow("not a JSON array");

      // A conversion cut short still reads as the earlier version's transcript.
      messages.push(assistant("answer"));
      faults.insertMany = async (target, docs: Document[], options: Document) => {
        await target.insertMany(docs.slice(0, 2), options);
        throw new Error("injected: cut short");
      };
      await expect(transcripts.save(s, messages)).rejects.toThrow("injected");
      expect(await store.loadTranscript(s)).toEqual(json(conversation));
      delete faults.insertMany;

      await transcripts.save(s, messages);
      expect(await legacy.findOne({ _id: s })).toBeNull();
      expect(await db.collection("ar_transcripts").countDocuments({ sessionId: s })).toBe(4);
      expect(await new Transcripts(store).get(s)).toEqual(messages);
      // Continued as entries from then on.
      messages.push(user("again"));
      await transcripts.save(s, messages);
      expect(await new Transcripts(store).get(s)).toEqual(messages);

      // Replaced whole (compaction) before any entry was stored.
      await store.saveTranscript(t, { from: 0, entries: json([user("summary")]) });
      expect(await store.loadTranscript(t)).toEqual(json([user("summary")]));
      expect(await legacy.findOne({ _id: t })).toBeNull();

      // deleteSession removes an earlier version's transcript too.
      await store.deleteSession(broken);
      expect(await store.loadTranscript(broken)).toEqual([]);
      await db.dropDatabase();
    }, 120_000);
  });
}
