// Transcripts, tenant and workspace usage, workspace files.
// Part of persistenceSuite (persistence-suite.ts).

import { describe, expect, it } from "vitest";
import type { FileInfo } from "../domain/types.js";
import type { PersistenceAdapter, StoredFile } from "../ports/persistence.js";
import { allBytes, at, fileOf, isPlainUint8Array, makeSession } from "./builders.js";

export function contentSuite(store: () => PersistenceAdapter): void {
  describe("transcripts", () => {
    /** An entry as the runtime writes one: a message's JSON. */
    const msg = (text: string) =>
      JSON.stringify({ role: "user", content: [{ type: "text", text }] });

    it("stores entries in order and loads them back; none is []", async () => {
      const s = makeSession();
      expect(await store().loadTranscript(s.id)).toEqual([]);
      const entries = ["a", "b ✓", 'c "quoted"\n', "😀"].map(msg);
      await store().saveTranscript(s.id, { from: 0, entries });
      expect(await store().loadTranscript(s.id)).toEqual(entries);
      expect(await store().loadTranscript("ses_missing")).toEqual([]);
      // Many entries, in order.
      const many = Array.from({ length: 300 }, (_, i) => msg(`m${i}`));
      await store().saveTranscript(s.id, { from: 0, entries: many });
      expect(await store().loadTranscript(s.id)).toEqual(many);
    });

    it("appends, replaces the tail, shrinks and clears", async () => {
      const s = makeSession();
      const [a, b, c, d, x, y] = [msg("a"), msg("b"), msg("c"), msg("d"), msg("x"), msg("y")];
      await store().saveTranscript(s.id, { from: 0, entries: [a, b] });
      await store().saveTranscript(s.id, { from: 2, entries: [c, d] });
      expect(await store().loadTranscript(s.id)).toEqual([a, b, c, d]);
      // Replacing from the middle drops everything after the new entries.
      await store().saveTranscript(s.id, { from: 1, entries: [x] });
      expect(await store().loadTranscript(s.id)).toEqual([a, x]);
      await store().saveTranscript(s.id, { from: 1, entries: [x, y, c] });
      expect(await store().loadTranscript(s.id)).toEqual([a, x, y, c]);
      // Cutting to a prefix, with nothing new.
      await store().saveTranscript(s.id, { from: 2, entries: [] });
      expect(await store().loadTranscript(s.id)).toEqual([a, x]);
      // Replaced by a shorter conversation from the start (compaction).
      await store().saveTranscript(s.id, { from: 0, entries: [d] });
      expect(await store().loadTranscript(s.id)).toEqual([d]);
      await store().saveTranscript(s.id, { from: 0, entries: [] });
      expect(await store().loadTranscript(s.id)).toEqual([]);
      await store().saveTranscript(s.id, { from: 0, entries: [b] });
      expect(await store().loadTranscript(s.id)).toEqual([b]);
    });

    it("stores the same when a change is applied again (a retry)", async () => {
      const s = makeSession();
      const first = ["1", "2", "3", "4"].map(msg);
      await store().saveTranscript(s.id, { from: 0, entries: first });
      const change = { from: 1, entries: ["x", "y"].map(msg) };
      await store().saveTranscript(s.id, change);
      await store().saveTranscript(s.id, change);
      expect(await store().loadTranscript(s.id)).toEqual([first[0], ...change.entries]);
      // Concurrent copies of one change (a retry racing a lost attempt).
      const again = { from: 3, entries: ["z"].map(msg) };
      await Promise.all([store().saveTranscript(s.id, again), store().saveTranscript(s.id, again)]);
      expect(await store().loadTranscript(s.id)).toEqual([first[0], ...change.entries, msg("z")]);
    });

    it("rejects a change from past the end and keeps what is stored", async () => {
      const s = makeSession();
      const entries = ["a", "b"].map(msg);
      await expect(
        store().saveTranscript(s.id, { from: 1, entries: [msg("x")] }),
      ).rejects.toThrow();
      await store().saveTranscript(s.id, { from: 0, entries });
      await expect(
        store().saveTranscript(s.id, { from: 3, entries: [msg("x")] }),
      ).rejects.toThrow();
      await expect(store().saveTranscript(s.id, { from: -1, entries: [] })).rejects.toThrow();
      expect(await store().loadTranscript(s.id)).toEqual(entries);
    });

    it("keeps sessions' transcripts apart", async () => {
      const [s, t] = [makeSession(), makeSession()];
      await store().saveTranscript(s.id, { from: 0, entries: ["s1", "s2"].map(msg) });
      await store().saveTranscript(t.id, { from: 0, entries: ["t1"].map(msg) });
      await store().saveTranscript(s.id, { from: 1, entries: [] });
      expect(await store().loadTranscript(s.id)).toEqual(["s1"].map(msg));
      expect(await store().loadTranscript(t.id)).toEqual(["t1"].map(msg));
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
      await store().saveTranscript(s.id, { from: 0, entries: [small, big, small] });
      const loaded = await store().loadTranscript(s.id);
      expect(loaded).toHaveLength(3);
      expect(loaded[1] === big).toBe(true); // not toEqual: its diff of 17 MB would not end
      expect(loaded[2]).toBe(small);
      // Replaced by a small entry, then by a large one again.
      await store().saveTranscript(s.id, { from: 1, entries: [small] });
      expect(await store().loadTranscript(s.id)).toEqual([small, small]);
      const other = msg(`${text.slice(0, 4_000_000)}✓`); // fewer pieces than before
      await store().saveTranscript(s.id, { from: 1, entries: [other] });
      const again = await store().loadTranscript(s.id);
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
      expect(await store().tenantUsage(tenant, "2026-11")).toMatchObject({ costMicroUsd: 0 });
      expect(await store().addTenantUsage(tenant, "2026-11", "ses_a", step)).toEqual(step);
      const total = await store().addTenantUsage(tenant, "2026-11", "ses_b", {
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
      expect(await store().tenantUsage(tenant, "2026-11")).toEqual(total);
      // Another month, another tenant: counted apart.
      expect((await store().tenantUsage(tenant, "2026-12")).costMicroUsd).toBe(0);
      expect((await store().tenantUsage(`${tenant}-x`, "2026-11")).costMicroUsd).toBe(0);
      // Concurrent sessions' increments all count.
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store().addTenantUsage(tenant, "2027-01", `ses_${i}`, step),
        ),
      );
      expect((await store().tenantUsage(tenant, "2027-01")).costMicroUsd).toBe(3_000);
    });
  });

  describe("workspace usage", () => {
    it("counts a session's files and sums their sizes as files come and go", async () => {
      const a = makeSession();
      const b = makeSession();
      expect(await store().workspaceUsage(a.id)).toStrictEqual({ files: 0, bytes: 0 });
      await store().saveWorkspaceFile(a.id, fileOf("x.bin", allBytes()));
      await store().saveWorkspaceFile(a.id, fileOf("dir/y.txt", new Uint8Array(10)));
      await store().saveWorkspaceFile(a.id, fileOf("empty", new Uint8Array(0)));
      await store().saveWorkspaceFile(b.id, fileOf("x.bin", new Uint8Array(7)));
      expect(await store().workspaceUsage(a.id)).toStrictEqual({ files: 3, bytes: 266 });
      expect(await store().workspaceUsage(b.id)).toStrictEqual({ files: 1, bytes: 7 });

      // A replaced file counts once, with its new size.
      await store().saveWorkspaceFile(a.id, fileOf("x.bin", new Uint8Array(1_000)));
      expect(await store().workspaceUsage(a.id)).toStrictEqual({ files: 3, bytes: 1_010 });
      await store().deleteSessionFile(a.id, "dir/y.txt");
      expect(await store().workspaceUsage(a.id)).toStrictEqual({ files: 2, bytes: 1_000 });

      await store().deleteSession(a.id);
      expect(await store().workspaceUsage(a.id)).toStrictEqual({ files: 0, bytes: 0 });
      expect(await store().workspaceUsage(b.id)).toStrictEqual({ files: 1, bytes: 7 });
    });

    it("sums sizes beyond 32 bits", async () => {
      const s = makeSession();
      const huge = (path: string): StoredFile => ({
        info: { path, size: 3 * 2 ** 30, sha256: "h", modifyTime: at(1) },
        content: new Uint8Array(1),
      });
      await store().saveWorkspaceFile(s.id, huge("a"));
      await store().saveWorkspaceFile(s.id, huge("b"));
      expect(await store().workspaceUsage(s.id)).toStrictEqual({ files: 2, bytes: 6 * 2 ** 30 });
    });
  });

  describe("workspace files", () => {
    it("stores binary content byte for byte, with its info", async () => {
      const s = makeSession();
      const file = fileOf("bin/all-bytes.bin", allBytes(), at(777));
      await store().saveWorkspaceFile(s.id, file);
      const read = await store().readWorkspaceFile(s.id, "bin/all-bytes.bin");
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
      await store().saveWorkspaceFile(s.id, fileOf("empty", new Uint8Array(0)));
      await store().saveWorkspaceFile(s.id, fileOf("large.bin", large));
      const empty = await store().readWorkspaceFile(s.id, "empty");
      expect(empty!.content.byteLength).toBe(0);
      expect(isPlainUint8Array(empty!.content)).toBe(true);
      const readLarge = await store().readWorkspaceFile(s.id, "large.bin");
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
        await store().saveWorkspaceFile(s.id, fileOf(path, new Uint8Array([i]), at(i)));
      }
      const listed = await store().listWorkspaceFiles(s.id);
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
        expect([...(await store().readWorkspaceFile(s.id, path))!.content]).toEqual([i]);
      }
    });

    it("replaces a file saved again under the same path", async () => {
      const s = makeSession();
      await store().saveWorkspaceFile(s.id, fileOf("f.txt", new Uint8Array([1, 2, 3]), at(1)));
      const replacement: StoredFile = {
        info: { path: "f.txt", size: 2, sha256: "new-sha", modifyTime: at(2) },
        content: new Uint8Array([9, 8]),
      };
      await store().saveWorkspaceFile(s.id, replacement);
      expect(await store().readWorkspaceFile(s.id, "f.txt")).toStrictEqual(replacement);
      expect(await store().listWorkspaceFiles(s.id)).toStrictEqual([replacement.info]);
    });

    it("deletes a file; deleting a missing file is a no-op", async () => {
      const s = makeSession();
      await store().saveWorkspaceFile(s.id, fileOf("keep.txt", new Uint8Array([1])));
      await store().saveWorkspaceFile(s.id, fileOf("drop.txt", new Uint8Array([2])));
      await store().deleteSessionFile(s.id, "drop.txt");
      await store().deleteSessionFile(s.id, "drop.txt");
      await store().deleteSessionFile(s.id, "never.txt");
      await store().deleteSessionFile("ses_missing", "keep.txt");
      expect(await store().readWorkspaceFile(s.id, "drop.txt")).toBeNull();
      expect((await store().listWorkspaceFiles(s.id)).map((f) => f.path)).toEqual(["keep.txt"]);
    });

    it("keeps sessions' files apart and returns nothing for unknowns", async () => {
      const a = makeSession();
      const b = makeSession();
      await store().saveWorkspaceFile(a.id, fileOf("same.txt", new Uint8Array([1])));
      await store().saveWorkspaceFile(b.id, fileOf("same.txt", new Uint8Array([2])));
      expect([...(await store().readWorkspaceFile(a.id, "same.txt"))!.content]).toEqual([1]);
      expect([...(await store().readWorkspaceFile(b.id, "same.txt"))!.content]).toEqual([2]);
      expect(await store().readWorkspaceFile(a.id, "other.txt")).toBeNull();
      expect(await store().readWorkspaceFile("ses_missing", "same.txt")).toBeNull();
      expect(await store().listWorkspaceFiles("ses_missing")).toEqual([]);
    });

    it("is not changed by mutating the content passed in or read back", async () => {
      const s = makeSession();
      const content = new Uint8Array([1, 2, 3]);
      await store().saveWorkspaceFile(s.id, fileOf("m.bin", content));
      content[0] = 42;
      const read = await store().readWorkspaceFile(s.id, "m.bin");
      read!.content[1] = 42;
      read!.info.size = 1_000;
      const again = await store().readWorkspaceFile(s.id, "m.bin");
      expect([...again!.content]).toEqual([1, 2, 3]);
      expect(again!.info.size).toBe(3);
    });

    it("takes concurrent saves of one path and keeps one of them", async () => {
      const s = makeSession();
      const versions = Array.from({ length: 6 }, (_, i) => fileOf("race.txt", new Uint8Array([i])));
      await Promise.all(versions.map((v) => store().saveWorkspaceFile(s.id, v)));
      const listed = await store().listWorkspaceFiles(s.id);
      expect(listed).toHaveLength(1);
      const read = await store().readWorkspaceFile(s.id, "race.txt");
      expect(read!.content).toHaveLength(1);
      expect(read!.content[0]).toBeLessThan(6);
    });
  });
}
