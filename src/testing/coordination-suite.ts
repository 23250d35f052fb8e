// Coordination of replicas in PersistenceAdapter (leases, fenced writes, feed claims,
// commands), run by persistence-suite.ts against every adapter.

import { describe, expect, it } from "vitest";
import type { Lease, SessionEvent } from "../domain/types.js";
import type { PersistenceAdapter } from "../ports/persistence.js";
import { makeSession } from "./records.js";

const T0 = Date.UTC(2026, 0, 1);
const at = (ms: number) => new Date(T0 + ms);

function event(sessionId: string, sequence: number, path = `f${sequence}`): SessionEvent {
  return { sessionId, sequence, time: at(sequence), payload: { type: "file_deleted", path } };
}

async function lease(
  store: PersistenceAdapter,
  id: string,
  owner: string,
  now = 0,
): Promise<Lease> {
  const taken = await store.acquireLease(id, owner, at(now), at(now + 10_000));
  if (!("lease" in taken)) throw new Error(`no lease for ${owner}: ${JSON.stringify(taken)}`);
  return taken.lease;
}

const leaseLost = expect.objectContaining({ reason: "LEASE_LOST" });

export function coordinationSuite(store: () => PersistenceAdapter): void {
  describe("coordination", () => {
    it("gives a session's lease to one replica at a time, with a growing token", async () => {
      const s = makeSession("tenant-c");
      await store().createSessionRecord(s);
      expect(await store().acquireLease("ses_missing", "a", at(0), at(1))).toEqual({
        missing: true,
      });
      const a = await lease(store(), s.id, "a");
      expect(a).toEqual({ owner: "a", token: 1, expiresAt: at(10_000) });
      const held = await store().acquireLease(s.id, "b", at(5_000), at(15_000));
      expect(held).toEqual({ heldBy: a });
      // The same replica again (a restart): a new token at once.
      const a2 = await lease(store(), s.id, "a", 1_000);
      expect(a2.token).toBe(2);
      // Renewed together with another session's lease of the same replica.
      const t = makeSession("tenant-c");
      await store().createSessionRecord(t);
      const ta = await lease(store(), t.id, "a");
      const renew = (...leases: [string, Lease][]) =>
        store().renewLeases(
          leases.map(([sessionId, l]) => ({ sessionId, lease: l })),
          at(20_000),
        );
      expect(await renew([s.id, a2], [t.id, ta])).toEqual([]);
      expect((await store().loadSession(t.id))?.lease).toEqual({ ...ta, expiresAt: at(20_000) });
      expect((await store().loadSession(s.id))?.lease).toEqual({ ...a2, expiresAt: at(20_000) });
      // Expired: another replica takes it.
      const b = await lease(store(), s.id, "b", 20_001);
      expect(b).toMatchObject({ owner: "b", token: 3 });
      expect(await renew([s.id, a2], [t.id, ta])).toEqual([s.id]);
      // Given back: free at once; the token is kept.
      await store().releaseLease(s.id, a2); // not the holder: nothing changes
      expect(await store().acquireLease(s.id, "c", at(20_002), at(30_000))).toEqual({
        heldBy: b,
      });
      await store().releaseLease(s.id, b);
      // A lease given back is not renewed (a renewal that raced the release).
      expect(await store().renewLeases([{ sessionId: s.id, lease: b }], at(40_000))).toEqual([
        s.id,
      ]);
      expect(await lease(store(), s.id, "c", 20_003)).toMatchObject({ owner: "c", token: 4 });
    });

    it("refuses the record writes of a replica that lost the lease", async () => {
      const s = makeSession("tenant-c");
      await store().createSessionRecord(s);
      const a = await lease(store(), s.id, "a");
      await store().updateSessionRecord(s.id, { name: "by a" }, a.token);
      const b = await lease(store(), s.id, "b", 20_000);
      await expect(store().updateSessionRecord(s.id, { name: "late a" }, a.token)).rejects.toEqual(
        leaseLost,
      );
      await store().updateSessionRecord(s.id, { name: "by b" }, b.token);
      // Updates never touch the lease.
      await store().updateSessionRecord(s.id, { lease: undefined } as never, b.token);
      const stored = await store().loadSession(s.id);
      expect(stored).toMatchObject({ name: "by b", lease: b });
      // Without a fence, as before (a store used by one process).
      await store().updateSessionRecord(s.id, { name: "unfenced" });
      expect((await store().loadSession(s.id))?.name).toBe("unfenced");
    });

    it("fences a feed: the new holder stores the old one's last claimed batch, later ones are refused", async () => {
      const s = makeSession("tenant-c");
      await store().createSessionRecord(s);
      const a = await lease(store(), s.id, "a");
      expect(await store().claimFeed(s.id, a.token)).toEqual([]);
      await store().appendEvents(s.id, [event(s.id, 1), event(s.id, 2)], a.token);
      await store().appendEvents(s.id, [event(s.id, 3)], a.token);
      expect(await store().feedHeads([s.id, "ses_none"])).toEqual(new Map([[s.id, 3]]));
      const b = await lease(store(), s.id, "b", 20_000);
      // The claim returns the last batch claimed (a cut-off insert is completed from it).
      expect(await store().claimFeed(s.id, b.token)).toEqual([event(s.id, 3)]);
      // The same claim again (a retry) still returns it.
      expect(await store().claimFeed(s.id, b.token)).toEqual([event(s.id, 3)]);
      await expect(store().appendEvents(s.id, [event(s.id, 4, "late")], a.token)).rejects.toEqual(
        leaseLost,
      );
      await expect(store().claimFeed(s.id, a.token)).rejects.toEqual(leaseLost);
      await store().appendEvents(s.id, [event(s.id, 4)], b.token);
      expect(await store().readEvents(s.id, 0, 10)).toEqual(
        [1, 2, 3, 4].map((n) => event(s.id, n)),
      );
      expect(await store().feedHeads([s.id])).toEqual(new Map([[s.id, 4]]));
    });

    it("stores commands for a replica, taken by exactly one, with their outcome", async () => {
      const s = makeSession("tenant-c");
      await store().createSessionRecord(s);
      const command = (id: string, owner: string, ms: number) => ({
        id,
        sessionId: s.id,
        kind: "send_message",
        args: JSON.stringify({ text: id }),
        owner,
        createTime: at(ms),
      });
      await store().enqueueCommand(command("cmd_2", "a", 2));
      await store().enqueueCommand(command("cmd_1", "a", 1));
      await store().enqueueCommand(command("cmd_1", "a", 1)); // a retry
      await store().enqueueCommand(command("cmd_3", "b", 3));
      expect((await store().pendingCommands("a", 10)).map((c) => c.id)).toEqual(["cmd_1", "cmd_2"]);
      expect(await store().pendingCommands("a", 1)).toEqual([command("cmd_1", "a", 1)]);
      expect(await store().takeCommand("cmd_1", "a")).toBe(true);
      expect(await store().takeCommand("cmd_1", "a")).toBe(true); // a retry by the same taker
      expect(await store().takeCommand("cmd_1", "c")).toBe(false);
      expect(await store().takeCommand("cmd_missing", "a")).toBe(false);
      expect((await store().pendingCommands("a", 10)).map((c) => c.id)).toEqual(["cmd_2"]);
      await store().finishCommand("cmd_1", '{"result":1}');
      expect(await store().loadCommand("cmd_1")).toEqual({
        ...command("cmd_1", "a", 1),
        outcome: '{"result":1}',
      });
      await store().deleteCommand("cmd_1");
      expect(await store().loadCommand("cmd_1")).toBeNull();
      await store().deleteSession(s.id);
      expect(await store().loadCommand("cmd_2")).toBeNull();
      expect(await store().pendingCommands("b", 10)).toEqual([]);
      expect(await store().feedHeads([s.id])).toEqual(new Map());
    });
  });
}
