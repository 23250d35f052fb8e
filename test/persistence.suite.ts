// One behaviour suite for every PersistenceAdapter, so the adapters cannot drift apart.
// test/persistence.test.ts runs it against each implementation.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newId } from "../src/domain/ids.js";
import {
  type AgentProfile,
  type Block,
  emptyUsage,
  type FileInfo,
  type SessionEvent,
  type SessionRecord,
  type Turn,
} from "../src/domain/types.js";
import type { PersistenceAdapter, SessionCursor, StoredFile } from "../src/ports/persistence.js";
import { coordinationSuite } from "./persistence-coordination.suite.js";
import { decisionLogSuite } from "./persistence-decisions.suite.js";

export interface PersistenceSuiteTarget {
  /** A fresh, empty adapter; called before every test. */
  create(): Promise<PersistenceAdapter>;
  /** Called after every test with the adapter create() gave (default: close()). */
  cleanup?(adapter: PersistenceAdapter): Promise<void>;
}

// --- builders ---

const BASE_TIME = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

function at(offsetMs: number): Date {
  return new Date(BASE_TIME + offsetMs);
}

function allBytes(): Uint8Array {
  return Uint8Array.from({ length: 256 }, (_, i) => i);
}

/** Metadata keys MongoDB field names cannot hold as they are. */
function awkwardMap(): Record<string, string> {
  const map: Record<string, string> = {
    "a.b": "dotted",
    $dollar: "dollar",
    "with space": "",
    "ünïcødé ✓": "ß😀",
    empty: "",
  };
  Object.defineProperty(map, "__proto__", {
    value: "proto",
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return map;
}

function makeTurn(overrides: Partial<Turn> = {}): Turn {
  return {
    id: newId("trn"),
    userBlockId: newId("blk"),
    startTime: at(1_000),
    usage: { ...emptyUsage(), inputTokens: 12, costMicroUsd: 123 },
    ...overrides,
  };
}

function makeSession(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: newId("ses"),
    tenantId: "tenant-a",
    agentProfileId: "prf_default",
    name: "a session",
    metadata: { team: "core" },
    options: { model: "claude-sonnet-5-5" },
    state: "idle",
    usage: emptyUsage(),
    lastSequence: 0,
    queuedMessages: [],
    createTime: at(0),
    updateTime: at(0),
    lastActivityTime: at(0),
    ...overrides,
  };
}

/** A session with every optional field set and every kind of value in it. */
function makeFullSession(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return makeSession({
    name: "full ✓",
    metadata: awkwardMap(),
    state: "running",
    usage: {
      inputTokens: 1_000_000,
      outputTokens: 7,
      cacheReadInputTokens: 3,
      cacheCreationInputTokens: 4,
      costMicroUsd: 12_345_679,
    },
    lastSequence: 2 ** 40 + 1,
    currentTurn: makeTurn({ outcome: "interrupted", endTime: at(2_000), startSequence: 41 }),
    queuedMessages: [
      {
        turnId: newId("trn"),
        text: "next, please",
        attachments: [{ name: "all.bin", mediaType: "application/octet-stream", data: allBytes() }],
        enqueueTime: at(3_000),
      },
      { turnId: newId("trn"), text: "", attachments: [], enqueueTime: at(3_001) },
    ],
    sandbox: { provider: "local", sandboxId: "sbx_123" },
    createTime: at(10),
    updateTime: at(20),
    lastActivityTime: at(30),
    requestId: "req-full",
    ...overrides,
  });
}

function makeProfile(overrides: Partial<AgentProfile> = {}): AgentProfile {
  return {
    id: newId("prf"),
    tenantId: "tenant-a",
    name: "coder",
    description: "writes code",
    systemPrompt: "You are helpful.",
    modelProvider: "anthropic",
    model: "claude-sonnet-5-5",
    tools: ["bash", "read_file"],
    maxTurns: 25,
    subagents: [
      {
        name: "reviewer",
        description: "reviews",
        prompt: "Review it.",
        tools: ["read_file"],
        model: "",
      },
    ],
    defaultFiles: [
      { path: "README.md", content: new TextEncoder().encode("# hi\n") },
      { path: ".hidden/all.bin", content: allBytes() },
    ],
    sandbox: {
      provider: "local",
      networkAllowed: false,
      env: { PATH_EXTRA: "/opt/bin", EMPTY: "" },
      image: "",
      cpu: 1.5,
      memoryMib: 2048,
      providerOptions: awkwardMap(),
    },
    thinking: { enabled: true, budgetTokens: 4096 },
    maxOutputTokens: 8192,
    createTime: at(0),
    updateTime: at(0),
    ...overrides,
  };
}

function makeBlock(overrides: Partial<Block> = {}): Block {
  return {
    id: newId("blk"),
    turnId: "trn_1",
    createTime: at(5),
    sequence: 1,
    content: { type: "assistant_text", text: "hello" },
    ...overrides,
  };
}

function makeEvent(sessionId: string, sequence: number): SessionEvent {
  return {
    sessionId,
    sequence,
    time: at(sequence),
    turnId: "trn_1",
    payload: {
      type: "block_delta",
      blockId: "blk_1",
      delta: { kind: "text", value: `#${sequence}` },
    },
  };
}

function fileOf(path: string, content: Uint8Array, modifyTime = at(100)): StoredFile {
  return { info: { path, size: content.length, sha256: `sha-of-${path}`, modifyTime }, content };
}

function isPlainUint8Array(value: unknown): boolean {
  return value instanceof Uint8Array && Object.getPrototypeOf(value) === Uint8Array.prototype;
}

function ids(items: { id: string }[]): string[] {
  return items.map((i) => i.id);
}

/** Newest activity first, then id descending: the order listSessions promises. */
function sessionOrder(a: SessionRecord, b: SessionRecord): number {
  const byTime = b.lastActivityTime.getTime() - a.lastActivityTime.getTime();
  return byTime !== 0 ? byTime : a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

// --- the suite ---

export function persistenceSuite(name: string, target: PersistenceSuiteTarget): void {
  describe(`PersistenceAdapter: ${name}`, () => {
    let store: PersistenceAdapter;

    beforeEach(async () => {
      store = await target.create();
    });

    afterEach(async () => {
      if (target.cleanup) await target.cleanup(store);
      else await store.close?.();
    });

    async function allPages(
      query: { tenantId: string; agentProfileId?: string; state?: "idle" | "running" },
      limit: number,
    ): Promise<{ pages: SessionRecord[][]; cursors: SessionCursor[] }> {
      const pages: SessionRecord[][] = [];
      const cursors: SessionCursor[] = [];
      let after: SessionCursor | undefined;
      for (let i = 0; i < 100; i++) {
        const page = await store.listSessions({ ...query, limit, ...(after ? { after } : {}) });
        pages.push(page.items);
        if (!page.next) return { pages, cursors };
        cursors.push(page.next);
        after = page.next;
      }
      throw new Error("listSessions never ended");
    }

    describe("sessions", () => {
      it("stores a session and loads it back exactly (dates, bytes, awkward keys, big numbers)", async () => {
        const session = makeFullSession();
        const created = await store.createSessionRecord(session);
        expect(created).toStrictEqual(session);
        const loaded = await store.loadSession(session.id);
        expect(loaded).toStrictEqual(session);
        expect(loaded!.createTime).toBeInstanceOf(Date);
        expect(loaded!.currentTurn!.startTime).toBeInstanceOf(Date);
        expect(loaded!.queuedMessages[0]!.enqueueTime).toBeInstanceOf(Date);
        const data = loaded!.queuedMessages[0]!.attachments[0]!.data;
        expect(isPlainUint8Array(data)).toBe(true);
        expect([...data]).toEqual([...allBytes()]);
        expect(Object.keys(loaded!.metadata).sort()).toEqual(Object.keys(awkwardMap()).sort());
        expect(Object.getPrototypeOf(loaded!.metadata)).toBe(Object.prototype);
      });

      it("keeps absent optional fields absent, also when passed as undefined", async () => {
        const session = makeSession();
        await store.createSessionRecord(session);
        const loaded = await store.loadSession(session.id);
        expect(loaded).toStrictEqual(session);
        for (const key of ["currentTurn", "sandbox", "requestId"]) {
          expect(Object.keys(loaded!)).not.toContain(key);
        }

        const withUndefined = {
          ...makeSession(),
          currentTurn: undefined,
          sandbox: undefined,
          requestId: undefined,
        } as unknown as SessionRecord;
        const created = await store.createSessionRecord(withUndefined);
        const reloaded = await store.loadSession(withUndefined.id);
        for (const record of [created, reloaded!]) {
          expect(Object.keys(record)).not.toContain("currentTurn");
          expect(Object.keys(record)).not.toContain("sandbox");
          expect(Object.keys(record)).not.toContain("requestId");
        }

        const turn = makeTurn();
        await store.createSessionRecord({ ...makeSession({ id: "ses_turn" }), currentTurn: turn });
        const withTurn = await store.loadSession("ses_turn");
        expect(Object.keys(withTurn!.currentTurn!)).not.toContain("outcome");
        expect(Object.keys(withTurn!.currentTurn!)).not.toContain("endTime");
        expect(Object.keys(withTurn!.currentTurn!)).not.toContain("startSequence");
      });

      it("returns unknown sessions as null and lists nothing for an empty store", async () => {
        expect(await store.loadSession("ses_missing")).toBeNull();
        expect(await store.listAllSessions()).toEqual([]);
        expect(await store.listSessions({ tenantId: "tenant-a", limit: 10 })).toStrictEqual({
          items: [],
        });
      });

      it("is not changed by mutating what was passed in or given back", async () => {
        const session = makeFullSession();
        const created = await store.createSessionRecord(session);
        session.name = "changed";
        session.metadata.team = "changed";
        session.queuedMessages[0]!.attachments[0]!.data[0] = 99;
        session.createTime.setTime(0);
        created.name = "changed too";
        created.usage.inputTokens = -1;
        const loaded = await store.loadSession(created.id);
        expect(loaded!.name).toBe("full ✓");
        expect(loaded!.metadata.team).toBeUndefined();
        expect(loaded!.queuedMessages[0]!.attachments[0]!.data[0]).toBe(0);
        expect(loaded!.createTime.getTime()).toBe(at(10).getTime());
        expect(loaded!.usage.inputTokens).toBe(1_000_000);
        loaded!.lastSequence = 5;
        expect((await store.loadSession(created.id))!.lastSequence).toBe(2 ** 40 + 1);
      });

      it("returns the stored session for a repeated create of the same record (a retry)", async () => {
        const session = makeFullSession({ requestId: undefined } as never);
        const { requestId: _, ...plain } = session;
        expect(await store.createSessionRecord(plain)).toStrictEqual(plain);
        expect(await store.createSessionRecord(structuredClone(plain))).toStrictEqual(plain);
        expect(await store.listAllSessions()).toStrictEqual([plain]);
      });

      it("rejects a second session with the same id and no request id", async () => {
        const session = makeSession();
        await store.createSessionRecord(session);
        await expect(store.createSessionRecord({ ...session, name: "other" })).rejects.toThrow();
        expect((await store.loadSession(session.id))!.name).toBe("a session");
      });

      it("applies partial updates and leaves the other fields alone", async () => {
        const { currentTurn: _, ...session } = makeFullSession();
        await store.createSessionRecord(session);
        const turn = makeTurn();
        const usage = { ...emptyUsage(), outputTokens: 42, costMicroUsd: 500_000 };
        await store.updateSessionRecord(session.id, {
          state: "running",
          currentTurn: turn,
          usage,
          lastSequence: 17,
          metadata: { "new.key": "v", $x: "y" },
          lastActivityTime: at(5_000),
        });
        expect(await store.loadSession(session.id)).toStrictEqual({
          ...session,
          state: "running",
          currentTurn: turn,
          usage,
          lastSequence: 17,
          metadata: { "new.key": "v", $x: "y" },
          lastActivityTime: at(5_000),
        });

        // Setting an optional field to undefined removes it; absent keys change nothing.
        await store.updateSessionRecord(session.id, { currentTurn: undefined, sandbox: undefined });
        const cleared = await store.loadSession(session.id);
        expect(Object.keys(cleared!)).not.toContain("currentTurn");
        expect(Object.keys(cleared!)).not.toContain("sandbox");
        expect(cleared!.state).toBe("running");
        expect(cleared!.requestId).toBe("req-full");

        await store.updateSessionRecord(session.id, {});
        expect(await store.loadSession(session.id)).toStrictEqual(cleared);
      });

      it("does not let an update change id or tenantId", async () => {
        const session = makeSession();
        await store.createSessionRecord(session);
        const sneaky = { id: "ses_other", tenantId: "tenant-z", name: "renamed" } as never;
        await store.updateSessionRecord(session.id, sneaky);
        const loaded = await store.loadSession(session.id);
        expect(loaded!.id).toBe(session.id);
        expect(loaded!.tenantId).toBe("tenant-a");
        expect(loaded!.name).toBe("renamed");
        expect(await store.loadSession("ses_other")).toBeNull();
      });

      it("ignores updates of an unknown session", async () => {
        await store.updateSessionRecord("ses_missing", { name: "x", state: "running" });
        expect(await store.loadSession("ses_missing")).toBeNull();
        expect(await store.listAllSessions()).toEqual([]);
      });

      it("lists all sessions, optionally by state", async () => {
        const idle = makeSession({ state: "idle" });
        const running = makeSession({ state: "running", tenantId: "tenant-b" });
        await store.createSessionRecord(idle);
        await store.createSessionRecord(running);
        expect(ids(await store.listAllSessions()).sort()).toEqual([idle.id, running.id].sort());
        expect(await store.listAllSessions({ state: "running" })).toStrictEqual([running]);
        expect(await store.listAllSessions({ state: "idle" })).toStrictEqual([idle]);
        expect(await store.listAllSessions({})).toHaveLength(2);
      });
    });

    describe("idempotent session creation", () => {
      it("returns the first session for a repeated (tenant, requestId) and stores nothing new", async () => {
        const first = makeSession({ requestId: "req-1", name: "first" });
        const retry = makeSession({ requestId: "req-1", name: "retry" });
        expect(await store.createSessionRecord(first)).toStrictEqual(first);
        expect(await store.createSessionRecord(retry)).toStrictEqual(first);
        expect(await store.loadSession(retry.id)).toBeNull();
        expect(ids(await store.listAllSessions())).toEqual([first.id]);
      });

      it("keeps request ids of different tenants apart", async () => {
        const a = makeSession({ tenantId: "tenant-a", requestId: "same" });
        const b = makeSession({ tenantId: "tenant-b", requestId: "same" });
        expect((await store.createSessionRecord(a)).id).toBe(a.id);
        expect((await store.createSessionRecord(b)).id).toBe(b.id);
        expect(ids(await store.listAllSessions()).sort()).toEqual([a.id, b.id].sort());
      });

      it("creates every session that has no request id", async () => {
        const a = makeSession();
        const b = makeSession();
        await store.createSessionRecord(a);
        await store.createSessionRecord(b);
        expect(await store.listAllSessions()).toHaveLength(2);
      });

      it("gives one record to concurrent creates with the same request id", async () => {
        const attempts = Array.from({ length: 8 }, (_, i) =>
          makeSession({ requestId: "req-race", name: `attempt ${i}` }),
        );
        const results = await Promise.all(attempts.map((s) => store.createSessionRecord(s)));
        const winners = new Set(results.map((r) => r.id));
        expect(winners.size).toBe(1);
        const all = await store.listAllSessions();
        expect(all).toHaveLength(1);
        expect(all[0]).toStrictEqual(results[0]);
      });
    });

    describe("listSessions", () => {
      async function seed(): Promise<SessionRecord[]> {
        // Ties in lastActivityTime on purpose: the id breaks them.
        const offsets = [50, 10, 30, 30, 30, 70, 10, 0, 90, 30, 60];
        const sessions = offsets.map((offset, i) =>
          makeSession({
            lastActivityTime: at(offset),
            agentProfileId: i % 3 === 0 ? "prf_x" : "prf_y",
            state: i % 2 === 0 ? "idle" : "running",
          }),
        );
        for (const s of sessions) await store.createSessionRecord(s);
        // Another tenant's sessions must never show up.
        for (const offset of [40, 100]) {
          await store.createSessionRecord(
            makeSession({ tenantId: "tenant-b", lastActivityTime: at(offset) }),
          );
        }
        return sessions;
      }

      it("orders by last activity (newest first), then id descending", async () => {
        const sessions = await seed();
        const page = await store.listSessions({ tenantId: "tenant-a", limit: 100 });
        expect(ids(page.items)).toEqual(ids([...sessions].sort(sessionOrder)));
        expect(page.next).toBeUndefined();
        expect(Object.keys(page)).not.toContain("next");
        expect(page.items[0]).toStrictEqual([...sessions].sort(sessionOrder)[0]);
      });

      for (const limit of [1, 2, 3, 4, 5, 11]) {
        it(`pages through every session with limit ${limit}, without duplicates or gaps`, async () => {
          const sessions = await seed();
          const expected = ids([...sessions].sort(sessionOrder));
          const { pages, cursors } = await allPages({ tenantId: "tenant-a" }, limit);
          expect(pages.flat().map((s) => s.id)).toEqual(expected);
          expect(pages).toHaveLength(Math.ceil(expected.length / limit));
          for (const page of pages.slice(0, -1)) expect(page).toHaveLength(limit);
          // Each cursor is the last item of its page.
          cursors.forEach((cursor, i) => {
            const last = pages[i]![pages[i]!.length - 1]!;
            expect(cursor).toStrictEqual({ lastActivityTime: last.lastActivityTime, id: last.id });
            expect(cursor.lastActivityTime).toBeInstanceOf(Date);
          });
        });
      }

      it("filters by agent profile and state, also across pages", async () => {
        const sessions = await seed();
        const cases: { agentProfileId?: string; state?: "idle" | "running" }[] = [
          { agentProfileId: "prf_x" },
          { state: "running" },
          { agentProfileId: "prf_y", state: "idle" },
          { agentProfileId: "prf_none" },
        ];
        for (const filter of cases) {
          const expected = ids(
            sessions
              .filter(
                (s) =>
                  (filter.agentProfileId === undefined ||
                    s.agentProfileId === filter.agentProfileId) &&
                  (filter.state === undefined || s.state === filter.state),
              )
              .sort(sessionOrder),
          );
          const { pages } = await allPages({ tenantId: "tenant-a", ...filter }, 2);
          expect(pages.flat().map((s) => s.id)).toEqual(expected);
        }
      });

      it("separates tenants", async () => {
        await seed();
        const { pages } = await allPages({ tenantId: "tenant-b" }, 1);
        expect(pages.flat().map((s) => s.tenantId)).toEqual(["tenant-b", "tenant-b"]);
        expect(await store.listSessions({ tenantId: "tenant-none", limit: 5 })).toStrictEqual({
          items: [],
        });
      });

      it("continues after a cursor whose session is gone or that was never stored", async () => {
        const sessions = await seed();
        const sorted = [...sessions].sort(sessionOrder);
        const first = await store.listSessions({ tenantId: "tenant-a", limit: 3 });
        await store.deleteSession(sorted[2]!.id);
        const second = await store.listSessions({
          tenantId: "tenant-a",
          limit: 100,
          after: first.next!,
        });
        expect(ids(second.items)).toEqual(ids(sorted.slice(3)));

        // A cursor between two stored sessions of the same time: it starts at the older one.
        const tied = sorted.filter((s) => s.lastActivityTime.getTime() === at(30).getTime());
        expect(tied.length).toBeGreaterThan(2);
        const page = await store.listSessions({
          tenantId: "tenant-a",
          limit: 100,
          after: { lastActivityTime: at(30), id: `${tied[1]!.id}0` },
        });
        expect(ids(page.items)).toEqual(ids(sorted.slice(sorted.indexOf(tied[1]!))));
      });

      it("neither repeats nor skips old sessions when newer ones arrive between pages", async () => {
        const sessions = await seed();
        const expected = ids([...sessions].sort(sessionOrder));
        const first = await store.listSessions({ tenantId: "tenant-a", limit: 4 });
        await store.createSessionRecord(makeSession({ lastActivityTime: at(1_000) }));
        const seen = ids(first.items);
        let after = first.next;
        while (after) {
          const page = await store.listSessions({ tenantId: "tenant-a", limit: 4, after });
          seen.push(...ids(page.items));
          after = page.next;
        }
        expect(seen).toEqual(expected);
      });
    });

    decisionLogSuite(() => store);
    coordinationSuite(() => store);

    describe("deleteSession", () => {
      it("removes the session with its files, blocks, events and transcript, and nothing else", async () => {
        const doomed = makeSession();
        const kept = makeSession();
        for (const s of [doomed, kept]) {
          await store.createSessionRecord(s);
          await store.saveTranscript(s.id, { from: 0, entries: [`{"for":"${s.id}"}`, "[2]"] });
          await store.saveWorkspaceFile(s.id, fileOf("a.txt", allBytes()));
          await store.saveWorkspaceFile(s.id, fileOf("dir/b.txt", new Uint8Array([1])));
          await store.appendEvents(s.id, [makeEvent(s.id, 1), makeEvent(s.id, 2)]);
          await store.saveBlock(s.id, makeBlock({ sequence: 1 }));
        }
        await store.deleteSession(doomed.id);

        expect(await store.loadSession(doomed.id)).toBeNull();
        expect(await store.loadTranscript(doomed.id)).toEqual([]);
        expect(await store.listWorkspaceFiles(doomed.id)).toEqual([]);
        expect(await store.readWorkspaceFile(doomed.id, "a.txt")).toBeNull();
        expect(await store.readEvents(doomed.id, 0, 100)).toEqual([]);
        expect(await store.listBlocks(doomed.id, 0, 100)).toEqual([]);
        expect(ids(await store.listAllSessions())).toEqual([kept.id]);

        expect(await store.loadSession(kept.id)).toStrictEqual(kept);
        expect(await store.loadTranscript(kept.id)).toEqual([`{"for":"${kept.id}"}`, "[2]"]);
        expect(await store.listWorkspaceFiles(kept.id)).toHaveLength(2);
        expect(await store.readEvents(kept.id, 0, 100)).toHaveLength(2);
        expect(await store.listBlocks(kept.id, 0, 100)).toHaveLength(1);

        // The sequence space of a deleted session is free again, and so is its transcript.
        await store.appendEvents(doomed.id, [makeEvent(doomed.id, 1)]);
        expect(await store.readEvents(doomed.id, 0, 10)).toHaveLength(1);
        await store.saveTranscript(doomed.id, { from: 0, entries: ["[1]"] });
        expect(await store.loadTranscript(doomed.id)).toEqual(["[1]"]);
      });

      it("is a no-op for an unknown session and can be repeated", async () => {
        const s = makeSession();
        await store.createSessionRecord(s);
        await store.deleteSession("ses_missing");
        await store.deleteSession(s.id);
        await store.deleteSession(s.id);
        expect(await store.listAllSessions()).toEqual([]);
      });

      it("frees the request id of the deleted session for its tenant", async () => {
        const s = makeSession({ requestId: "req-del" });
        await store.createSessionRecord(s);
        await store.deleteSession(s.id);
        const again = makeSession({ requestId: "req-del" });
        expect((await store.createSessionRecord(again)).id).toBe(again.id);
      });
    });

    describe("transcripts", () => {
      /** An entry as the runtime writes one: a message's JSON. */
      const msg = (text: string) =>
        JSON.stringify({ role: "user", content: [{ type: "text", text }] });

      it("stores entries in order and loads them back; none is []", async () => {
        const s = makeSession();
        expect(await store.loadTranscript(s.id)).toEqual([]);
        const entries = ["a", "b ✓", 'c "quoted"\n', "😀"].map(msg);
        await store.saveTranscript(s.id, { from: 0, entries });
        expect(await store.loadTranscript(s.id)).toEqual(entries);
        expect(await store.loadTranscript("ses_missing")).toEqual([]);
        // Many entries, in order.
        const many = Array.from({ length: 300 }, (_, i) => msg(`m${i}`));
        await store.saveTranscript(s.id, { from: 0, entries: many });
        expect(await store.loadTranscript(s.id)).toEqual(many);
      });

      it("appends, replaces the tail, shrinks and clears", async () => {
        const s = makeSession();
        const [a, b, c, d, x, y] = [msg("a"), msg("b"), msg("c"), msg("d"), msg("x"), msg("y")];
        await store.saveTranscript(s.id, { from: 0, entries: [a, b] });
        await store.saveTranscript(s.id, { from: 2, entries: [c, d] });
        expect(await store.loadTranscript(s.id)).toEqual([a, b, c, d]);
        // Replacing from the middle drops everything after the new entries.
        await store.saveTranscript(s.id, { from: 1, entries: [x] });
        expect(await store.loadTranscript(s.id)).toEqual([a, x]);
        await store.saveTranscript(s.id, { from: 1, entries: [x, y, c] });
        expect(await store.loadTranscript(s.id)).toEqual([a, x, y, c]);
        // Cutting to a prefix, with nothing new.
        await store.saveTranscript(s.id, { from: 2, entries: [] });
        expect(await store.loadTranscript(s.id)).toEqual([a, x]);
        // Replaced by a shorter conversation from the start (compaction).
        await store.saveTranscript(s.id, { from: 0, entries: [d] });
        expect(await store.loadTranscript(s.id)).toEqual([d]);
        await store.saveTranscript(s.id, { from: 0, entries: [] });
        expect(await store.loadTranscript(s.id)).toEqual([]);
        await store.saveTranscript(s.id, { from: 0, entries: [b] });
        expect(await store.loadTranscript(s.id)).toEqual([b]);
      });

      it("stores the same when a change is applied again (a retry)", async () => {
        const s = makeSession();
        const first = ["1", "2", "3", "4"].map(msg);
        await store.saveTranscript(s.id, { from: 0, entries: first });
        const change = { from: 1, entries: ["x", "y"].map(msg) };
        await store.saveTranscript(s.id, change);
        await store.saveTranscript(s.id, change);
        expect(await store.loadTranscript(s.id)).toEqual([first[0], ...change.entries]);
        // Concurrent copies of one change (a retry racing a lost attempt).
        const again = { from: 3, entries: ["z"].map(msg) };
        await Promise.all([store.saveTranscript(s.id, again), store.saveTranscript(s.id, again)]);
        expect(await store.loadTranscript(s.id)).toEqual([first[0], ...change.entries, msg("z")]);
      });

      it("rejects a change from past the end and keeps what is stored", async () => {
        const s = makeSession();
        const entries = ["a", "b"].map(msg);
        await expect(
          store.saveTranscript(s.id, { from: 1, entries: [msg("x")] }),
        ).rejects.toThrow();
        await store.saveTranscript(s.id, { from: 0, entries });
        await expect(
          store.saveTranscript(s.id, { from: 3, entries: [msg("x")] }),
        ).rejects.toThrow();
        await expect(store.saveTranscript(s.id, { from: -1, entries: [] })).rejects.toThrow();
        expect(await store.loadTranscript(s.id)).toEqual(entries);
      });

      it("keeps sessions' transcripts apart", async () => {
        const [s, t] = [makeSession(), makeSession()];
        await store.saveTranscript(s.id, { from: 0, entries: ["s1", "s2"].map(msg) });
        await store.saveTranscript(t.id, { from: 0, entries: ["t1"].map(msg) });
        await store.saveTranscript(s.id, { from: 1, entries: [] });
        expect(await store.loadTranscript(s.id)).toEqual(["s1"].map(msg));
        expect(await store.loadTranscript(t.id)).toEqual(["t1"].map(msg));
      });

      it("stores an entry larger than a MongoDB document holds, byte for byte", async () => {
        const s = makeSession();
        // 17 MB of JSON, with characters of 1 to 4 UTF-8 bytes and escapes, so that pieces are
        // cut next to (never inside) every kind of character.
        let text = "";
        for (let i = 0; text.length < 12_000_000; i++) text += `${i} ab✓ü😀"\n\t `;
        const big = msg(text);
        expect(Buffer.byteLength(big)).toBeGreaterThan(17_000_000);
        const small = msg("small");
        await store.saveTranscript(s.id, { from: 0, entries: [small, big, small] });
        const loaded = await store.loadTranscript(s.id);
        expect(loaded).toHaveLength(3);
        expect(loaded[1] === big).toBe(true); // not toEqual: its diff of 17 MB would not end
        expect(loaded[2]).toBe(small);
        // Replaced by a small entry, then by a large one again.
        await store.saveTranscript(s.id, { from: 1, entries: [small] });
        expect(await store.loadTranscript(s.id)).toEqual([small, small]);
        const other = msg(`${text.slice(0, 4_000_000)}✓`); // fewer pieces than before
        await store.saveTranscript(s.id, { from: 1, entries: [other] });
        const again = await store.loadTranscript(s.id);
        expect(again).toHaveLength(2);
        expect(again[1] === other).toBe(true);
      }, 60_000);
    });

    describe("tenant usage", () => {
      it("adds usage per tenant and month, returning the month's total", async () => {
        const tenant = `tenant-u-${Math.random().toString(36).slice(2)}`;
        const step = {
          inputTokens: 100,
          outputTokens: 20,
          cacheReadInputTokens: 5,
          cacheCreationInputTokens: 1,
          costMicroUsd: 300,
        };
        expect(await store.tenantUsage(tenant, "2026-11")).toMatchObject({ costMicroUsd: 0 });
        expect(await store.addTenantUsage(tenant, "2026-11", "ses_a", step)).toEqual(step);
        const total = await store.addTenantUsage(tenant, "2026-11", "ses_b", {
          ...step,
          webSearchRequests: 2,
        });
        expect(total).toEqual({
          inputTokens: 200,
          outputTokens: 40,
          cacheReadInputTokens: 10,
          cacheCreationInputTokens: 2,
          costMicroUsd: 600,
          webSearchRequests: 2,
        });
        expect(await store.tenantUsage(tenant, "2026-11")).toEqual(total);
        // Another month, another tenant: counted apart.
        expect((await store.tenantUsage(tenant, "2026-12")).costMicroUsd).toBe(0);
        expect((await store.tenantUsage(`${tenant}-x`, "2026-11")).costMicroUsd).toBe(0);
        // Concurrent sessions' increments all count.
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.addTenantUsage(tenant, "2027-01", `ses_${i}`, step),
          ),
        );
        expect((await store.tenantUsage(tenant, "2027-01")).costMicroUsd).toBe(3_000);
      });
    });

    describe("workspace usage", () => {
      it("counts a session's files and sums their sizes as files come and go", async () => {
        const a = makeSession();
        const b = makeSession();
        expect(await store.workspaceUsage(a.id)).toStrictEqual({ files: 0, bytes: 0 });
        await store.saveWorkspaceFile(a.id, fileOf("x.bin", allBytes()));
        await store.saveWorkspaceFile(a.id, fileOf("dir/y.txt", new Uint8Array(10)));
        await store.saveWorkspaceFile(a.id, fileOf("empty", new Uint8Array(0)));
        await store.saveWorkspaceFile(b.id, fileOf("x.bin", new Uint8Array(7)));
        expect(await store.workspaceUsage(a.id)).toStrictEqual({ files: 3, bytes: 266 });
        expect(await store.workspaceUsage(b.id)).toStrictEqual({ files: 1, bytes: 7 });

        // A replaced file counts once, with its new size.
        await store.saveWorkspaceFile(a.id, fileOf("x.bin", new Uint8Array(1_000)));
        expect(await store.workspaceUsage(a.id)).toStrictEqual({ files: 3, bytes: 1_010 });
        await store.deleteSessionFile(a.id, "dir/y.txt");
        expect(await store.workspaceUsage(a.id)).toStrictEqual({ files: 2, bytes: 1_000 });

        await store.deleteSession(a.id);
        expect(await store.workspaceUsage(a.id)).toStrictEqual({ files: 0, bytes: 0 });
        expect(await store.workspaceUsage(b.id)).toStrictEqual({ files: 1, bytes: 7 });
      });

      it("sums sizes beyond 32 bits", async () => {
        const s = makeSession();
        const huge = (path: string): StoredFile => ({
          info: { path, size: 3 * 2 ** 30, sha256: "h", modifyTime: at(1) },
          content: new Uint8Array(1),
        });
        await store.saveWorkspaceFile(s.id, huge("a"));
        await store.saveWorkspaceFile(s.id, huge("b"));
        expect(await store.workspaceUsage(s.id)).toStrictEqual({ files: 2, bytes: 6 * 2 ** 30 });
      });
    });

    describe("workspace files", () => {
      it("stores binary content byte for byte, with its info", async () => {
        const s = makeSession();
        const file = fileOf("bin/all-bytes.bin", allBytes(), at(777));
        await store.saveWorkspaceFile(s.id, file);
        const read = await store.readWorkspaceFile(s.id, "bin/all-bytes.bin");
        expect(read).toStrictEqual(file);
        expect(isPlainUint8Array(read!.content)).toBe(true);
        expect(read!.content.byteLength).toBe(256);
        for (let i = 0; i < 256; i++) expect(read!.content[i]).toBe(i);
        expect(read!.info.modifyTime).toBeInstanceOf(Date);
      });

      it("stores empty and large files", async () => {
        const s = makeSession();
        const large = new Uint8Array(3 * 1024 * 1024 + 7);
        for (let i = 0; i < large.length; i++) large[i] = (i * 7919) % 256;
        await store.saveWorkspaceFile(s.id, fileOf("empty", new Uint8Array(0)));
        await store.saveWorkspaceFile(s.id, fileOf("large.bin", large));
        const empty = await store.readWorkspaceFile(s.id, "empty");
        expect(empty!.content.byteLength).toBe(0);
        expect(isPlainUint8Array(empty!.content)).toBe(true);
        const readLarge = await store.readWorkspaceFile(s.id, "large.bin");
        expect(Buffer.from(readLarge!.content).equals(Buffer.from(large))).toBe(true);
      });

      it("handles nested, hidden and unusual paths, listed sorted by path without content", async () => {
        const s = makeSession();
        const paths = [
          "src/main.ts",
          ".env",
          "a/b/c/d/e.txt",
          ".config/tool/settings.json",
          "README.md",
          "a.b/$weird name ✓.txt",
          "src/.hidden",
          "Z-upper",
        ];
        for (const [i, path] of paths.entries()) {
          await store.saveWorkspaceFile(s.id, fileOf(path, new Uint8Array([i]), at(i)));
        }
        const listed = await store.listWorkspaceFiles(s.id);
        const sorted = [...paths].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        expect(listed.map((f) => f.path)).toEqual(sorted);
        for (const info of listed) {
          const i = paths.indexOf(info.path);
          expect(info).toStrictEqual({
            path: info.path,
            size: 1,
            sha256: `sha-of-${info.path}`,
            modifyTime: at(i),
          } satisfies FileInfo);
        }
        for (const [i, path] of paths.entries()) {
          expect([...(await store.readWorkspaceFile(s.id, path))!.content]).toEqual([i]);
        }
      });

      it("replaces a file saved again under the same path", async () => {
        const s = makeSession();
        await store.saveWorkspaceFile(s.id, fileOf("f.txt", new Uint8Array([1, 2, 3]), at(1)));
        const replacement: StoredFile = {
          info: { path: "f.txt", size: 2, sha256: "new-sha", modifyTime: at(2) },
          content: new Uint8Array([9, 8]),
        };
        await store.saveWorkspaceFile(s.id, replacement);
        expect(await store.readWorkspaceFile(s.id, "f.txt")).toStrictEqual(replacement);
        expect(await store.listWorkspaceFiles(s.id)).toStrictEqual([replacement.info]);
      });

      it("deletes a file; deleting a missing file is a no-op", async () => {
        const s = makeSession();
        await store.saveWorkspaceFile(s.id, fileOf("keep.txt", new Uint8Array([1])));
        await store.saveWorkspaceFile(s.id, fileOf("drop.txt", new Uint8Array([2])));
        await store.deleteSessionFile(s.id, "drop.txt");
        await store.deleteSessionFile(s.id, "drop.txt");
        await store.deleteSessionFile(s.id, "never.txt");
        await store.deleteSessionFile("ses_missing", "keep.txt");
        expect(await store.readWorkspaceFile(s.id, "drop.txt")).toBeNull();
        expect((await store.listWorkspaceFiles(s.id)).map((f) => f.path)).toEqual(["keep.txt"]);
      });

      it("keeps sessions' files apart and returns nothing for unknowns", async () => {
        const a = makeSession();
        const b = makeSession();
        await store.saveWorkspaceFile(a.id, fileOf("same.txt", new Uint8Array([1])));
        await store.saveWorkspaceFile(b.id, fileOf("same.txt", new Uint8Array([2])));
        expect([...(await store.readWorkspaceFile(a.id, "same.txt"))!.content]).toEqual([1]);
        expect([...(await store.readWorkspaceFile(b.id, "same.txt"))!.content]).toEqual([2]);
        expect(await store.readWorkspaceFile(a.id, "other.txt")).toBeNull();
        expect(await store.readWorkspaceFile("ses_missing", "same.txt")).toBeNull();
        expect(await store.listWorkspaceFiles("ses_missing")).toEqual([]);
      });

      it("is not changed by mutating the content passed in or read back", async () => {
        const s = makeSession();
        const content = new Uint8Array([1, 2, 3]);
        await store.saveWorkspaceFile(s.id, fileOf("m.bin", content));
        content[0] = 42;
        const read = await store.readWorkspaceFile(s.id, "m.bin");
        read!.content[1] = 42;
        read!.info.size = 1_000;
        const again = await store.readWorkspaceFile(s.id, "m.bin");
        expect([...again!.content]).toEqual([1, 2, 3]);
        expect(again!.info.size).toBe(3);
      });

      it("takes concurrent saves of one path and keeps one of them", async () => {
        const s = makeSession();
        const versions = Array.from({ length: 6 }, (_, i) =>
          fileOf("race.txt", new Uint8Array([i])),
        );
        await Promise.all(versions.map((v) => store.saveWorkspaceFile(s.id, v)));
        const listed = await store.listWorkspaceFiles(s.id);
        expect(listed).toHaveLength(1);
        const read = await store.readWorkspaceFile(s.id, "race.txt");
        expect(read!.content).toHaveLength(1);
        expect(read!.content[0]).toBeLessThan(6);
      });
    });

    describe("agent profiles", () => {
      it("creates and loads a profile exactly (binary default files, awkward option keys)", async () => {
        const profile = makeProfile({ requestId: "req-p" });
        expect(await store.createAgentProfile(profile)).toStrictEqual(profile);
        const loaded = await store.loadAgentProfile(profile.id);
        expect(loaded).toStrictEqual(profile);
        expect(isPlainUint8Array(loaded!.defaultFiles[1]!.content)).toBe(true);
        expect([...loaded!.defaultFiles[1]!.content]).toEqual([...allBytes()]);
        expect(loaded!.createTime).toBeInstanceOf(Date);
      });

      it("keeps an absent requestId absent and returns unknown profiles as null", async () => {
        const profile = makeProfile();
        await store.createAgentProfile(profile);
        expect(Object.keys((await store.loadAgentProfile(profile.id))!)).not.toContain("requestId");
        expect(await store.loadAgentProfile("prf_missing")).toBeNull();
      });

      it("is idempotent by (tenant, requestId), also under concurrency", async () => {
        const first = makeProfile({ requestId: "req-1", name: "first" });
        await store.createAgentProfile(first);
        const retried = await store.createAgentProfile(makeProfile({ requestId: "req-1" }));
        expect(retried).toStrictEqual(first);
        const otherTenant = makeProfile({ requestId: "req-1", tenantId: "tenant-b" });
        expect((await store.createAgentProfile(otherTenant)).id).toBe(otherTenant.id);

        const racers = Array.from({ length: 6 }, () => makeProfile({ requestId: "req-race" }));
        const results = await Promise.all(racers.map((p) => store.createAgentProfile(p)));
        expect(new Set(results.map((r) => r.id)).size).toBe(1);

        const page = await store.listAgentProfiles({ tenantId: "tenant-a", limit: 100 });
        expect(page.items).toHaveLength(2);
      });

      it("returns the stored profile for a repeated create of the same record (a retry)", async () => {
        const profile = makeProfile();
        expect(await store.createAgentProfile(profile)).toStrictEqual(profile);
        expect(await store.createAgentProfile(structuredClone(profile))).toStrictEqual(profile);
        expect(
          (await store.listAgentProfiles({ tenantId: "tenant-a", limit: 10 })).items,
        ).toStrictEqual([profile]);
      });

      it("rejects a second profile with the same id and no request id", async () => {
        const profile = makeProfile();
        await store.createAgentProfile(profile);
        await expect(store.createAgentProfile({ ...profile, name: "other" })).rejects.toThrow();
        expect((await store.loadAgentProfile(profile.id))!.name).toBe("coder");
      });

      it("replaces a profile on update; updating an unknown profile stores nothing", async () => {
        const profile = makeProfile({ requestId: "req-u" });
        await store.createAgentProfile(profile);
        const updated: AgentProfile = {
          ...profile,
          name: "renamed",
          tools: [],
          subagents: [],
          defaultFiles: [{ path: "x", content: new Uint8Array([0, 255]) }],
          sandbox: { ...profile.sandbox, env: { ONLY: "1" }, providerOptions: {} },
          thinking: { enabled: false, budgetTokens: 0 },
          updateTime: at(9_000),
        };
        await store.updateAgentProfile(updated);
        expect(await store.loadAgentProfile(profile.id)).toStrictEqual(updated);

        const ghost = makeProfile();
        await store.updateAgentProfile(ghost);
        expect(await store.loadAgentProfile(ghost.id)).toBeNull();
        // The request id still leads to the (updated) profile.
        expect(await store.createAgentProfile(makeProfile({ requestId: "req-u" }))).toStrictEqual(
          updated,
        );
      });

      it("deletes a profile; deleting an unknown profile is a no-op", async () => {
        const profile = makeProfile();
        await store.createAgentProfile(profile);
        await store.deleteAgentProfile("prf_missing");
        await store.deleteAgentProfile(profile.id);
        await store.deleteAgentProfile(profile.id);
        expect(await store.loadAgentProfile(profile.id)).toBeNull();
        expect((await store.listAgentProfiles({ tenantId: "tenant-a", limit: 10 })).items).toEqual(
          [],
        );
      });

      it("lists a tenant's profiles oldest first, page by page", async () => {
        const created: AgentProfile[] = [];
        for (let i = 0; i < 7; i++) {
          // Created out of order: the id (creation time) decides the order, not insertion.
          const profile = makeProfile({ id: newId("prf", BASE_TIME + ((i * 3) % 7) * 1_000) });
          created.push(profile);
          await store.createAgentProfile(profile);
          await store.createAgentProfile(makeProfile({ tenantId: "tenant-b" }));
        }
        const expected = ids(created).sort();
        for (const limit of [1, 3, 7, 10]) {
          const seen: string[] = [];
          let afterId: string | undefined;
          let pages = 0;
          for (;;) {
            const page = await store.listAgentProfiles({
              tenantId: "tenant-a",
              limit,
              ...(afterId === undefined ? {} : { afterId }),
            });
            pages++;
            seen.push(...ids(page.items));
            if (page.next === undefined) {
              expect(Object.keys(page)).not.toContain("next");
              break;
            }
            expect(page.next).toBe(page.items[page.items.length - 1]!.id);
            afterId = page.next;
          }
          expect(seen).toEqual(expected);
          expect(pages).toBe(Math.max(1, Math.ceil(expected.length / limit)));
        }
        const page = await store.listAgentProfiles({ tenantId: "tenant-a", limit: 2 });
        expect(page.items[0]).toStrictEqual(created.find((p) => p.id === expected[0]));
        expect(
          (
            await store.listAgentProfiles({
              tenantId: "tenant-a",
              limit: 10,
              afterId: expected[6]!,
            })
          ).items,
        ).toEqual([]);
        expect((await store.listAgentProfiles({ tenantId: "tenant-z", limit: 10 })).items).toEqual(
          [],
        );
      });

      it("reports whether any session uses a profile", async () => {
        const profile = makeProfile();
        await store.createAgentProfile(profile);
        expect(await store.profileInUse(profile.id)).toBe(false);
        const a = makeSession({ agentProfileId: profile.id });
        const b = makeSession({ agentProfileId: profile.id, tenantId: "tenant-b" });
        await store.createSessionRecord(a);
        await store.createSessionRecord(b);
        await store.createSessionRecord(makeSession({ agentProfileId: "prf_other" }));
        expect(await store.profileInUse(profile.id)).toBe(true);
        await store.deleteSession(a.id);
        expect(await store.profileInUse(profile.id)).toBe(true);
        await store.deleteSession(b.id);
        expect(await store.profileInUse(profile.id)).toBe(false);
        expect(await store.profileInUse("prf_missing")).toBe(false);
      });
    });

    describe("events", () => {
      it("appends and reads events ascending after a sequence, at most limit", async () => {
        const s = makeSession();
        await store.appendEvents(
          s.id,
          [1, 2, 3].map((n) => makeEvent(s.id, n)),
        );
        await store.appendEvents(s.id, []);
        await store.appendEvents(
          s.id,
          [4, 5, 6, 7].map((n) => makeEvent(s.id, n)),
        );
        await store.appendEvents(s.id, [makeEvent(s.id, 8)]);

        const all = await store.readEvents(s.id, 0, 100);
        expect(all.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        expect(all[0]).toStrictEqual(makeEvent(s.id, 1));
        expect(all[0]!.time).toBeInstanceOf(Date);
        expect((await store.readEvents(s.id, 3, 2)).map((e) => e.sequence)).toEqual([4, 5]);
        expect((await store.readEvents(s.id, 6, 100)).map((e) => e.sequence)).toEqual([7, 8]);
        expect(await store.readEvents(s.id, 8, 100)).toEqual([]);
        expect(await store.readEvents(s.id, 100, 100)).toEqual([]);
        expect((await store.readEvents(s.id, -1, 1)).map((e) => e.sequence)).toEqual([1]);
        expect((await store.readEvents(s.id, 2.5, 1)).map((e) => e.sequence)).toEqual([3]);
      });

      it("round-trips every payload shape, with absent optionals absent", async () => {
        const s = makeSession();
        const block = makeBlock({
          subagentId: "sub_1",
          content: {
            type: "user_message",
            text: "look",
            attachments: [{ name: "a.png", mediaType: "image/png", data: allBytes() }],
          },
        });
        const turn = makeTurn({ outcome: "completed", endTime: at(4) });
        const payloads: SessionEvent["payload"][] = [
          { type: "block_started", block },
          { type: "block_delta", blockId: block.id, delta: { kind: "input_json", value: '{"a' } },
          { type: "block_completed", block: makeBlock() },
          { type: "status_changed", state: "running", sandboxStatus: "ready", message: "" },
          {
            type: "usage_updated",
            step: emptyUsage(),
            turn: { ...emptyUsage(), costMicroUsd: 250_000 },
            session: emptyUsage(),
            model: "m",
          },
          {
            type: "file_created",
            file: { path: ".env", size: 0, sha256: "e3b0", modifyTime: at(6) },
          },
          { type: "file_deleted", path: "a/b" },
          { type: "turn_started", turn: makeTurn() },
          { type: "turn_completed", turn, reason: "end_turn" },
          { type: "error", reason: "OVERLOADED", message: "try later", retryable: true },
        ];
        const events: SessionEvent[] = payloads.map((payload, i) => ({
          sessionId: s.id,
          sequence: i + 1,
          time: at(i),
          ...(i % 2 === 0 ? { turnId: "trn_x", subagentId: "sub_y" } : {}),
          payload,
        }));
        await store.appendEvents(s.id, events);
        const read = await store.readEvents(s.id, 0, 100);
        expect(read).toStrictEqual(events);
        expect(Object.keys(read[1]!)).not.toContain("turnId");
        expect(Object.keys(read[1]!)).not.toContain("subagentId");
        const started = read[0]!.payload as { type: "block_started"; block: Block };
        const content = started.block.content as { attachments: { data: Uint8Array }[] };
        expect(isPlainUint8Array(content.attachments[0]!.data)).toBe(true);
        expect(started.block.createTime).toBeInstanceOf(Date);
      });

      it("rejects a sequence the session already has and keeps the stored event", async () => {
        const s = makeSession();
        await store.appendEvents(s.id, [makeEvent(s.id, 1)]);
        const clash = { ...makeEvent(s.id, 1), time: at(999) };
        await expect(store.appendEvents(s.id, [clash])).rejects.toThrow();
        expect(await store.readEvents(s.id, 0, 10)).toStrictEqual([makeEvent(s.id, 1)]);
      });

      it("stores the rest of a batch that clashes, and keeps the stored events", async () => {
        const s = makeSession();
        await store.appendEvents(s.id, [makeEvent(s.id, 2)]);
        const clash = { ...makeEvent(s.id, 2), turnId: "trn_other" };
        await expect(
          store.appendEvents(s.id, [makeEvent(s.id, 1), clash, makeEvent(s.id, 3)]),
        ).rejects.toThrow(/2/);
        expect(await store.readEvents(s.id, 0, 10)).toStrictEqual(
          [1, 2, 3].map((n) => makeEvent(s.id, n)),
        );
        // Two different events under one sequence in one batch: the first is stored.
        const twin = { ...makeEvent(s.id, 4), time: at(4_444) };
        await expect(store.appendEvents(s.id, [makeEvent(s.id, 4), twin])).rejects.toThrow();
        expect((await store.readEvents(s.id, 3, 10)).map((e) => e.time)).toEqual([at(4)]);
      });

      it("counts a retried batch as stored: events stored with the same content are kept once", async () => {
        const s = makeSession();
        const full = (n: number): SessionEvent => ({
          ...makeEvent(s.id, n),
          subagentId: "sub_1",
          payload: {
            type: "block_started",
            block: makeBlock({
              id: `blk_${n}`,
              sequence: n,
              content: {
                type: "user_message",
                text: "with bytes",
                attachments: [{ name: "b", mediaType: "x/y", data: allBytes() }],
              },
            }),
          },
        });
        const batch = [1, 2, 3].map(full);
        await store.appendEvents(s.id, batch);
        // The whole batch again (its acknowledgement was lost), then one that overlaps.
        await store.appendEvents(s.id, structuredClone(batch));
        await store.appendEvents(s.id, [full(2), full(3), full(4), full(5)]);
        // The same event twice in one batch.
        await store.appendEvents(s.id, [full(6), full(6)]);
        const read = await store.readEvents(s.id, 0, 100);
        expect(read.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
        expect(read).toStrictEqual([1, 2, 3, 4, 5, 6].map(full));
      });

      it("keeps sessions' events apart; unknown sessions read empty", async () => {
        const a = makeSession();
        const b = makeSession();
        await store.appendEvents(a.id, [makeEvent(a.id, 1), makeEvent(a.id, 2)]);
        await store.appendEvents(b.id, [makeEvent(b.id, 1)]);
        expect((await store.readEvents(a.id, 0, 10)).map((e) => e.sessionId)).toEqual([a.id, a.id]);
        expect((await store.readEvents(b.id, 0, 10)).map((e) => e.sessionId)).toEqual([b.id]);
        expect(await store.readEvents("ses_missing", 0, 10)).toEqual([]);
      });

      it("pages through a long feed", async () => {
        const s = makeSession();
        const total = 250;
        for (let start = 1; start <= total; start += 50) {
          await store.appendEvents(
            s.id,
            Array.from({ length: 50 }, (_, i) => makeEvent(s.id, start + i)),
          );
        }
        const seen: number[] = [];
        let after = 0;
        for (;;) {
          const page = await store.readEvents(s.id, after, 64);
          if (page.length === 0) break;
          seen.push(...page.map((e) => e.sequence));
          after = page[page.length - 1]!.sequence;
        }
        expect(seen).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      });
    });

    describe("health", () => {
      it("answers a ping", async () => {
        expect(store.ping).toBeTypeOf("function");
        await expect(store.ping!()).resolves.toBeUndefined();
      });
    });

    describe("blocks", () => {
      it("lists blocks ascending by sequence after a sequence, at most limit", async () => {
        const s = makeSession();
        const blocks = [5, 1, 9, 3, 7].map((sequence) => makeBlock({ sequence }));
        for (const b of blocks) await store.saveBlock(s.id, b);
        const all = await store.listBlocks(s.id, 0, 100);
        expect(all.map((b) => b.sequence)).toEqual([1, 3, 5, 7, 9]);
        expect(all[0]).toStrictEqual(blocks[1]);
        expect((await store.listBlocks(s.id, 3, 2)).map((b) => b.sequence)).toEqual([5, 7]);
        expect(await store.listBlocks(s.id, 9, 10)).toEqual([]);
        expect(await store.listBlocks("ses_missing", 0, 10)).toEqual([]);
      });

      it("replaces a block saved again under the same id", async () => {
        const s = makeSession();
        const block = makeBlock({
          sequence: 4,
          content: {
            type: "tool_use",
            toolUseId: "tu_1",
            toolName: "bash",
            inputJson: "{}",
            status: "running",
          },
        });
        await store.saveBlock(s.id, block);
        const done: Block = {
          ...block,
          subagentId: "sub_1",
          content: { ...block.content, status: "succeeded" } as Block["content"],
        };
        await store.saveBlock(s.id, done);
        expect(await store.listBlocks(s.id, 0, 10)).toStrictEqual([done]);
        const { subagentId: _, ...withoutSubagent } = done;
        await store.saveBlock(s.id, withoutSubagent);
        const [reloaded] = await store.listBlocks(s.id, 0, 10);
        expect(reloaded).toStrictEqual(withoutSubagent);
        expect(Object.keys(reloaded!)).not.toContain("subagentId");
      });

      it("round-trips every block content shape and keeps sessions apart", async () => {
        const a = makeSession();
        const b = makeSession();
        const contents: Block["content"][] = [
          {
            type: "user_message",
            text: "hi",
            attachments: [{ name: "f", mediaType: "x/y", data: allBytes() }],
          },
          { type: "assistant_text", text: "" },
          { type: "thinking", thinking: "hmm", signature: "sig" },
          { type: "tool_result", toolUseId: "tu", output: "ok", isError: false, durationMs: 12 },
          {
            type: "subagent",
            subagentId: "sub",
            name: "n",
            prompt: "p",
            status: "completed",
            result: "r",
            toolUseId: "tu",
          },
          { type: "system", text: "note" },
          { type: "error", reason: "R", message: "m" },
        ];
        const blocks = contents.map((content, i) => makeBlock({ sequence: i + 1, content }));
        for (const block of blocks) await store.saveBlock(a.id, block);
        await store.saveBlock(b.id, makeBlock({ sequence: 1 }));
        expect(await store.listBlocks(a.id, 0, 100)).toStrictEqual(blocks);
        expect(await store.listBlocks(b.id, 0, 100)).toHaveLength(1);
      });
    });
  });
}
