import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkBubblewrap,
  DEFAULT_TIMEOUT_MS,
  LOCAL_SANDBOX_HOST_ID,
  LOCAL_SANDBOX_LIMITS,
  LocalSandboxProvider,
  MAX_FILE_BYTES,
  MAX_OPEN_FILES,
  MAX_OUTPUT_BYTES,
  MAX_PROCESSES,
  MAX_TIMEOUT_MS,
} from "../src/adapters/local-sandbox/provider.js";
import { silentLogger } from "../src/app/shared/logger.js";
import { type Sandbox, SandboxFileError } from "../src/ports/sandbox.js";
import { defaultSettings, sandboxSuite } from "./sandbox.suite.js";

const isRoot = process.getuid?.() === 0;
const text = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);
/** A number no other test's process has in its command line. */
const unique = () => `${Math.floor(Math.random() * 900) + 100}.${randomBytes(3).readUIntBE(0, 3)}`;
/** Host processes whose command line contains `needle`. */
function hostProcesses(needle: string): string[] {
  const r = spawnSync("ps", ["-e", "-o", "pid=,args="], { encoding: "utf8" });
  return r.stdout.split("\n").filter((l) => l.includes(needle) && !l.includes("ps -e"));
}

sandboxSuite("local (bubblewrap)", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "ar-local-"));
  return {
    provider: await LocalSandboxProvider.create({ dataDir, logger: silentLogger }),
    restart: () => LocalSandboxProvider.create({ dataDir, logger: silentLogger }),
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
    maxOutputBytes: MAX_OUTPUT_BYTES,
  };
});

describe("local sandbox isolation", () => {
  let dataDir: string;
  let provider: LocalSandboxProvider;
  let sb: Sandbox;
  let server: Server;
  let port: number;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "ar-escape-"));
    provider = await LocalSandboxProvider.create({ dataDir, logger: silentLogger });
    sb = await provider.create({ sessionId: "ses_escape", settings: defaultSettings() });
    server = createServer((socket) => socket.end("secret-from-host\n"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await sb.terminate();
    server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("has named limits with the documented values", () => {
    expect(LOCAL_SANDBOX_LIMITS).toMatchObject({
      defaultTimeoutMs: 120_000,
      maxTimeoutMs: 600_000,
      maxOutputBytes: 1024 * 1024,
      maxProcesses: 256,
      maxFileBytes: 256 * 1024 * 1024,
    });
    expect(DEFAULT_TIMEOUT_MS).toBeLessThan(MAX_TIMEOUT_MS);
  });

  it("sees no host files outside the system paths and writes nowhere but the workspace", async () => {
    await writeFile(join(dataDir, "host-secret.txt"), "host-secret");
    const r = await sb.exec({
      command: [
        "cat /etc/shadow && echo READ-SHADOW",
        `ls ${process.cwd()} && echo SAW-REPO`,
        "ls /work && echo SAW-WORK",
        "ls /root && echo SAW-ROOT",
        "ls /home/* && echo SAW-HOME",
        `cat ${join(dataDir, "host-secret.txt")} && echo SAW-DATA`,
        "ls /var/lib && echo SAW-VAR",
        "touch /usr/evil && echo WROTE-USR",
        "touch /etc/evil && echo WROTE-ETC",
        "touch /evil && echo WROTE-ROOT",
        "mkdir /root && echo MADE-ROOT",
        "echo inside > /tmp/sandbox-tmp-probe && echo TMP-OK",
        "echo x > /dev/shm/probe && echo SHM-OK",
        "echo x > /dev/evil && echo WROTE-DEV",
        "ls /workspace >/dev/null && echo WS-OK",
        "grep CapEff /proc/self/status",
      ].join("; "),
    });
    for (const marker of [
      "READ-SHADOW",
      "SAW-REPO",
      "SAW-WORK",
      "SAW-ROOT",
      "SAW-HOME",
      "SAW-DATA",
      "SAW-VAR",
      "WROTE-USR",
      "WROTE-ETC",
      "WROTE-ROOT",
      "MADE-ROOT",
      "WROTE-DEV",
    ]) {
      expect(r.stdout).not.toContain(marker);
    }
    expect(r.stdout).not.toContain("host-secret");
    expect(r.stdout).toContain("TMP-OK");
    expect(r.stdout).toContain("SHM-OK");
    expect(r.stdout).toContain("WS-OK");
    expect(existsSync("/tmp/sandbox-tmp-probe")).toBe(false);
    expect(existsSync("/usr/evil")).toBe(false);
    expect(r.stdout).toMatch(/CapEff:\s+0+\n/);
    // /tmp is the command's own: the next command does not see it.
    expect((await sb.exec({ command: "ls /tmp" })).stdout).toBe("");
  });

  it("runs as root of its own namespace, which is an unprivileged user on the host", async () => {
    const r = await sb.exec({ command: "id -u; echo made > owned.txt; sleep 0.2" });
    expect(r.stdout).toBe("0\n");
    // Where the server sees the workspace (through the workspaces' mount namespace, as root).
    const workspace = provider.hostPath(join(dataDir, "workspaces", "ses_escape"));
    const owner = statSync(join(workspace, "owned.txt")).uid;
    if (isRoot) {
      // Host root's processes ignore RLIMIT_NPROC: commands must not run as host root.
      expect(owner).toBe(LOCAL_SANDBOX_HOST_ID);
      expect(statSync(workspace).uid).toBe(LOCAL_SANDBOX_HOST_ID);
      expect(statSync(workspace).mode & 0o777).toBe(0o700);
      // Files the host writes belong to the sandbox user too, so commands can change them.
      await sb.writeFile("from-host/file.txt", text("h"));
      expect(statSync(join(workspace, "from-host/file.txt")).uid).toBe(LOCAL_SANDBOX_HOST_ID);
      expect(statSync(join(workspace, "from-host")).uid).toBe(LOCAL_SANDBOX_HOST_ID);
    } else {
      expect(owner).toBe(process.getuid?.());
    }
    const edit = await sb.exec({
      command: "echo more >> from-host/file.txt && cat from-host/file.txt",
    });
    expect(edit.stdout).toBe(isRoot ? "hmore\n" : "more\n");
  });

  it("keeps env values off the host's process list, and refuses malformed env", async () => {
    const secret = `s3cret-${randomBytes(6).toString("hex")}`;
    const running = sb.exec({ command: 'echo "$TOKEN"; sleep 0.5', env: { TOKEN: secret } });
    await new Promise((r) => setTimeout(r, 250));
    expect(hostProcesses(secret)).toEqual([]);
    expect((await running).stdout).toBe(`${secret}\n`);
    await expect(sb.exec({ command: "true", env: { "A=B": "x" } })).rejects.toMatchObject({
      code: "invalid_argument",
    });
  });

  it("applies the process, file size and open file limits, by default", async () => {
    const r = await sb.exec({ command: "cat /proc/self/limits" });
    expect(r.stdout).toMatch(new RegExp(`Max processes\\s+${MAX_PROCESSES}\\s+${MAX_PROCESSES}`));
    expect(r.stdout).toMatch(new RegExp(`Max file size\\s+${MAX_FILE_BYTES}\\s+${MAX_FILE_BYTES}`));
    expect(r.stdout).toMatch(
      new RegExp(`Max open files\\s+${MAX_OPEN_FILES}\\s+${MAX_OPEN_FILES}`),
    );
  });

  it("keeps the file API inside the workspace through .. and symlink tricks", async () => {
    const made = await sb.exec({
      command: [
        "ln -s / rootlink",
        "ln -s /etc/passwd pw",
        "mkdir -p d",
        "ln -s ../.. d/up",
        "ln -s top.txt inner",
        "ln -s /workspace/top.txt absinner",
        "ln -s /workspace/../etc absout",
        "ln -s loop1 loop2; ln -s loop2 loop1",
        "echo hi > top.txt",
        "mkfifo fifo",
      ].join("; "),
    });
    expect(made.exitCode).toBe(0);
    for (const path of ["rootlink/etc/passwd", "pw", "d/up/etc/passwd", "absout/passwd"]) {
      await expect(sb.readFile(path), path).rejects.toThrow(/leads out of the workspace/);
      await expect(sb.writeFile(path, text("x")), path).rejects.toThrow(/leads out/);
    }
    await expect(sb.writeFile("rootlink/tmp/evil", text("x"))).rejects.toThrow(/leads out/);
    await expect(sb.stat("rootlink/etc")).rejects.toThrow(/leads out/);
    await expect(sb.listFiles("rootlink")).rejects.toThrow(/leads out/);
    await expect(sb.readFile("loop1")).rejects.toThrow(/symbolic links/);
    expect(existsSync("/tmp/evil")).toBe(false);
    // A FIFO neither hangs nor is read.
    await expect(sb.readFile("fifo")).rejects.toThrow(/not a regular file/);
    await expect(sb.writeFile("fifo", text("x"))).rejects.toThrow();
    // Links that stay inside are followed, relative or absolute under /workspace.
    expect(decode(await sb.readFile("inner"))).toBe("hi\n");
    expect(decode(await sb.readFile("absinner"))).toBe("hi\n");
    await sb.writeFile("inner", text("via link"));
    expect(decode(await sb.readFile("top.txt"))).toBe("via link");
    // Listing shows links as links and never walks into them.
    const listed = await sb.listFiles();
    expect(listed.find((e) => e.path === "rootlink")?.type).toBe("symlink");
    expect(listed.some((e) => e.path.startsWith("rootlink/"))).toBe(false);
    expect(await sb.stat("pw")).toMatchObject({ type: "symlink" });
    // Removing a link removes the link, never its target.
    await sb.remove("rootlink");
    await sb.remove("pw");
    expect(existsSync("/etc/passwd")).toBe(true);
    expect(await sb.stat("rootlink")).toBeNull();
    // Inside the sandbox, / is the sandbox's own root: no host secrets behind the link either.
    const inside = await sb.exec({ command: "cat d/up/etc/shadow 2>&1; ls d/up/root 2>&1" });
    expect(inside.stdout).not.toContain("root:");
    await sb.remove("d");
  });

  it("never follows a link swapped in while the host reads (race)", async () => {
    // The command flips `race` between a real directory and a link to the host's /etc as fast as
    // it can; the host keeps reading race/passwd. It may get the inside file or an error, never
    // the host's /etc/passwd.
    const hostPasswd = await readFile("/etc/passwd", "utf8");
    const abort = new AbortController();
    const flipping = sb.exec({
      command:
        "while :; do rm -rf race; mkdir race; echo inside > race/passwd; " +
        "rm -rf race; ln -s /etc race; done",
      signal: abort.signal,
      timeoutMs: 20_000,
    });
    let inside = 0;
    let refused = 0;
    const until = Date.now() + 1_500;
    while (Date.now() < until) {
      try {
        const got = decode(await sb.readFile("race/passwd"));
        expect(got).not.toBe(hostPasswd);
        expect(got).toBe("inside\n");
        inside++;
      } catch (err) {
        expect(String(err)).not.toContain("root:x");
        refused++;
      }
      await sb.writeFile("race/written", text("x")).catch(() => {});
    }
    abort.abort();
    await flipping;
    expect(inside + refused).toBeGreaterThan(20);
    expect(existsSync("/etc/written")).toBe(false);
  });

  it("reaches no network, not even the host's loopback, unless the profile allows it", async () => {
    const probe = `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port} && cat <&3' 2>&1; echo "exit=$?"`;
    const off = await sb.exec({ command: probe, timeoutMs: 10_000 });
    expect(off.stdout).not.toContain("secret-from-host");
    expect(off.stdout).toMatch(/exit=1/);
    const ifaces = await sb.exec({
      command: "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '",
    });
    expect(ifaces.stdout.trim()).toBe("lo");
    // With the network allowed the sandbox shares the host's network namespace: it reaches the
    // host's loopback too (that is what --share-net means).
    const open = await provider.create({
      sessionId: "ses_escape_net",
      settings: defaultSettings({ networkAllowed: true }),
    });
    const on = await open.exec({ command: probe, timeoutMs: 10_000 });
    expect(on.stdout).toContain("secret-from-host");
    await open.terminate();
  });

  it("bounds processes: many children stop at the limit; a fork bomb ends at its timeout", async () => {
    const many = await sb.exec({
      // dash gives up at the first failed fork; the count then uses no fork at all.
      command: "(for i in $(seq 400); do sleep 3 & done) 2>/dev/null; set -- /proc/[0-9]*; echo $#",
      timeoutMs: 10_000,
    });
    const count = Number(many.stdout.trim());
    expect(count).toBeGreaterThan(MAX_PROCESSES / 2);
    expect(count).toBeLessThanOrEqual(MAX_PROCESSES + 2);
    const tag = unique();
    const t0 = Date.now();
    const bomb = await sb.exec({
      command: `bomb() { bomb | bomb & }; bomb; sleep ${tag}`,
      timeoutMs: 2_000,
    });
    expect(bomb.timedOut).toBe(true);
    expect(Date.now() - t0).toBeLessThan(15_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(hostProcesses(`sleep ${tag}`)).toEqual([]);
    expect((await sb.exec({ command: "echo still-works" })).stdout).toBe("still-works\n");
  }, 30_000);

  it("leaves no process that tries to survive cancellation (seen from the host)", async () => {
    const tag = unique();
    const abort = new AbortController();
    const r = await sb.exec({
      command: [
        `setsid sleep ${tag}1 &`,
        `nohup sleep ${tag}2 >/dev/null 2>&1 &`,
        `(sleep ${tag}3 &) &`,
        `(setsid sh -c 'sleep ${tag}4 & sleep ${tag}5' &)`,
        "trap '' TERM HUP INT",
        "sleep 0.2; echo up",
        `sleep ${tag}6`,
      ].join("\n"),
      signal: abort.signal,
      onStdout: () => abort.abort(),
    });
    expect(r.cancelled).toBe(true);
    expect(hostProcesses(`sleep ${tag}`).length).toBeLessThanOrEqual(6);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hostProcesses(`sleep ${tag}`)).toEqual([]);
  });

  it("dies with the server: a killed server leaves no sandboxed process behind", async () => {
    const tag = unique();
    const script = join(dataDir, "server.mts");
    const providerModule = join(process.cwd(), "src/adapters/local-sandbox/provider.ts");
    await writeFile(
      script,
      `import { LocalSandboxProvider } from ${JSON.stringify(providerModule)};
const p = await LocalSandboxProvider.create({ dataDir: ${JSON.stringify(join(dataDir, "srv"))} });
const sb = await p.create({ sessionId: "ses_srv", settings: { provider: "default", networkAllowed: false, env: {}, image: "", cpu: 0, memoryMib: 0, providerOptions: {} } });
await sb.exec({ command: "setsid sleep ${tag} & echo up; sleep ${tag}", onStdout: () => console.log("running") });
`,
    );
    const server = spawn(process.execPath, ["--import", "tsx", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      server.stdout.on("data", (d: Buffer) => d.toString().includes("running") && resolve());
      server.on("exit", () => reject(new Error("the server script ended early")));
    });
    expect(hostProcesses(`sleep ${tag}`).length).toBeGreaterThan(0);
    server.kill("SIGKILL");
    await new Promise((r) => setTimeout(r, 500));
    expect(hostProcesses(`sleep ${tag}`)).toEqual([]);
  });

  it("terminate keeps the workspace; destroy removes it", async () => {
    const box = await provider.create({ sessionId: "ses_keep", settings: defaultSettings() });
    await box.writeFile("a/b.txt", text("kept"));
    await box.exec({ command: "ln -s / escape; mkdir -p deep/er; echo x > deep/er/f" });
    await box.terminate();
    const workspace = join(dataDir, "workspaces", "ses_keep");
    const image = join(dataDir, "workspace-images", "ses_keep.ext4");
    // Terminated, its files are still there for the host, and for the session's next sandbox.
    expect(decode(await box.readFile("a/b.txt"))).toBe("kept");
    const next = await provider.create({ sessionId: "ses_keep", settings: defaultSettings() });
    expect((await next.exec({ command: "cat a/b.txt deep/er/f" })).stdout).toBe("keptx\n");
    await next.terminate();
    if (isRoot) expect(existsSync(image)).toBe(true);
    await provider.destroy("ses_keep");
    expect(existsSync(workspace)).toBe(false);
    expect(existsSync(image)).toBe(false);
    expect(existsSync("/etc/passwd")).toBe(true);
    const again = await provider.create({ sessionId: "ses_keep", settings: defaultSettings() });
    expect(await again.listFiles()).toEqual([]);
    await again.terminate();
    await provider.destroy("ses_keep");
    await provider.destroy("ses_keep"); // again: a no-op
  });
});

describe("local sandbox limits", () => {
  it("enforces smaller configured limits: file size, /tmp size, output, timeout clamp", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "ar-limits-"));
    const provider = await LocalSandboxProvider.create({
      dataDir,
      logger: silentLogger,
      limits: {
        maxFileBytes: 1024 * 1024,
        maxTmpBytes: 2 * 1024 * 1024,
        maxOutputBytes: 1000,
        maxTimeoutMs: 300,
      },
    });
    const sb = await provider.create({ sessionId: "ses_limits", settings: defaultSettings() });
    const big = await sb.exec({ command: "head -c 3000000 /dev/zero > big; echo exit=$?" });
    expect(big.stdout).toMatch(/exit=153/); // 128 + SIGXFSZ
    expect((await sb.stat("big"))?.size).toBe(1024 * 1024);
    const tmp = await sb.exec({
      command: "for i in 1 2 3; do head -c 900000 /dev/zero > /tmp/f$i || echo FULL; done",
    });
    expect(tmp.stdout + tmp.stderr).toMatch(/FULL|No space/);
    const out = await sb.exec({ command: "seq 100000" });
    expect(out.truncated).toBe(true);
    expect(out.stdout.length).toBe(1000);
    const long = await sb.exec({ command: "sleep 5", timeoutMs: 60_000 });
    expect(long.timedOut).toBe(true);
    expect(long.durationMs).toBeLessThan(3_000);
    await sb.terminate();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("starts a bubblewrap sandbox quickly", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "ar-latency-"));
    const provider = await LocalSandboxProvider.create({ dataDir, logger: silentLogger });
    const sb = await provider.create({ sessionId: "ses_latency", settings: defaultSettings() });
    await sb.exec({ command: "true" });
    const runs = 10;
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) await sb.exec({ command: "true" });
    const perCommand = (performance.now() - t0) / runs;
    console.info(
      `local sandbox: bwrap + prlimit + sh start and exit in ${perCommand.toFixed(1)} ms`,
    );
    expect(perCommand).toBeLessThan(500);
    await sb.terminate();
    await rm(dataDir, { recursive: true, force: true });
  });
});

describe("local sandbox without bubblewrap", () => {
  it("checkBubblewrap says whether bubblewrap runs, and why not", () => {
    expect(checkBubblewrap()).toEqual({ ok: true });
    const missing = checkBubblewrap({ bwrapPath: "/nonexistent/bwrap" });
    expect(missing.ok).toBe(false);
    expect(!missing.ok && missing.reason).toMatch(/\/nonexistent\/bwrap could not run/);
  });

  it("refuses to start unless isolation is explicitly given up, then warns on every start", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ar-nobwrap-"));
    await expect(
      LocalSandboxProvider.create({
        dataDir: dir,
        logger: silentLogger,
        bwrapPath: "/nonexistent/bwrap",
      }),
    ).rejects.toThrow(/needs bubblewrap.*could not run.*ALLOW_UNISOLATED_SANDBOX/s);
    const warnings: Array<[string, Record<string, unknown> | undefined]> = [];
    const unisolated = await LocalSandboxProvider.create({
      dataDir: dir,
      allowUnisolated: true,
      bwrapPath: "/nonexistent/bwrap",
      logger: { warn: (msg, fields) => warnings.push([msg, fields]) },
    });
    expect(unisolated.isolated).toBe(false);
    const box = await unisolated.create({
      sessionId: "ses_unisolated",
      settings: defaultSettings(),
    });
    await unisolated.create({ sessionId: "ses_unisolated2", settings: defaultSettings() });
    const starts = warnings.filter(([m]) => m.startsWith("starting a local sandbox WITHOUT"));
    expect(starts.map(([, f]) => f?.sessionId)).toEqual(["ses_unisolated", "ses_unisolated2"]);
    const r = await box.exec({ command: "pwd; echo $HOME; echo plain > f.txt" });
    const workspace = join(dir, "workspaces", "ses_unisolated");
    expect(r.stdout).toBe(`${workspace}\n${workspace}\n`);
    expect(decode(await box.readFile("f.txt"))).toBe("plain\n");
    // Cancelling kills the process group here too.
    const tag = unique();
    const abort = new AbortController();
    const c = await box.exec({
      command: `sleep ${tag} & echo up; wait`,
      signal: abort.signal,
      onStdout: () => abort.abort(),
    });
    expect(c.cancelled).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(hostProcesses(`sleep ${tag}`)).toEqual([]);
    await box.terminate();
    await rm(dir, { recursive: true, force: true });
  });
});

describe("local sandbox file errors", () => {
  it("name the workspace path, never the host's", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "ar-errors-"));
    const provider = await LocalSandboxProvider.create({ dataDir, logger: silentLogger });
    const sb = await provider.create({ sessionId: "ses_errors", settings: defaultSettings() });
    const err = await sb.readFile("missing/file.txt").catch((e: unknown) => e as Error);
    expect((err as Error).message).toBe("missing/file.txt: no such file or directory");
    expect(err).toBeInstanceOf(SandboxFileError);
    expect((err as SandboxFileError).kind).toBe("not_found");
    await sb.writeFile("dir/f", text("x"));
    const dirErr = await sb.readFile("dir").catch((e: unknown) => e as Error);
    expect((dirErr as Error).message).toBe("dir: is a directory");
    expect((dirErr as Error).message).not.toContain(dataDir);
    await sb.terminate();
    await rm(dataDir, { recursive: true, force: true });
  });
});
