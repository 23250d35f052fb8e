// The local sandbox's resource limits, against real bubblewrap, cgroups and workspace images:
// memory, CPU, processes, workspace size and file count; the network switched off for good;
// sessions kept apart; bubblewrap's own environment empty. CI runs as root on Debian 12 (cgroup
// v1 hierarchies for memory, cpu and pids, loop devices), where all of it is enforced; the first
// test says what is enforced here and fails where something is missing.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_CPUS,
  DEFAULT_MEMORY_MIB,
  LocalSandboxProvider,
  MAX_PROCESSES,
  MAX_WORKSPACE_BYTES,
  MAX_WORKSPACE_FILES,
} from "../src/adapters/local-sandbox/provider.js";
import { silentLogger } from "../src/app/shared/logger.js";
import { bashTool } from "../src/app/tools/bash.js";
import { LIMITS } from "../src/domain/limits.js";
import { type Sandbox, SandboxFileError } from "../src/ports/sandbox.js";
import { defaultSettings } from "./sandbox.suite.js";

const isRoot = process.getuid?.() === 0;
const MIB = 1024 * 1024;
const text = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A number no other test's process has in its command line. */
const unique = () => `${Math.floor(Math.random() * 900) + 100}.${randomBytes(3).readUIntBE(0, 3)}`;

/** The host pid of the process whose command line is exactly `args`. */
async function hostPid(args: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const r = spawnSync("ps", ["-e", "-o", "pid=,args="], { encoding: "utf8" });
    const line = r.stdout.split("\n").find((l) => l.trim().endsWith(` ${args}`));
    if (line) return Number(line.trim().split(/\s+/)[0]);
    await sleep(50);
  }
  throw new Error(`no process ${args}`);
}

/** A cgroup file of the group a process is in (its sandbox's group), by controller. */
function sandboxCgroupFile(pid: number, controller: string, file: string): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n");
  const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
  const line = lines.find((l) =>
    v2 ? l.startsWith("0::") : l.split(":")[1]!.split(",").includes(controller),
  );
  if (!line) throw new Error(`process ${pid} is in no ${controller} cgroup`);
  const path = line.split(":").slice(2).join(":");
  const mount = v2 ? "/sys/fs/cgroup" : `/sys/fs/cgroup/${controller}`;
  return readFileSync(join(mount, path, file), "utf8").trim();
}

const warnings: string[] = [];
let dataDir: string;
let provider: LocalSandboxProvider;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "ar-limits-"));
  provider = await LocalSandboxProvider.create({
    dataDir,
    logger: { warn: (msg, fields) => warnings.push(`${msg} ${JSON.stringify(fields ?? {})}`) },
  });
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe("local sandbox enforcement", () => {
  it("says at start what it enforces; as root here: everything, with no warning", () => {
    if (!isRoot) {
      // Without root: no workspace images (mounting needs root), and a warning that says so.
      expect(provider.enforcement.workspaceLimits).toBe(false);
      expect(warnings.join("\n")).toMatch(/workspace size and file count limits are not enforced/);
      return;
    }
    expect(provider.enforcement).toMatchObject({
      isolated: true,
      workspaceLimits: true,
      seccomp: true,
      notes: [],
    });
    expect(["v1", "v2"]).toContain(provider.enforcement.cgroups);
    expect([...provider.enforcement.cgroupControllers].sort()).toEqual(["cpu", "memory", "pids"]);
    expect(warnings).toEqual([]);
  });

  it("names its defaults", () => {
    expect(DEFAULT_MEMORY_MIB).toBe(2048);
    expect(DEFAULT_CPUS).toBe(1);
    expect(MAX_WORKSPACE_BYTES).toBe(LIMITS.maxWorkspaceBytes);
    expect(MAX_WORKSPACE_FILES).toBe(LIMITS.maxWorkspaceFiles);
  });
});

describe("local sandbox memory, CPU and processes", () => {
  let small: Sandbox;
  beforeAll(async () => {
    small = await provider.create({
      sessionId: "ses_small",
      settings: defaultSettings({ memoryMib: 256, cpu: 0.5 }),
    });
  });
  afterAll(() => small.terminate());

  it("puts each sandbox's commands under its profile's limits, or the defaults", async () => {
    const tag = unique();
    const plain = await provider.create({ sessionId: "ses_defaults", settings: defaultSettings() });
    const running = [
      small.exec({ command: `exec sleep ${tag}1`, timeoutMs: 30_000 }),
      plain.exec({ command: `exec sleep ${tag}2`, timeoutMs: 30_000 }),
    ];
    const [pidSmall, pidPlain] = [await hostPid(`sleep ${tag}1`), await hostPid(`sleep ${tag}2`)];
    const v2 = provider.enforcement.cgroups === "v2";
    const memory = (pid: number) =>
      Number(sandboxCgroupFile(pid, "memory", v2 ? "memory.max" : "memory.limit_in_bytes"));
    const cpu = (pid: number) =>
      v2
        ? Number(sandboxCgroupFile(pid, "cpu", "cpu.max").split(" ")[0])
        : Number(sandboxCgroupFile(pid, "cpu", "cpu.cfs_quota_us"));
    expect(memory(pidSmall)).toBe(256 * MIB);
    expect(cpu(pidSmall)).toBe(50_000);
    expect(memory(pidPlain)).toBe(DEFAULT_MEMORY_MIB * MIB);
    expect(cpu(pidPlain)).toBe(DEFAULT_CPUS * 100_000);
    expect(Number(sandboxCgroupFile(pidPlain, "pids", "pids.max"))).toBe(MAX_PROCESSES);
    await small.terminate().then(() => plain.terminate());
    await Promise.all(running);
    small = await provider.create({
      sessionId: "ses_small",
      settings: defaultSettings({ memoryMib: 256, cpu: 0.5 }),
    });
  });

  it("kills a process that allocates past the memory limit; the tool result says so", async () => {
    const bomb = `perl -e '$x = "x" x (600 * 1024 * 1024); print "survived\\n"'; echo "after=$?"`;
    const r = await small.exec({ command: bomb, timeoutMs: 60_000 });
    expect(r.stdout).toBe("after=137\n"); // SIGKILL, and the shell went on
    expect(r.oomKilled).toBe(true);
    expect(r.stderr).toMatch(/Killed/);
    // What the model sees through the Bash tool.
    const tool = await bashTool.run(
      { command: bomb },
      { sandbox: async () => small, signal: new AbortController().signal },
    );
    expect(tool.output).toMatch(/killed for going over the sandbox's memory limit/);
    // The server (this process) and the sandbox go on.
    const after = await small.exec({ command: "echo alive" });
    expect(after).toMatchObject({ exitCode: 0, stdout: "alive\n" });
    expect(after.oomKilled).toBeUndefined();
  }, 60_000);

  it("caps CPU time at the profile's share (0.5 CPU)", async () => {
    // Two busy loops for 2 s of wall time: unbounded they would take up to 4 s of CPU here;
    // under 0.5 CPU at most about 1 s. A busy machine only lowers it.
    const r = await small.exec({
      command:
        "timeout 2 bash -c 'while :; do :; done' & timeout 2 bash -c 'while :; do :; done' & " +
        "wait; times > /tmp/times; tail -n 1 /tmp/times",
      timeoutMs: 30_000,
    });
    const [user, sys] = r.stdout
      .trim()
      .split(/\s+/)
      .map((t) => {
        const m = /^(\d+)m([\d.]+)s$/.exec(t)!;
        return Number(m[1]) * 60 + Number(m[2]);
      });
    expect(user! + sys!).toBeGreaterThan(0.2);
    expect(user! + sys!).toBeLessThan(1.6);
  }, 30_000);

  it("contains a fork bomb: the sandbox's process count stays at its limit", async () => {
    const tag = unique();
    const bomb = small.exec({
      command: `bomb() { bomb | bomb & }; bomb 2>/dev/null; exec sleep ${tag}`,
      timeoutMs: 5_000,
    });
    const pid = await hostPid(`sleep ${tag}`);
    let peak = 0;
    for (let i = 0; i < 10; i++) {
      peak = Math.max(peak, Number(sandboxCgroupFile(pid, "pids", "pids.current")));
      await sleep(100);
    }
    expect(peak).toBeGreaterThan(MAX_PROCESSES / 2); // it did try
    expect(peak).toBeLessThanOrEqual(MAX_PROCESSES);
    expect((await bomb).timedOut).toBe(true);
    expect((await small.exec({ command: "echo still-works" })).stdout).toBe("still-works\n");
  }, 30_000);
});

describe("local sandbox workspace size and file count", () => {
  const noHostPath = (message: string) => {
    expect(message).not.toContain(dataDir);
    expect(message).not.toContain("/proc/");
  };

  it("stops a command that fills the disk with ENOSPC; the host's writes fail as no_space", async () => {
    const sb = await provider.create({ sessionId: "ses_fill", settings: defaultSettings() });
    const r = await sb.exec({
      command: "dd if=/dev/zero of=fill bs=1M count=200 2>&1 | grep -m 1 error; stat -c %s fill",
      timeoutMs: 60_000,
    });
    expect(r.stdout).toMatch(/No space left on device/);
    const size = Number(r.stdout.trim().split("\n").at(-1));
    // About the limit: not a byte less than it, nothing like the 200 MiB asked for.
    expect(size).toBeGreaterThanOrEqual(MAX_WORKSPACE_BYTES);
    expect(size).toBeLessThan(MAX_WORKSPACE_BYTES + 4 * MIB);
    const err = await sb.writeFile("more.bin", new Uint8Array(MIB)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxFileError);
    expect(err).toMatchObject({ kind: "no_space", path: "more.bin" });
    expect((err as Error).message).toMatch(/^more\.bin: no space left/);
    noHostPath((err as Error).message);
    // Freeing space makes room again; the workspace keeps working.
    await sb.exec({ command: "rm fill" });
    await sb.writeFile("more.bin", new Uint8Array(MIB));
    expect((await sb.stat("more.bin"))?.size).toBe(MIB);
    await sb.terminate();
  }, 60_000);

  it("stops an inode flood at the file count limit", async () => {
    const sb = await provider.create({ sessionId: "ses_flood", settings: defaultSettings() });
    const r = await sb.exec({
      command: "mkdir flood && cd flood && touch f{1..20000} 2>&1 | tail -n 1; ls | wc -l",
      timeoutMs: 60_000,
    });
    const [error, count] = r.stdout.trim().split("\n");
    expect(error).toMatch(/No space left on device/);
    // Every entry counts, the flood directory too. The limit holds to the inode table's
    // granularity: never fewer entries than the limit, at most 15 more.
    expect(Number(count) + 1).toBeGreaterThanOrEqual(MAX_WORKSPACE_FILES);
    expect(Number(count) + 1).toBeLessThanOrEqual(MAX_WORKSPACE_FILES + 15);
    const err = await sb.writeFile("one-more.txt", text("x")).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: "no_space" });
    noHostPath((err as Error).message);
    await sb.exec({ command: "rm -rf flood" });
    await sb.writeFile("one-more.txt", text("x"));
    await sb.terminate();
  }, 60_000);

  it("keeps the workspace between commands and sandboxes of a session, in its own image", async () => {
    const sb = await provider.create({ sessionId: "ses_keepfs", settings: defaultSettings() });
    await sb.exec({ command: "echo one > a.txt" });
    expect(
      (await sb.exec({ command: "cat a.txt; df --output=itotal . | tail -1" })).stdout,
    ).toMatch(/^one\n\s*\d+\n$/);
    await sb.terminate();
    const next = await provider.create({ sessionId: "ses_keepfs", settings: defaultSettings() });
    expect((await next.exec({ command: "cat a.txt" })).stdout).toBe("one\n");
    await next.terminate();
    await provider.destroy("ses_keepfs");
    expect(existsSync(join(dataDir, "workspace-images", "ses_keepfs.ext4"))).toBe(false);
  });
});

describe("local sandbox workspace mounts", () => {
  it("survive the loss of their mount namespace: the images are mounted again, once", async () => {
    const sb = await provider.create({ sessionId: "ses_holder", settings: defaultSettings() });
    await sb.writeFile("kept.txt", text("kept"));
    await sb.exec({ command: "echo also > by-command.txt" });
    const record = join(dataDir, "workspace-images", "mount-ns.json");
    const holder = JSON.parse(readFileSync(record, "utf8")) as { pid: number };
    // As after a reboot, or an administrator's kill: the namespace and its mounts go away.
    process.kill(holder.pid, "SIGKILL");
    for (let i = 0; i < 100 && existsSync(`/proc/${holder.pid}/ns`); i++) await sleep(20);
    expect(new TextDecoder().decode(await sb.readFile("kept.txt"))).toBe("kept");
    expect((await sb.exec({ command: "cat kept.txt by-command.txt" })).stdout).toBe("keptalso\n");
    const again = JSON.parse(readFileSync(record, "utf8")) as { pid: number };
    expect(again.pid).not.toBe(holder.pid);
    // One loop device for the image, not two.
    const image = join(dataDir, "workspace-images", "ses_holder.ext4");
    const loops = spawnSync("losetup", ["--associated", image], { encoding: "utf8" });
    expect(loops.stdout.trim().split("\n")).toHaveLength(1);
    await sb.terminate();
  }, 30_000);
});

describe("local sandbox data directory", () => {
  it("may be reached through a symbolic link", async () => {
    const real = await mkdtemp(join(tmpdir(), "ar-real-"));
    const link = `${real}-link`;
    await symlink(real, link);
    try {
      const linked = await LocalSandboxProvider.create({ dataDir: link, logger: silentLogger });
      const sb = await linked.create({ sessionId: "ses_link", settings: defaultSettings() });
      await sb.writeFile("a.txt", text("a"));
      expect((await sb.exec({ command: "cat a.txt" })).stdout).toBe("a");
      await sb.terminate();
      const again = await linked.create({ sessionId: "ses_link", settings: defaultSettings() });
      expect((await again.exec({ command: "cat a.txt" })).stdout).toBe("a");
      await again.terminate();
    } finally {
      await rm(link, { force: true });
      await rm(real, { recursive: true, force: true });
    }
  });
});

describe("local sandbox with the network off", () => {
  let sb: Sandbox;
  let udp: ReturnType<typeof createSocket>;
  let udpPort: number;
  const received: string[] = [];
  let tcp: Server;
  let tcpPort: number;
  let unixServer: Server;
  let abstractServer: Server;
  const unixPath = join(tmpdir(), `ar-unix-${randomBytes(4).toString("hex")}.sock`);
  const abstractName = `ar-abstract-${randomBytes(4).toString("hex")}`;
  const accepted: string[] = [];

  beforeAll(async () => {
    sb = await provider.create({ sessionId: "ses_offline", settings: defaultSettings() });
    udp = createSocket("udp4");
    udp.on("message", (m) => received.push(m.toString()));
    await new Promise<void>((r) => udp.bind(0, "127.0.0.1", r));
    udpPort = udp.address().port;
    tcp = createServer((s) => {
      accepted.push("tcp");
      s.end();
    });
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
    tcpPort = (tcp.address() as { port: number }).port;
    unixServer = createServer((s) => {
      accepted.push("unix");
      s.end();
    });
    await new Promise<void>((r) => unixServer.listen(unixPath, r));
    abstractServer = createServer((s) => {
      accepted.push("abstract");
      s.end();
    });
    await new Promise<void>((r) => abstractServer.listen(`\0${abstractName}`, r));
  });
  afterAll(async () => {
    await sb.terminate();
    udp.close();
    tcp.close();
    unixServer.close();
    abstractServer.close();
  });

  /** A perl script that tries each way out and prints one line per try. */
  const probe = () => `perl -MSocket=:all -e '
sub try_ { my ($name, $family, $type, $addr) = @_; my $s;
  if (!socket($s, $family, $type, 0)) { print "$name: socket: $!\\n"; return }
  if ($type == SOCK_DGRAM) { my $n = send($s, "from-sandbox", 0, $addr);
    print defined $n ? "$name: SENT\\n" : "$name: send: $!\\n"; return }
  print connect($s, $addr) ? "$name: CONNECTED\\n" : "$name: connect: $!\\n" }
try_("udp4-loopback", AF_INET, SOCK_DGRAM, pack_sockaddr_in(${udpPort}, inet_aton("127.0.0.1")));
try_("udp4-external", AF_INET, SOCK_DGRAM, pack_sockaddr_in(53, inet_aton("192.0.2.1")));
try_("tcp4-loopback", AF_INET, SOCK_STREAM, pack_sockaddr_in(${tcpPort}, inet_aton("127.0.0.1")));
try_("udp6-loopback", AF_INET6, SOCK_DGRAM, pack_sockaddr_in6(${udpPort}, inet_pton(AF_INET6, "::1")));
try_("udp6-external", AF_INET6, SOCK_DGRAM, pack_sockaddr_in6(53, inet_pton(AF_INET6, "2001:db8::1")));
try_("tcp6-loopback", AF_INET6, SOCK_STREAM, pack_sockaddr_in6(${tcpPort}, inet_pton(AF_INET6, "::1")));
try_("netlink", 16, SOCK_RAW, "");
try_("packet", 17, SOCK_RAW, "");
try_("unix-host-path", AF_UNIX, SOCK_STREAM, pack_sockaddr_un("${unixPath}"));
try_("unix-host-abstract", AF_UNIX, SOCK_STREAM, pack_sockaddr_un("\\0${abstractName}"));
'`;

  it("cannot send UDP or TCP anywhere, over IPv4 or IPv6, nor reach the host's Unix sockets", async () => {
    const r = await sb.exec({ command: probe(), timeoutMs: 20_000 });
    expect(r.stderr).toBe("");
    const lines = r.stdout.trim().split("\n");
    const refused = "socket: Address family not supported by protocol";
    expect(lines).toEqual([
      `udp4-loopback: ${refused}`,
      `udp4-external: ${refused}`,
      `tcp4-loopback: ${refused}`,
      `udp6-loopback: ${refused}`,
      `udp6-external: ${refused}`,
      `tcp6-loopback: ${refused}`,
      `netlink: ${refused}`,
      `packet: ${refused}`,
      // /tmp is the sandbox's own; abstract sockets belong to the (empty) network namespace.
      "unix-host-path: connect: No such file or directory",
      "unix-host-abstract: connect: Connection refused",
    ]);
    await sleep(200);
    expect(received).toEqual([]);
    expect(accepted).toEqual([]);
  });

  it("with the network allowed, the same probe does reach the host (the test can fail)", async () => {
    const open = await provider.create({
      sessionId: "ses_online",
      settings: defaultSettings({ networkAllowed: true }),
    });
    const r = await open.exec({ command: probe(), timeoutMs: 20_000 });
    await open.terminate();
    expect(r.stdout).toContain("udp4-loopback: SENT");
    expect(r.stdout).toContain("tcp4-loopback: CONNECTED");
    // Exotic families stay closed; the host's /tmp stays out of sight.
    expect(r.stdout).toContain("packet: socket: Address family not supported by protocol");
    expect(r.stdout).toContain("unix-host-path: connect: No such file or directory");
    for (let i = 0; i < 50 && received.length === 0; i++) await sleep(20);
    expect(received).toEqual(["from-sandbox"]);
    received.length = 0;
    accepted.length = 0;
  });
});

describe("local sandbox separation", () => {
  it("one session's commands cannot read another's workspace, by path or through /proc", async () => {
    const secret = `secret-${randomBytes(6).toString("hex")}`;
    const a = await provider.create({ sessionId: "ses_alice", settings: defaultSettings() });
    const b = await provider.create({ sessionId: "ses_bob", settings: defaultSettings() });
    await a.writeFile("secret.txt", text(secret));
    const tag = unique();
    // Alice's command runs meanwhile, inside her workspace.
    const running = a.exec({ command: `exec sleep ${tag}`, timeoutMs: 30_000 });
    const alicePid = await hostPid(`sleep ${tag}`);
    const aliceHost = provider.hostPath(join(dataDir, "workspaces", "ses_alice"));
    const r = await b.exec({
      command: [
        `cat ${join(dataDir, "workspaces", "ses_alice", "secret.txt")}`,
        `cat ${aliceHost}/secret.txt`,
        `cat /proc/${alicePid}/root/workspace/secret.txt /proc/${alicePid}/cwd/secret.txt`,
        "cat /proc/[0-9]*/root/workspace/secret.txt /proc/[0-9]*/cwd/secret.txt",
        `cat ${join(dataDir, "workspace-images", "ses_alice.ext4")}`,
        "ls -R / 2>/dev/null | grep -c secret.txt",
        "cat /workspace/../workspaces/ses_alice/secret.txt",
      ].join("; "),
      timeoutMs: 60_000,
    });
    expect(r.stdout + r.stderr).not.toContain(secret);
    expect(r.stdout.trim()).toBe("0");
    // The host sees it, of course.
    expect(readFileSync(join(aliceHost, "secret.txt"), "utf8")).toBe(secret);
    await a.terminate();
    await running;
    await b.terminate();
  }, 60_000);
});

describe("bubblewrap's own environment", () => {
  it("is empty: /proc/1/environ in the sandbox shows nothing of the host", async () => {
    const canary = `AR_HOST_CANARY_${randomBytes(4).toString("hex")}`;
    process.env[canary] = "host-value";
    try {
      const sb = await provider.create({ sessionId: "ses_environ", settings: defaultSettings() });
      const r = await sb.exec({
        command:
          "cat /proc/1/environ | tr '\\0' '\\n'; echo ---; cat /proc/self/environ | tr '\\0' '\\n'",
      });
      await sb.terminate();
      const [init, self] = r.stdout.split("---\n");
      expect(init).toBe("");
      expect(r.stdout).not.toContain(canary);
      expect(r.stdout).not.toContain(process.env.PATH);
      expect(r.stdout).not.toContain(process.env.HOME ?? "/root");
      // The command's own environment is the sandbox's, set explicitly.
      expect(self).toContain("HOME=/workspace");
      expect(self).toContain("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    } finally {
      delete process.env[canary];
    }
  });
});
