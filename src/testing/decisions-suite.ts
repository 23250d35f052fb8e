// The decision log of PersistenceAdapter (appendToolDecision, listToolDecisions), run by
// persistenceSuite (persistence-suite.ts) against every adapter.

import { describe, expect, it } from "vitest";
import type { ToolDecision } from "../domain/types.js";
import type { DecisionCursor, PersistenceAdapter } from "../ports/persistence.js";
import { makeSession } from "./records.js";

const BASE = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

function decision(toolUseId: string, offsetMs: number, extra: Partial<ToolDecision> = {}) {
  const d: ToolDecision = {
    toolUseId,
    turnId: "turn-1",
    toolName: "Bash",
    kind: "allow",
    message: "",
    updatedInputJson: "",
    alwaysAllowRule: "",
    output: "",
    isError: false,
    decidedBy: "key:ops",
    decideTime: new Date(BASE + offsetMs),
    ...extra,
  };
  return d;
}

const cursorOf = (d: ToolDecision): DecisionCursor => ({
  decideTime: d.decideTime,
  toolUseId: d.toolUseId,
});

export function decisionLogSuite(store: () => PersistenceAdapter): void {
  describe("decision log", () => {
    it("stores decisions whole and lists them by decide time, then tool use id", async () => {
      const s = makeSession("tenant-d");
      await store().createSessionRecord(s);
      const big = "x".repeat(1_000_000);
      const c = decision("c", 0, { kind: "result", output: big, isError: true, toolName: "t" });
      const b = decision("b", 0, { kind: "deny", message: "m".repeat(10_000) });
      const a = decision("a", 5, { updatedInputJson: '{"k":"v"}', alwaysAllowRule: "Bash(ls:*)" });
      for (const d of [c, a, b]) await store().appendToolDecision(s.id, d);
      expect(await store().listToolDecisions(s.id, undefined, 10)).toStrictEqual([b, c, a]);
    });

    it("pages after a cursor without repeating or skipping, also at equal times", async () => {
      const s = makeSession("tenant-d");
      const all = Array.from({ length: 7 }, (_, i) => decision(`tu-${i}`, Math.floor(i / 3)));
      for (const d of [...all].reverse()) await store().appendToolDecision(s.id, d);
      const seen: ToolDecision[] = [];
      let after: DecisionCursor | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await store().listToolDecisions(s.id, after, 2);
        seen.push(...page);
        if (page.length < 2) break;
        after = cursorOf(page.at(-1)!);
      }
      expect(seen).toStrictEqual(all);
      expect(await store().listToolDecisions(s.id, undefined, 0)).toEqual([]);
      expect(await store().listToolDecisions(s.id, cursorOf(all[6]!), 5)).toEqual([]);
    });

    it("keeps the first decision of a call when it is appended again (a retry)", async () => {
      const s = makeSession("tenant-d");
      const first = decision("tu", 0);
      await store().appendToolDecision(s.id, first);
      await store().appendToolDecision(s.id, first);
      await store().appendToolDecision(s.id, decision("tu", 9, { kind: "deny" }));
      expect(await store().listToolDecisions(s.id, undefined, 10)).toStrictEqual([first]);
    });

    it("keeps sessions apart; deleteSession removes the session's decisions", async () => {
      const doomed = makeSession("tenant-d");
      const kept = makeSession("tenant-d");
      for (const s of [doomed, kept]) {
        await store().createSessionRecord(s);
        await store().appendToolDecision(s.id, decision("same-id", 0, { decidedBy: s.id }));
      }
      expect(await store().listToolDecisions(kept.id, undefined, 10)).toStrictEqual([
        decision("same-id", 0, { decidedBy: kept.id }),
      ]);
      await store().deleteSession(doomed.id);
      expect(await store().listToolDecisions(doomed.id, undefined, 10)).toEqual([]);
      expect(await store().listToolDecisions(kept.id, undefined, 10)).toHaveLength(1);
      expect(await store().listToolDecisions("unknown", undefined, 10)).toEqual([]);
    });
  });
}
