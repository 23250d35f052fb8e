import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  LOCAL_SANDBOX_LIMITS,
  LocalSandboxProvider,
} from "../src/adapters/local-sandbox/provider.js";
import { silentLogger } from "../src/app/logger.js";
import type { Sandbox } from "../src/ports/sandbox.js";
import { defaultSettings, sandboxSuite } from "./sandbox.suite.js";

sandboxSuite("local (bubblewrap)", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "ar-local-"));
  return {
    provider: await LocalSandboxProvider.create({ dataDir, logger: silentLogger }),
    restart: () => LocalSandboxProvider.create({ dataDir, logger: silentLogger }),
    cleanup: () => rm(dataDir, { recursive: true, force: true }),
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

  it("sees no host files outside the system paths and writes nowhere but the workspace", async () => {
    const r = await sb.exec({
      command: [
        "cat /etc/shadow && echo READ-SHADOW",
        `ls ${process.cwd()} && echo SAW-REPO`,
        "ls /root && echo SAW-ROOT",
        `ls ${dataDir} && echo SAW-DATA`,
        "touch /usr/evil && echo WROTE-USR",
        "touch /etc/evil && echo WROTE-ETC",
        "echo inside > /tmp/sandbox-tmp-probe && echo TMP-OK",
        "id -u; cat /proc/self/status | grep CapEff",
      ].join("; "),
    });
    for (const marker of [
      "READ-SHADOW",
      "SAW-REPO",
      "SAW-ROOT",
      "SAW-DATA",
      "WROTE-USR",
      "WROTE-ETC",
    ]) {
      expect(r.stdout).not.toContain(marker);
    }
    expect(r.stdout).toContain("TMP-OK");
    expect(existsSync("/tmp/sandbox-tmp-probe")).toBe(false);
    expect(r.stdout).toMatch(/CapEff:\s+0+\n/);
  });

  it("keeps the file API inside the workspace through .. and symlink tricks", async () => {
    const made = await sb.exec({
      command:
        "ln -s / rootlink; ln -s /etc/passwd pw; mkdir -p d; ln -s ../.. d/up; ln -s top.txt inner; echo hi > top.txt",
    });
    expect(made.exitCode).toBe(0);
    await expect(sb.readFile("rootlink/etc/passwd")).rejects.toThrow(/symbolic link/);
    await expect(sb.readFile("pw")).rejects.toThrow(/leads out/);
    await expect(sb.readFile("d/up/x")).rejects.toThrow(/symbolic link/);
    await expect(sb.writeFile("rootlink/tmp/evil", new Uint8Array(1))).rejects.toThrow(
      /symbolic link/,
    );
    await expect(sb.writeFile("pw", new Uint8Array(1))).rejects.toThrow(/symbolic link/);
    expect(existsSync("/tmp/evil")).toBe(false);
    // A link that stays inside may be read.
    expect(new TextDecoder().decode(await sb.readFile("inner"))).toBe("hi\n");
    const listed = await sb.listFiles();
    expect(listed.find((e) => e.path === "rootlink")?.type).toBe("symlink");
    expect(listed.some((e) => e.path.startsWith("rootlink/"))).toBe(false);
    await sb.remove("rootlink");
    expect(existsSync("/etc/passwd")).toBe(true);
    // Inside the sandbox, / is the sandbox's own root.
    const inside = await sb.exec({ command: "cat rootlink/etc/shadow 2>&1; ls rootlink/" });
    expect(inside.stdout).not.toContain("root:");
  });

  it("reaches no network, not even the host's loopback, unless the profile allows it", async () => {
    const probe = `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port} && cat <&3' 2>&1; echo "exit=$?"`;
    const off = await sb.exec({ command: probe, timeoutMs: 10_000 });
    expect(off.stdout).not.toContain("secret-from-host");
    const ifaces = await sb.exec({
      command: "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '",
    });
    expect(ifaces.stdout.trim()).toBe("lo");
    const open = await provider.create({
      sessionId: "ses_escape_net",
      settings: defaultSettings({ networkAllowed: true }),
    });
    const on = await open.exec({ command: probe, timeoutMs: 10_000 });
    expect(on.stdout).toContain("secret-from-host");
    await open.terminate();
  });

  it("bounds a fork bomb by the process limit and leaves nothing running", async () => {
    const r = await sb.exec({
      command: "bomb() { bomb | bomb & }; bomb; sleep 1; echo survived-the-bomb",
      timeoutMs: 5_000,
    });
    expect(r.durationMs).toBeLessThan(60_000);
    const host = spawnSync(
      "sh",
      ["-c", "ps -e -o args | grep -c '^bomb\\|^/bin/sh -c bomb' || true"],
      { encoding: "utf8" },
    );
    expect(Number(host.stdout.trim())).toBe(0);
    expect((await sb.exec({ command: "echo still-works" })).stdout).toBe("still-works\n");
    expect(LOCAL_SANDBOX_LIMITS.maxProcesses).toBeGreaterThan(0);
  }, 90_000);

  it("leaves no process that tries to survive cancellation", async () => {
    const abort = new AbortController();
    const r = await sb.exec({
      command:
        "setsid sleep 311 & nohup sleep 312 >/dev/null 2>&1 & (sleep 313 &) ; echo up; sleep 314",
      signal: abort.signal,
      onStdout: () => setTimeout(() => abort.abort(), 200),
    });
    expect(r.cancelled).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const host = spawnSync("sh", ["-c", "ps -e -o args | grep -c '^sleep 31[1-4]' || true"], {
      encoding: "utf8",
    });
    expect(host.stdout.trim()).toBe("0");
  });

  it("refuses to start without bubblewrap unless isolation is explicitly given up", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ar-nobwrap-"));
    await expect(
      LocalSandboxProvider.create({
        dataDir: dir,
        logger: silentLogger,
        bwrapPath: "/nonexistent/bwrap",
      }),
    ).rejects.toThrow(/needs bubblewrap.*ALLOW_UNISOLATED_SANDBOX/s);
    const warnings: string[] = [];
    const unisolated = await LocalSandboxProvider.create({
      dataDir: dir,
      allowUnisolated: true,
      bwrapPath: "/nonexistent/bwrap",
      logger: { warn: (msg: string) => warnings.push(msg) },
    });
    const box = await unisolated.create({
      sessionId: "ses_unisolated",
      settings: defaultSettings(),
    });
    expect(warnings.some((w) => w.includes("WITHOUT isolation"))).toBe(true);
    expect(warnings.filter((w) => w.startsWith("starting a local sandbox"))).toHaveLength(1);
    expect((await box.exec({ command: "echo plain" })).stdout).toBe("plain\n");
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
    expect((err as Error).message).not.toContain(dataDir);
    await sb.terminate();
    await rm(dataDir, { recursive: true, force: true });
  });
});
