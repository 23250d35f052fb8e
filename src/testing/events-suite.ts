// Events, health and blocks.
// Part of persistenceSuite (persistence-suite.ts).

import { describe, expect, it } from "vitest";
import { type Block, emptyUsage, type SessionEvent } from "../domain/types.js";
import type { PersistenceAdapter } from "../ports/persistence.js";
import {
  allBytes,
  at,
  isPlainUint8Array,
  makeBlock,
  makeEvent,
  makeSession,
  makeTurn,
} from "./builders.js";

export function eventSuite(store: () => PersistenceAdapter): void {
  describe("events", () => {
    it("appends and reads events ascending after a sequence, at most limit", async () => {
      const s = makeSession();
      await store().appendEvents(
        s.id,
        [1, 2, 3].map((n) => makeEvent(s.id, n)),
      );
      await store().appendEvents(s.id, []);
      await store().appendEvents(
        s.id,
        [4, 5, 6, 7].map((n) => makeEvent(s.id, n)),
      );
      await store().appendEvents(s.id, [makeEvent(s.id, 8)]);

      const all = await store().readEvents(s.id, 0, 100);
      expect(all.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(all[0]).toStrictEqual(makeEvent(s.id, 1));
      expect(all[0]!.time).toBeInstanceOf(Date);
      expect((await store().readEvents(s.id, 3, 2)).map((e) => e.sequence)).toEqual([4, 5]);
      expect((await store().readEvents(s.id, 6, 100)).map((e) => e.sequence)).toEqual([7, 8]);
      expect(await store().readEvents(s.id, 8, 100)).toEqual([]);
      expect(await store().readEvents(s.id, 100, 100)).toEqual([]);
      expect((await store().readEvents(s.id, -1, 1)).map((e) => e.sequence)).toEqual([1]);
      expect((await store().readEvents(s.id, 2.5, 1)).map((e) => e.sequence)).toEqual([3]);
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
      await store().appendEvents(s.id, events);
      const read = await store().readEvents(s.id, 0, 100);
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
      await store().appendEvents(s.id, [makeEvent(s.id, 1)]);
      const clash = { ...makeEvent(s.id, 1), time: at(999) };
      await expect(store().appendEvents(s.id, [clash])).rejects.toThrow();
      expect(await store().readEvents(s.id, 0, 10)).toStrictEqual([makeEvent(s.id, 1)]);
    });

    it("stores the rest of a batch that clashes, and keeps the stored events", async () => {
      const s = makeSession();
      await store().appendEvents(s.id, [makeEvent(s.id, 2)]);
      const clash = { ...makeEvent(s.id, 2), turnId: "trn_other" };
      await expect(
        store().appendEvents(s.id, [makeEvent(s.id, 1), clash, makeEvent(s.id, 3)]),
      ).rejects.toThrow(/2/);
      expect(await store().readEvents(s.id, 0, 10)).toStrictEqual(
        [1, 2, 3].map((n) => makeEvent(s.id, n)),
      );
      // Two different events under one sequence in one batch: the first is stored.
      const twin = { ...makeEvent(s.id, 4), time: at(4_444) };
      await expect(store().appendEvents(s.id, [makeEvent(s.id, 4), twin])).rejects.toThrow();
      expect((await store().readEvents(s.id, 3, 10)).map((e) => e.time)).toEqual([at(4)]);
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
      await store().appendEvents(s.id, batch);
      // The whole batch again (its acknowledgement was lost), then one that overlaps.
      await store().appendEvents(s.id, structuredClone(batch));
      await store().appendEvents(s.id, [full(2), full(3), full(4), full(5)]);
      // The same event twice in one batch.
      await store().appendEvents(s.id, [full(6), full(6)]);
      const read = await store().readEvents(s.id, 0, 100);
      expect(read.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(read).toStrictEqual([1, 2, 3, 4, 5, 6].map(full));
    });

    it("keeps sessions' events apart; unknown sessions read empty", async () => {
      const a = makeSession();
      const b = makeSession();
      await store().appendEvents(a.id, [makeEvent(a.id, 1), makeEvent(a.id, 2)]);
      await store().appendEvents(b.id, [makeEvent(b.id, 1)]);
      expect((await store().readEvents(a.id, 0, 10)).map((e) => e.sessionId)).toEqual([a.id, a.id]);
      expect((await store().readEvents(b.id, 0, 10)).map((e) => e.sessionId)).toEqual([b.id]);
      expect(await store().readEvents("ses_missing", 0, 10)).toEqual([]);
    });

    it("pages through a long feed", async () => {
      const s = makeSession();
      const total = 250;
      for (let start = 1; start <= total; start += 50) {
        await store().appendEvents(
          s.id,
          Array.from({ length: 50 }, (_, i) => makeEvent(s.id, start + i)),
        );
      }
      const seen: number[] = [];
      let after = 0;
      for (;;) {
        const page = await store().readEvents(s.id, after, 64);
        if (page.length === 0) break;
        seen.push(...page.map((e) => e.sequence));
        after = page[page.length - 1]!.sequence;
      }
      expect(seen).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    });
  });

  describe("health", () => {
    it("answers a ping", async () => {
      expect(store().ping).toBeTypeOf("function");
      await expect(store().ping!()).resolves.toBeUndefined();
    });
  });

  describe("blocks", () => {
    it("lists blocks ascending by sequence after a sequence, at most limit", async () => {
      const s = makeSession();
      const blocks = [5, 1, 9, 3, 7].map((sequence) => makeBlock({ sequence }));
      for (const b of blocks) await store().saveBlock(s.id, b);
      const all = await store().listBlocks(s.id, 0, 100);
      expect(all.map((b) => b.sequence)).toEqual([1, 3, 5, 7, 9]);
      expect(all[0]).toStrictEqual(blocks[1]);
      expect((await store().listBlocks(s.id, 3, 2)).map((b) => b.sequence)).toEqual([5, 7]);
      expect(await store().listBlocks(s.id, 9, 10)).toEqual([]);
      expect(await store().listBlocks("ses_missing", 0, 10)).toEqual([]);
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
      await store().saveBlock(s.id, block);
      const done: Block = {
        ...block,
        subagentId: "sub_1",
        content: { ...block.content, status: "succeeded" } as Block["content"],
      };
      await store().saveBlock(s.id, done);
      expect(await store().listBlocks(s.id, 0, 10)).toStrictEqual([done]);
      const { subagentId: _, ...withoutSubagent } = done;
      await store().saveBlock(s.id, withoutSubagent);
      const [reloaded] = await store().listBlocks(s.id, 0, 10);
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
      for (const block of blocks) await store().saveBlock(a.id, block);
      await store().saveBlock(b.id, makeBlock({ sequence: 1 }));
      expect(await store().listBlocks(a.id, 0, 100)).toStrictEqual(blocks);
      expect(await store().listBlocks(b.id, 0, 100)).toHaveLength(1);
    });
  });
}
