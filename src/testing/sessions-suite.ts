// Sessions: create, load, update, and idempotent creation by request id.
// Part of persistenceSuite (persistence-suite.ts).

import { describe, expect, it } from "vitest";
import { emptyUsage, type SessionRecord } from "../domain/types.js";
import type { PersistenceAdapter } from "../ports/persistence.js";
import {
  allBytes,
  at,
  awkwardMap,
  ids,
  isPlainUint8Array,
  makeFullSession,
  makeSession,
  makeTurn,
} from "./builders.js";

export function sessionRecordSuite(store: () => PersistenceAdapter): void {
  describe("sessions", () => {
    it("stores a session and loads it back exactly (dates, bytes, awkward keys, big numbers)", async () => {
      const session = makeFullSession();
      const created = await store().createSessionRecord(session);
      expect(created).toStrictEqual(session);
      const loaded = await store().loadSession(session.id);
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
      await store().createSessionRecord(session);
      const loaded = await store().loadSession(session.id);
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
      const created = await store().createSessionRecord(withUndefined);
      const reloaded = await store().loadSession(withUndefined.id);
      for (const record of [created, reloaded!]) {
        expect(Object.keys(record)).not.toContain("currentTurn");
        expect(Object.keys(record)).not.toContain("sandbox");
        expect(Object.keys(record)).not.toContain("requestId");
      }

      const turn = makeTurn();
      await store().createSessionRecord({ ...makeSession({ id: "ses_turn" }), currentTurn: turn });
      const withTurn = await store().loadSession("ses_turn");
      expect(Object.keys(withTurn!.currentTurn!)).not.toContain("outcome");
      expect(Object.keys(withTurn!.currentTurn!)).not.toContain("endTime");
      expect(Object.keys(withTurn!.currentTurn!)).not.toContain("startSequence");
    });

    it("returns unknown sessions as null and lists nothing for an empty store", async () => {
      expect(await store().loadSession("ses_missing")).toBeNull();
      expect(await store().listAllSessions()).toEqual([]);
      expect(await store().listSessions({ tenantId: "tenant-a", limit: 10 })).toStrictEqual({
        items: [],
      });
    });

    it("is not changed by mutating what was passed in or given back", async () => {
      const session = makeFullSession();
      const created = await store().createSessionRecord(session);
      session.name = "changed";
      session.metadata.team = "changed";
      session.queuedMessages[0]!.attachments[0]!.data[0] = 99;
      session.createTime.setTime(0);
      created.name = "changed too";
      created.usage.inputTokens = -1;
      const loaded = await store().loadSession(created.id);
      expect(loaded!.name).toBe("full ✓");
      expect(loaded!.metadata.team).toBeUndefined();
      expect(loaded!.queuedMessages[0]!.attachments[0]!.data[0]).toBe(0);
      expect(loaded!.createTime.getTime()).toBe(at(10).getTime());
      expect(loaded!.usage.inputTokens).toBe(1_000_000);
      loaded!.lastSequence = 5;
      expect((await store().loadSession(created.id))!.lastSequence).toBe(2 ** 40 + 1);
    });

    it("returns the stored session for a repeated create of the same record (a retry)", async () => {
      const session = makeFullSession({ requestId: undefined } as never);
      const { requestId: _, ...plain } = session;
      expect(await store().createSessionRecord(plain)).toStrictEqual(plain);
      expect(await store().createSessionRecord(structuredClone(plain))).toStrictEqual(plain);
      expect(await store().listAllSessions()).toStrictEqual([plain]);
    });

    it("rejects a second session with the same id and no request id", async () => {
      const session = makeSession();
      await store().createSessionRecord(session);
      await expect(store().createSessionRecord({ ...session, name: "other" })).rejects.toThrow();
      expect((await store().loadSession(session.id))!.name).toBe("a session");
    });

    it("applies partial updates and leaves the other fields alone", async () => {
      const { currentTurn: _, ...session } = makeFullSession();
      await store().createSessionRecord(session);
      const turn = makeTurn();
      const usage = { ...emptyUsage(), outputTokens: 42, costMicroUsd: 500_000 };
      await store().updateSessionRecord(session.id, {
        state: "running",
        currentTurn: turn,
        usage,
        lastSequence: 17,
        metadata: { "new.key": "v", $x: "y" },
        lastActivityTime: at(5_000),
      });
      expect(await store().loadSession(session.id)).toStrictEqual({
        ...session,
        state: "running",
        currentTurn: turn,
        usage,
        lastSequence: 17,
        metadata: { "new.key": "v", $x: "y" },
        lastActivityTime: at(5_000),
      });

      // Setting an optional field to undefined removes it; absent keys change nothing.
      await store().updateSessionRecord(session.id, { currentTurn: undefined, sandbox: undefined });
      const cleared = await store().loadSession(session.id);
      expect(Object.keys(cleared!)).not.toContain("currentTurn");
      expect(Object.keys(cleared!)).not.toContain("sandbox");
      expect(cleared!.state).toBe("running");
      expect(cleared!.requestId).toBe("req-full");

      await store().updateSessionRecord(session.id, {});
      expect(await store().loadSession(session.id)).toStrictEqual(cleared);
    });

    it("does not let an update change id or tenantId", async () => {
      const session = makeSession();
      await store().createSessionRecord(session);
      const sneaky = { id: "ses_other", tenantId: "tenant-z", name: "renamed" } as never;
      await store().updateSessionRecord(session.id, sneaky);
      const loaded = await store().loadSession(session.id);
      expect(loaded!.id).toBe(session.id);
      expect(loaded!.tenantId).toBe("tenant-a");
      expect(loaded!.name).toBe("renamed");
      expect(await store().loadSession("ses_other")).toBeNull();
    });

    it("ignores updates of an unknown session", async () => {
      await store().updateSessionRecord("ses_missing", { name: "x", state: "running" });
      expect(await store().loadSession("ses_missing")).toBeNull();
      expect(await store().listAllSessions()).toEqual([]);
    });

    it("lists all sessions, optionally by state", async () => {
      const idle = makeSession({ state: "idle" });
      const running = makeSession({ state: "running", tenantId: "tenant-b" });
      await store().createSessionRecord(idle);
      await store().createSessionRecord(running);
      expect(ids(await store().listAllSessions()).sort()).toEqual([idle.id, running.id].sort());
      expect(await store().listAllSessions({ state: "running" })).toStrictEqual([running]);
      expect(await store().listAllSessions({ state: "idle" })).toStrictEqual([idle]);
      expect(await store().listAllSessions({})).toHaveLength(2);
    });
  });

  describe("idempotent session creation", () => {
    it("returns the first session for a repeated (tenant, requestId) and stores nothing new", async () => {
      const first = makeSession({ requestId: "req-1", name: "first" });
      const retry = makeSession({ requestId: "req-1", name: "retry" });
      expect(await store().createSessionRecord(first)).toStrictEqual(first);
      expect(await store().createSessionRecord(retry)).toStrictEqual(first);
      expect(await store().loadSession(retry.id)).toBeNull();
      expect(ids(await store().listAllSessions())).toEqual([first.id]);
    });

    it("keeps request ids of different tenants apart", async () => {
      const a = makeSession({ tenantId: "tenant-a", requestId: "same" });
      const b = makeSession({ tenantId: "tenant-b", requestId: "same" });
      expect((await store().createSessionRecord(a)).id).toBe(a.id);
      expect((await store().createSessionRecord(b)).id).toBe(b.id);
      expect(ids(await store().listAllSessions()).sort()).toEqual([a.id, b.id].sort());
    });

    it("creates every session that has no request id", async () => {
      const a = makeSession();
      const b = makeSession();
      await store().createSessionRecord(a);
      await store().createSessionRecord(b);
      expect(await store().listAllSessions()).toHaveLength(2);
    });

    it("gives one record to concurrent creates with the same request id", async () => {
      const attempts = Array.from({ length: 8 }, (_, i) =>
        makeSession({ requestId: "req-race", name: `attempt ${i}` }),
      );
      const results = await Promise.all(attempts.map((s) => store().createSessionRecord(s)));
      const winners = new Set(results.map((r) => r.id));
      expect(winners.size).toBe(1);
      const all = await store().listAllSessions();
      expect(all).toHaveLength(1);
      expect(all[0]).toStrictEqual(results[0]);
    });
  });
}
