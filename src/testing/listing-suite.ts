// listSessions paging and filters, and deleteSession.
// Part of persistenceSuite (persistence-suite.ts).

import { describe, expect, it } from "vitest";
import type { SessionRecord } from "../domain/types.js";
import type { PersistenceAdapter, SessionCursor } from "../ports/persistence.js";
import {
  allBytes,
  at,
  fileOf,
  ids,
  makeBlock,
  makeEvent,
  makeSession,
  sessionOrder,
} from "./builders.js";

export function listingSuite(store: () => PersistenceAdapter): void {
  async function allPages(
    query: { tenantId: string; agentProfileId?: string; state?: "idle" | "running" },
    limit: number,
  ): Promise<{ pages: SessionRecord[][]; cursors: SessionCursor[] }> {
    const pages: SessionRecord[][] = [];
    const cursors: SessionCursor[] = [];
    let after: SessionCursor | undefined;
    for (let i = 0; i < 100; i++) {
      const page = await store().listSessions({ ...query, limit, ...(after ? { after } : {}) });
      pages.push(page.items);
      if (!page.next) return { pages, cursors };
      cursors.push(page.next);
      after = page.next;
    }
    throw new Error("listSessions never ended");
  }
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
      for (const s of sessions) await store().createSessionRecord(s);
      // Another tenant's sessions must never show up.
      for (const offset of [40, 100]) {
        await store().createSessionRecord(
          makeSession({ tenantId: "tenant-b", lastActivityTime: at(offset) }),
        );
      }
      return sessions;
    }

    it("orders by last activity (newest first), then id descending", async () => {
      const sessions = await seed();
      const page = await store().listSessions({ tenantId: "tenant-a", limit: 100 });
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
      expect(await store().listSessions({ tenantId: "tenant-none", limit: 5 })).toStrictEqual({
        items: [],
      });
    });

    it("continues after a cursor whose session is gone or that was never stored", async () => {
      const sessions = await seed();
      const sorted = [...sessions].sort(sessionOrder);
      const first = await store().listSessions({ tenantId: "tenant-a", limit: 3 });
      await store().deleteSession(sorted[2]!.id);
      const second = await store().listSessions({
        tenantId: "tenant-a",
        limit: 100,
        after: first.next!,
      });
      expect(ids(second.items)).toEqual(ids(sorted.slice(3)));

      // A cursor between two stored sessions of the same time: it starts at the older one.
      const tied = sorted.filter((s) => s.lastActivityTime.getTime() === at(30).getTime());
      expect(tied.length).toBeGreaterThan(2);
      const page = await store().listSessions({
        tenantId: "tenant-a",
        limit: 100,
        after: { lastActivityTime: at(30), id: `${tied[1]!.id}0` },
      });
      expect(ids(page.items)).toEqual(ids(sorted.slice(sorted.indexOf(tied[1]!))));
    });

    it("neither repeats nor skips old sessions when newer ones arrive between pages", async () => {
      const sessions = await seed();
      const expected = ids([...sessions].sort(sessionOrder));
      const first = await store().listSessions({ tenantId: "tenant-a", limit: 4 });
      await store().createSessionRecord(makeSession({ lastActivityTime: at(1_000) }));
      const seen = ids(first.items);
      let after = first.next;
      while (after) {
        const page = await store().listSessions({ tenantId: "tenant-a", limit: 4, after });
        seen.push(...ids(page.items));
        after = page.next;
      }
      expect(seen).toEqual(expected);
    });
  });

  describe("deleteSession", () => {
    it("removes the session with its files, blocks, events and transcript, and nothing else", async () => {
      const doomed = makeSession();
      const kept = makeSession();
      for (const s of [doomed, kept]) {
        await store().createSessionRecord(s);
        await store().saveTranscript(s.id, { from: 0, entries: [`{"for":"${s.id}"}`, "[2]"] });
        await store().saveWorkspaceFile(s.id, fileOf("a.txt", allBytes()));
        await store().saveWorkspaceFile(s.id, fileOf("dir/b.txt", new Uint8Array([1])));
        await store().appendEvents(s.id, [makeEvent(s.id, 1), makeEvent(s.id, 2)]);
        await store().saveBlock(s.id, makeBlock({ sequence: 1 }));
      }
      await store().deleteSession(doomed.id);

      expect(await store().loadSession(doomed.id)).toBeNull();
      expect(await store().loadTranscript(doomed.id)).toEqual([]);
      expect(await store().listWorkspaceFiles(doomed.id)).toEqual([]);
      expect(await store().readWorkspaceFile(doomed.id, "a.txt")).toBeNull();
      expect(await store().readEvents(doomed.id, 0, 100)).toEqual([]);
      expect(await store().listBlocks(doomed.id, 0, 100)).toEqual([]);
      expect(ids(await store().listAllSessions())).toEqual([kept.id]);

      expect(await store().loadSession(kept.id)).toStrictEqual(kept);
      expect(await store().loadTranscript(kept.id)).toEqual([`{"for":"${kept.id}"}`, "[2]"]);
      expect(await store().listWorkspaceFiles(kept.id)).toHaveLength(2);
      expect(await store().readEvents(kept.id, 0, 100)).toHaveLength(2);
      expect(await store().listBlocks(kept.id, 0, 100)).toHaveLength(1);

      // The sequence space of a deleted session is free again, and so is its transcript.
      await store().appendEvents(doomed.id, [makeEvent(doomed.id, 1)]);
      expect(await store().readEvents(doomed.id, 0, 10)).toHaveLength(1);
      await store().saveTranscript(doomed.id, { from: 0, entries: ["[1]"] });
      expect(await store().loadTranscript(doomed.id)).toEqual(["[1]"]);
    });

    it("is a no-op for an unknown session and can be repeated", async () => {
      const s = makeSession();
      await store().createSessionRecord(s);
      await store().deleteSession("ses_missing");
      await store().deleteSession(s.id);
      await store().deleteSession(s.id);
      expect(await store().listAllSessions()).toEqual([]);
    });

    it("frees the request id of the deleted session for its tenant", async () => {
      const s = makeSession({ requestId: "req-del" });
      await store().createSessionRecord(s);
      await store().deleteSession(s.id);
      const again = makeSession({ requestId: "req-del" });
      expect((await store().createSessionRecord(again)).id).toBe(again.id);
    });
  });
}
