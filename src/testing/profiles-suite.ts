// Agent profiles.
// Part of persistenceSuite (persistence-suite.ts).

import { describe, expect, it } from "vitest";
import { newId } from "../domain/ids.js";
import type { AgentProfile } from "../domain/types.js";
import type { PersistenceAdapter } from "../ports/persistence.js";
import {
  allBytes,
  at,
  BASE_TIME,
  ids,
  isPlainUint8Array,
  makeProfile,
  makeSession,
} from "./builders.js";

export function profileSuite(store: () => PersistenceAdapter): void {
  describe("agent profiles", () => {
    it("creates and loads a profile exactly (binary default files, awkward option keys)", async () => {
      const profile = makeProfile({ requestId: "req-p" });
      expect(await store().createAgentProfile(profile)).toStrictEqual(profile);
      const loaded = await store().loadAgentProfile(profile.id);
      expect(loaded).toStrictEqual(profile);
      expect(isPlainUint8Array(loaded!.defaultFiles[1]!.content)).toBe(true);
      expect([...loaded!.defaultFiles[1]!.content]).toEqual([...allBytes()]);
      expect(loaded!.createTime).toBeInstanceOf(Date);
    });

    it("keeps an absent requestId absent and returns unknown profiles as null", async () => {
      const profile = makeProfile();
      await store().createAgentProfile(profile);
      expect(Object.keys((await store().loadAgentProfile(profile.id))!)).not.toContain("requestId");
      expect(await store().loadAgentProfile("prf_missing")).toBeNull();
    });

    it("is idempotent by (tenant, requestId), also under concurrency", async () => {
      const first = makeProfile({ requestId: "req-1", name: "first" });
      await store().createAgentProfile(first);
      const retried = await store().createAgentProfile(makeProfile({ requestId: "req-1" }));
      expect(retried).toStrictEqual(first);
      const otherTenant = makeProfile({ requestId: "req-1", tenantId: "tenant-b" });
      expect((await store().createAgentProfile(otherTenant)).id).toBe(otherTenant.id);

      const racers = Array.from({ length: 6 }, () => makeProfile({ requestId: "req-race" }));
      const results = await Promise.all(racers.map((p) => store().createAgentProfile(p)));
      expect(new Set(results.map((r) => r.id)).size).toBe(1);

      const page = await store().listAgentProfiles({ tenantId: "tenant-a", limit: 100 });
      expect(page.items).toHaveLength(2);
    });

    it("returns the stored profile for a repeated create of the same record (a retry)", async () => {
      const profile = makeProfile();
      expect(await store().createAgentProfile(profile)).toStrictEqual(profile);
      expect(await store().createAgentProfile(structuredClone(profile))).toStrictEqual(profile);
      expect(
        (await store().listAgentProfiles({ tenantId: "tenant-a", limit: 10 })).items,
      ).toStrictEqual([profile]);
    });

    it("rejects a second profile with the same id and no request id", async () => {
      const profile = makeProfile();
      await store().createAgentProfile(profile);
      await expect(store().createAgentProfile({ ...profile, name: "other" })).rejects.toThrow();
      expect((await store().loadAgentProfile(profile.id))!.name).toBe("coder");
    });

    it("replaces a profile on update; updating an unknown profile stores nothing", async () => {
      const profile = makeProfile({ requestId: "req-u" });
      await store().createAgentProfile(profile);
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
      await store().updateAgentProfile(updated);
      expect(await store().loadAgentProfile(profile.id)).toStrictEqual(updated);

      const ghost = makeProfile();
      await store().updateAgentProfile(ghost);
      expect(await store().loadAgentProfile(ghost.id)).toBeNull();
      // The request id still leads to the (updated) profile.
      expect(await store().createAgentProfile(makeProfile({ requestId: "req-u" }))).toStrictEqual(
        updated,
      );
    });

    it("deletes a profile; deleting an unknown profile is a no-op", async () => {
      const profile = makeProfile();
      await store().createAgentProfile(profile);
      await store().deleteAgentProfile("prf_missing");
      await store().deleteAgentProfile(profile.id);
      await store().deleteAgentProfile(profile.id);
      expect(await store().loadAgentProfile(profile.id)).toBeNull();
      expect((await store().listAgentProfiles({ tenantId: "tenant-a", limit: 10 })).items).toEqual(
        [],
      );
    });

    it("lists a tenant's profiles oldest first, page by page", async () => {
      const created: AgentProfile[] = [];
      for (let i = 0; i < 7; i++) {
        // Created out of order: the id (creation time) decides the order, not insertion.
        const profile = makeProfile({ id: newId("prf", BASE_TIME + ((i * 3) % 7) * 1_000) });
        created.push(profile);
        await store().createAgentProfile(profile);
        await store().createAgentProfile(makeProfile({ tenantId: "tenant-b" }));
      }
      const expected = ids(created).sort();
      for (const limit of [1, 3, 7, 10]) {
        const seen: string[] = [];
        let afterId: string | undefined;
        let pages = 0;
        for (;;) {
          const page = await store().listAgentProfiles({
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
      const page = await store().listAgentProfiles({ tenantId: "tenant-a", limit: 2 });
      expect(page.items[0]).toStrictEqual(created.find((p) => p.id === expected[0]));
      expect(
        (
          await store().listAgentProfiles({
            tenantId: "tenant-a",
            limit: 10,
            afterId: expected[6]!,
          })
        ).items,
      ).toEqual([]);
      expect((await store().listAgentProfiles({ tenantId: "tenant-z", limit: 10 })).items).toEqual(
        [],
      );
    });

    it("reports whether any session uses a profile", async () => {
      const profile = makeProfile();
      await store().createAgentProfile(profile);
      expect(await store().profileInUse(profile.id)).toBe(false);
      const a = makeSession({ agentProfileId: profile.id });
      const b = makeSession({ agentProfileId: profile.id, tenantId: "tenant-b" });
      await store().createSessionRecord(a);
      await store().createSessionRecord(b);
      await store().createSessionRecord(makeSession({ agentProfileId: "prf_other" }));
      expect(await store().profileInUse(profile.id)).toBe(true);
      await store().deleteSession(a.id);
      expect(await store().profileInUse(profile.id)).toBe(true);
      await store().deleteSession(b.id);
      expect(await store().profileInUse(profile.id)).toBe(false);
      expect(await store().profileInUse("prf_missing")).toBe(false);
    });
  });
}
