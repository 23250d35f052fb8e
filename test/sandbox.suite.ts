// One behaviour suite for every SandboxProvider: each implementation runs it.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SandboxSettings } from "../src/domain/types.js";
import type { Sandbox, SandboxProvider } from "../src/ports/sandbox.js";

export interface SandboxFixture {
  provider: SandboxProvider;
  /** A new provider instance over the same state, as after a server restart. */
  restart(): Promise<SandboxProvider>;
  cleanup(): Promise<void>;
}

export const defaultSettings = (over: Partial<SandboxSettings> = {}): SandboxSettings => ({
  provider: "default",
  networkAllowed: false,
  env: {},
  image: "",
  cpu: 0,
  memoryMib: 0,
  providerOptions: {},
  ...over,
});

let counter = 0;
const sessionId = () => `ses_suite${Date.now().toString(36)}${(counter++).toString(36)}`;

export function sandboxSuite(name: string, fixture: () => Promise<SandboxFixture>): void {
  describe(`${name}: sandbox behaviour`, () => {
    let f: SandboxFixture;
    let sb: Sandbox;
    beforeEach(async () => {
      f = await fixture();
      sb = await f.provider.create({
        sessionId: sessionId(),
        settings: defaultSettings({ env: { FROM_PROFILE: "p" } }),
      });
    });
    afterEach(async () => {
      await sb.terminate();
      await f.cleanup();
    });

    it("runs commands with exit codes, stdout and stderr", async () => {
      const ok = await sb.exec({ command: "echo out; echo err >&2; exit 3" });
      expect(ok).toMatchObject({
        exitCode: 3,
        stdout: "out\n",
        stderr: "err\n",
        timedOut: false,
        cancelled: false,
        truncated: false,
      });
      expect((await sb.exec({ command: "true" })).exitCode).toBe(0);
    });

    it("streams output as it comes", async () => {
      const chunks: Array<[string, number]> = [];
      const t0 = Date.now();
      const r = await sb.exec({
        command: "echo first; sleep 0.5; echo second",
        onStdout: (c) => chunks.push([c, Date.now() - t0]),
      });
      expect(chunks.map(([c]) => c).join("")).toBe("first\nsecond\n");
      expect(chunks[0]![1]).toBeLessThan(r.durationMs - 200);
    });

    it("honours cwd and env", async () => {
      await sb.writeFile("sub/dir/f.txt", new TextEncoder().encode("x"));
      const r = await sb.exec({
        command: 'pwd; ls; echo "$FROM_PROFILE $FROM_CALL"',
        cwd: "sub/dir",
        env: { FROM_CALL: "c" },
      });
      expect(r.stdout).toMatch(/\/sub\/dir\nf\.txt\np c\n$/);
      await expect(sb.exec({ command: "true", cwd: "../.." })).rejects.toThrow(/cwd/);
    });

    it("stops a command at its timeout", async () => {
      const r = await sb.exec({ command: "sleep 20", timeoutMs: 300 });
      expect(r).toMatchObject({ timedOut: true, exitCode: null });
      expect(r.durationMs).toBeLessThan(10_000);
    });

    it("kills the whole process tree when cancelled", async () => {
      const abort = new AbortController();
      const running = sb.exec({
        command: "sleep 40 & sleep 41 & echo started; wait",
        signal: abort.signal,
        onStdout: () => abort.abort(),
      });
      const r = await running;
      expect(r.cancelled).toBe(true);
      expect(r.durationMs).toBeLessThan(10_000);
      const after = await sb.exec({
        command: "ps -e -o args 2>/dev/null | grep -c '^sleep 4[01]' || true",
      });
      expect(after.stdout.trim()).toBe("0");
    });

    it("bounds endless output", async () => {
      const r = await sb.exec({ command: "yes", timeoutMs: 20_000 });
      expect(r.truncated).toBe(true);
      expect(r.timedOut).toBe(false);
      expect(r.stdout.length).toBeGreaterThan(1000);
      expect(r.stdout.length).toBeLessThanOrEqual(16 * 1024 * 1024);
    });

    it("reads, writes, lists, stats and removes files, byte-exact, hidden and nested", async () => {
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await sb.writeFile("a/b/c/.hidden.bin", bytes);
      await sb.writeFile("top.txt", new TextEncoder().encode("top"));
      expect(await sb.readFile("a/b/c/.hidden.bin")).toEqual(bytes);
      const shown = await sb.exec({
        command: "od -An -tu1 -v a/b/c/.hidden.bin | tr -s ' \\n' ' '",
      });
      expect(shown.stdout.trim().split(" ").map(Number)).toEqual([...bytes]);
      const list = await sb.listFiles();
      const byPath = new Map(list.map((e) => [e.path, e]));
      expect(byPath.get("a")?.type).toBe("directory");
      expect(byPath.get("a/b/c/.hidden.bin")).toMatchObject({ type: "file", size: 256 });
      expect(byPath.get("top.txt")?.size).toBe(3);
      expect((await sb.listFiles("a/b")).map((e) => e.path).sort()).toEqual([
        "a/b/c",
        "a/b/c/.hidden.bin",
      ]);
      const st = await sb.stat("top.txt");
      expect(st).toMatchObject({ path: "top.txt", type: "file", size: 3 });
      expect(st!.mtimeMs).toBeGreaterThan(0);
      expect(await sb.stat("nope")).toBeNull();
      await sb.remove("a");
      expect(await sb.stat("a/b/c/.hidden.bin")).toBeNull();
      await sb.remove("a"); // absent: a no-op
      const made = await sb.exec({ command: "printf made > by-command.txt" });
      expect(made.exitCode).toBe(0);
      expect(new TextDecoder().decode(await sb.readFile("by-command.txt"))).toBe("made");
    });

    it("rejects paths outside the workspace", async () => {
      for (const path of ["/etc/passwd", "../x", "a/../../x", ""]) {
        await expect(sb.readFile(path)).rejects.toThrow();
        await expect(sb.writeFile(path, new Uint8Array(1))).rejects.toThrow();
      }
    });

    it("terminates, and is found again after a restart while live", async () => {
      await sb.writeFile("kept.txt", new TextEncoder().encode("kept"));
      expect(await sb.isAlive()).toBe(true);
      const again = await f.restart();
      expect((await again.listLive()).map((l) => l.sandboxId)).toContain(sb.id);
      const attached = await again.attach(sb.id, sb.sessionId);
      expect(attached?.id).toBe(sb.id);
      expect(new TextDecoder().decode(await attached!.readFile("kept.txt"))).toBe("kept");
      expect((await attached!.exec({ command: "cat kept.txt" })).stdout).toBe("kept");
      await attached!.terminate();
      expect(await sb.isAlive()).toBe(false);
      expect(await again.attach(sb.id, sb.sessionId)).toBeNull();
      expect((await again.listLive()).map((l) => l.sandboxId)).not.toContain(sb.id);
    });
  });
}
