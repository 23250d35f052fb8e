// One behaviour suite for every SandboxProvider: each implementation runs it, so they cannot drift.
// Everything here is observable through the port alone (commands and the file API), so the same
// checks hold for a local bubblewrap sandbox and a Modal container.

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SandboxSettings } from "../src/domain/types.js";
import { type Sandbox, SandboxFileError, type SandboxProvider } from "../src/ports/sandbox.js";

export interface SandboxFixture {
  provider: SandboxProvider;
  /** A new provider instance over the same state, as after a server restart. */
  restart(): Promise<SandboxProvider>;
  cleanup(): Promise<void>;
  /** The provider's output limit per stream, in bytes. */
  maxOutputBytes: number;
  /** Where commands see the workspace; default /workspace (a fake may not manage that path). */
  workdir?: (sandbox: Sandbox) => string;
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
const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A shell loop that appends to `file` every 50 ms: alive as long as the file grows. */
const ticker = (file: string) => `sh -c 'while :; do echo t >> ${file}; sleep 0.05; done'`;

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

    /** Sizes of `files` now and a while later: equal when nothing writes to them any more. */
    async function stillGrowing(files: string[]): Promise<string[]> {
      const size = async (p: string) => (await sb.stat(p))?.size ?? -1;
      const before = await Promise.all(files.map(size));
      await sleep(400);
      const after = await Promise.all(files.map(size));
      return files.filter((_, i) => after[i] !== before[i]);
    }

    it("runs commands with exit codes, stdout and stderr", async () => {
      const r = await sb.exec({ command: "echo out; echo err >&2; exit 3" });
      expect(r).toMatchObject({
        exitCode: 3,
        stdout: "out\n",
        stderr: "err\n",
        timedOut: false,
        cancelled: false,
        truncated: false,
      });
      expect(r.durationMs).toBeGreaterThanOrEqual(0);
      expect((await sb.exec({ command: "true" })).exitCode).toBe(0);
      expect((await sb.exec({ command: "kill -9 $$" })).exitCode).not.toBe(0);
      const missing = await sb.exec({ command: "no-such-command-here" });
      expect(missing.exitCode).toBe(127);
      expect(missing.stderr).toMatch(/not found/);
    });

    it("streams stdout and stderr as they come, in order", async () => {
      const events: Array<[string, string, number]> = [];
      const t0 = Date.now();
      const r = await sb.exec({
        command: "echo one; sleep 0.3; echo two >&2; sleep 0.3; echo three",
        onStdout: (c) => events.push(["out", c, Date.now() - t0]),
        onStderr: (c) => events.push(["err", c, Date.now() - t0]),
      });
      expect(events.map(([s, c]) => `${s}:${c}`)).toEqual([
        "out:one\n",
        "err:two\n",
        "out:three\n",
      ]);
      expect(r.stdout).toBe("one\nthree\n");
      expect(r.stderr).toBe("two\n");
      // The first line arrived while the command still ran.
      expect(events[0]![2]).toBeLessThan(r.durationMs - 400);
    });

    it("runs in the workspace or the given cwd, with the profile's and the call's env", async () => {
      await sb.writeFile("sub/dir/f.txt", text("x"));
      const r = await sb.exec({
        command: 'pwd; ls; echo "$FROM_PROFILE $FROM_CALL"',
        cwd: "sub/dir",
        env: { FROM_CALL: "c" },
      });
      const workdir = f.workdir?.(sb) ?? "/workspace";
      expect(r.stdout).toBe(`${workdir}/sub/dir\nf.txt\np c\n`);
      expect((await sb.exec({ command: "pwd" })).stdout).toBe(`${workdir}\n`);
      const over = await sb.exec({
        command: 'echo "$FROM_PROFILE"',
        env: { FROM_PROFILE: "call" },
      });
      expect(over.stdout).toBe("call\n");
      await expect(sb.exec({ command: "true", cwd: "../.." })).rejects.toThrow(/cwd/);
      await expect(sb.exec({ command: "true", cwd: "/etc" })).rejects.toThrow(/cwd/);
    });

    it("stops a command at its timeout", async () => {
      const t0 = Date.now();
      const r = await sb.exec({ command: "echo before; sleep 30", timeoutMs: 500 });
      expect(r).toMatchObject({ timedOut: true, cancelled: false, exitCode: null });
      expect(r.stdout).toBe("before\n");
      expect(Date.now() - t0).toBeLessThan(8_000);
    });

    it("kills the whole process tree when cancelled, however it detached", async () => {
      const abort = new AbortController();
      const files = ["bg.tick", "setsid.tick", "nohup.tick", "double.tick", "fg.tick"];
      const r = await sb.exec({
        command: [
          `${ticker("bg.tick")} &`,
          `setsid ${ticker("setsid.tick")} &`,
          `nohup ${ticker("nohup.tick")} >/dev/null 2>&1 &`,
          `(${ticker("double.tick")} &) &`,
          "sleep 0.3; echo started",
          ticker("fg.tick"),
        ].join("\n"),
        signal: abort.signal,
        onStdout: () => abort.abort(),
      });
      expect(r.cancelled).toBe(true);
      expect(r.exitCode).toBeNull();
      expect(r.durationMs).toBeLessThan(10_000);
      for (const file of files.slice(0, 4)) expect(await sb.stat(file)).not.toBeNull();
      expect(await stillGrowing(files)).toEqual([]);
    });

    it("ends background processes with their command", async () => {
      const r = await sb.exec({ command: `${ticker("left.tick")} & sleep 0.3; echo done` });
      expect(r.exitCode).toBe(0);
      expect(await stillGrowing(["left.tick"])).toEqual([]);
    });

    it("returns at once, without running, when cancelled before it starts", async () => {
      const abort = new AbortController();
      abort.abort();
      const r = await sb.exec({ command: "echo ran > ran.txt", signal: abort.signal });
      expect(r.cancelled).toBe(true);
      expect(await sb.stat("ran.txt")).toBeNull();
    });

    it("bounds endless output on each stream", async () => {
      const out = await sb.exec({ command: "yes", timeoutMs: 20_000 });
      expect(out).toMatchObject({ truncated: true, timedOut: false, exitCode: null });
      expect(out.stdout.length).toBe(f.maxOutputBytes);
      const err = await sb.exec({ command: "yes >&2", timeoutMs: 20_000 });
      expect(err).toMatchObject({ truncated: true, timedOut: false });
      expect(err.stderr.length).toBe(f.maxOutputBytes);
      // Exactly the limit is not too much.
      const exact = await sb.exec({
        command: `head -c ${f.maxOutputBytes} /dev/zero | tr '\\0' x`,
      });
      expect(exact).toMatchObject({ truncated: false, exitCode: 0 });
      expect(exact.stdout.length).toBe(f.maxOutputBytes);
    });

    it("reads, writes, lists, stats and removes files, byte-exact, hidden and nested", async () => {
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await sb.writeFile("a/b/c/.hidden.bin", bytes);
      await sb.writeFile("top.txt", text("top"));
      await sb.writeFile(".env", text("K=V"));
      expect(await sb.readFile("a/b/c/.hidden.bin")).toEqual(bytes);
      // The command sees the same bytes.
      const shown = await sb.exec({
        command: "od -An -tu1 -v a/b/c/.hidden.bin | tr -s ' \\n' ' '",
      });
      expect(shown.stdout.trim().split(" ").map(Number)).toEqual([...bytes]);
      // ...and what a command writes reads back byte for byte.
      await sb.exec({ command: "cat a/b/c/.hidden.bin a/b/c/.hidden.bin > twice.bin" });
      expect(await sb.readFile("twice.bin")).toEqual(Uint8Array.from([...bytes, ...bytes]));
      const byPath = new Map((await sb.listFiles()).map((e) => [e.path, e]));
      expect(byPath.get("a")?.type).toBe("directory");
      expect(byPath.get("a/b/c")?.type).toBe("directory");
      expect(byPath.get("a/b/c/.hidden.bin")).toMatchObject({ type: "file", size: 256 });
      expect(byPath.get(".env")).toMatchObject({ type: "file", size: 3 });
      expect(byPath.get("top.txt")?.size).toBe(3);
      expect((await sb.listFiles("a/b")).map((e) => e.path).sort()).toEqual([
        "a/b/c",
        "a/b/c/.hidden.bin",
      ]);
      expect(await sb.listFiles("nope")).toEqual([]);
      const st = await sb.stat("top.txt");
      expect(st).toMatchObject({ path: "top.txt", type: "file", size: 3 });
      expect(Math.abs(st!.mtimeMs - Date.now())).toBeLessThan(60_000);
      expect(await sb.stat("a/b")).toMatchObject({ type: "directory" });
      expect(await sb.stat("nope")).toBeNull();
      expect(await sb.stat("nope/deeper")).toBeNull();
      // Overwriting replaces the whole content.
      await sb.writeFile("top.txt", text("x"));
      expect(decode(await sb.readFile("top.txt"))).toBe("x");
      await sb.writeFile("empty", new Uint8Array(0));
      expect((await sb.readFile("empty")).length).toBe(0);
      await expect(sb.readFile("missing.txt")).rejects.toThrow(/missing\.txt/);
      await expect(sb.readFile("a/b")).rejects.toThrow();
      await sb.remove("a");
      expect(await sb.stat("a/b/c/.hidden.bin")).toBeNull();
      expect(await sb.stat("a")).toBeNull();
      await sb.remove("a"); // absent: a no-op
      await sb.remove("top.txt");
      expect(await sb.stat("top.txt")).toBeNull();
      const made = await sb.exec({ command: "mkdir -p x/y && printf made > x/y/by-command.txt" });
      expect(made.exitCode).toBe(0);
      expect(decode(await sb.readFile("x/y/by-command.txt"))).toBe("made");
      // Duplicate and trailing slashes name the same file.
      expect(decode(await sb.readFile("x//y/by-command.txt"))).toBe("made");
    });

    it("runs commands with bash", async () => {
      const r = await sb.exec({
        command:
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash expansion, not a template
          "[[ 1 == 1 ]] && arr=(a b); echo ${arr[1]}; set -o pipefail; false | true; " +
          'echo "pipefail=$?"; echo "x=1" > vars.sh; source vars.sh; echo "x=$x"; ' +
          'echo "$BASH_VERSION" | grep -q . && echo bash',
      });
      expect(r).toMatchObject({ exitCode: 0, stdout: "b\npipefail=1\nx=1\nbash\n", stderr: "" });
    });

    it("refuses file operations the file system rejects with typed errors naming only the path", async () => {
      await sb.writeFile("notes/demo.md", text("# demo"));
      const cases: Array<[() => Promise<unknown>, string, SandboxFileError["kind"]]> = [
        [() => sb.writeFile("notes", text("x")), "notes", "is_directory"],
        [() => sb.writeFile("notes/demo.md/x", text("x")), "notes/demo.md/x", "not_directory"],
        [() => sb.writeFile("notes/demo.md/y/x", text("x")), "notes/demo.md/y/x", "not_directory"],
        [() => sb.readFile("notes"), "notes", "is_directory"],
        [() => sb.readFile("notes/missing.md"), "notes/missing.md", "not_found"],
        [() => sb.readFile("notes/demo.md/x"), "notes/demo.md/x", "not_directory"],
      ];
      for (const [op, path, kind] of cases) {
        const err = await op().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, path).toBeInstanceOf(SandboxFileError);
        const e = err as SandboxFileError;
        expect({ path: e.path, kind: e.kind }, path).toEqual({ path, kind });
        // The workspace path, then words: no host or container path anywhere.
        expect(e.message.startsWith(`${path}: `), e.message).toBe(true);
        expect(e.message.slice(path.length + 2), e.message).not.toMatch(/\//);
      }
      expect(decode(await sb.readFile("notes/demo.md"))).toBe("# demo");
      // A name longer than a file system allows never reaches it.
      const long = `notes/${"n".repeat(256)}.md`;
      await expect(sb.writeFile(long, text("x"))).rejects.toMatchObject({
        code: "invalid_argument",
      });
      await expect(sb.readFile(long)).rejects.toMatchObject({ code: "invalid_argument" });
    });

    it("rejects paths that are not plain workspace paths", async () => {
      for (const path of ["/etc/passwd", "../x", "a/../../x", "a/./b", "", "a\\b", "a\0b"]) {
        await expect(sb.readFile(path), path).rejects.toMatchObject({ code: "invalid_argument" });
        await expect(sb.writeFile(path, text("x")), path).rejects.toMatchObject({
          code: "invalid_argument",
        });
        await expect(sb.stat(path), path).rejects.toMatchObject({ code: "invalid_argument" });
        await expect(sb.remove(path), path).rejects.toMatchObject({ code: "invalid_argument" });
      }
      await expect(sb.listFiles("../")).rejects.toMatchObject({ code: "invalid_argument" });
      await expect(sb.readFile("x".repeat(1025))).rejects.toMatchObject({
        code: "invalid_argument",
      });
    });

    it("spawns a long-running process: stdin in, stdout and stderr out, killed with its tree", async () => {
      let out = "";
      let err = "";
      const p = await sb.spawn({
        command: `${ticker("spawn.tick")} & echo "$FROM_PROFILE $X"; while read l; do echo "got $l"; echo "e $l" >&2; done`,
        env: { X: "x" },
        onStdout: (c) => {
          out += c;
        },
        onStderr: (c) => {
          err += c;
        },
      });
      await p.write("one\n");
      await p.write("two\n");
      for (let i = 0; i < 100 && !out.includes("got two"); i++) await sleep(50);
      expect(out).toBe("p x\ngot one\ngot two\n");
      expect(err).toBe("e one\ne two\n");
      p.kill();
      await p.exited;
      await expect(p.write("three\n")).rejects.toThrow();
      expect(await stillGrowing(["spawn.tick"])).toEqual([]);
    });

    it("a spawned process ends on its own, when cancelled, and with its sandbox", async () => {
      const done = await sb.spawn({ command: "exit 4" });
      expect(await done.exited).toBe(4);
      const abort = new AbortController();
      const cancelled = await sb.spawn({ command: "sleep 60", signal: abort.signal });
      abort.abort();
      expect(await cancelled.exited).not.toBe(0);
      const running = await sb.spawn({ command: "sleep 60" });
      await sb.terminate();
      expect(await running.exited).not.toBe(0);
    });

    it("terminates: not alive, runs nothing more, idempotent", async () => {
      expect(await sb.isAlive()).toBe(true);
      await sb.terminate();
      expect(await sb.isAlive()).toBe(false);
      await expect(sb.exec({ command: "true" })).rejects.toThrow();
      await sb.terminate();
      expect((await f.provider.listLive()).map((l) => l.sandboxId)).not.toContain(sb.id);
    });

    it("terminating kills a running command", async () => {
      const running = sb.exec({ command: `${ticker("run.tick")} & sleep 30`, timeoutMs: 60_000 });
      await sleep(500);
      await sb.terminate();
      const r = await running;
      expect(r.exitCode).not.toBe(0);
      expect(r.durationMs).toBeLessThan(20_000);
    });

    it("is found again after a restart while live, with its files", async () => {
      await sb.writeFile("kept.txt", text("kept"));
      const again = await f.restart();
      const live = await again.listLive();
      expect(live).toContainEqual({ sandboxId: sb.id, sessionId: sb.sessionId });
      expect(await again.attach(sb.id, "ses_someone_else")).toBeNull();
      expect(await again.attach("no-such-sandbox", sb.sessionId)).toBeNull();
      const attached = await again.attach(sb.id, sb.sessionId);
      expect(attached?.id).toBe(sb.id);
      expect(attached?.sessionId).toBe(sb.sessionId);
      expect(decode(await attached!.readFile("kept.txt"))).toBe("kept");
      expect((await attached!.exec({ command: "cat kept.txt; echo $FROM_PROFILE" })).stdout).toBe(
        "keptp\n",
      );
      await attached!.terminate();
      expect(await sb.isAlive()).toBe(false);
      expect(await again.attach(sb.id, sb.sessionId)).toBeNull();
      expect((await again.listLive()).map((l) => l.sandboxId)).not.toContain(sb.id);
    });
  });
}
