// How the local sandbox finds and writes cgroups. The real hierarchy of this machine is used by
// sandbox-limits.test.ts; here the detection logic runs over directory trees laid out like
// cgroupfs (plain files stand in for the kernel's), so both versions' paths and values are seen.

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { detectCgroups } from "../src/adapters/local-sandbox/cgroups.js";

const limits = { memoryBytes: 512 * 1024 * 1024, cpus: 1.5, maxProcesses: 100 };
let root: string;
afterEach(() => rm(root, { recursive: true, force: true }));

const read = (...parts: string[]) => readFileSync(join(root, ...parts), "utf8");

describe("cgroup detection", () => {
  it("v2: enables the controllers under the server's cgroup and writes each sandbox's limits", async () => {
    root = await mkdtemp(join(tmpdir(), "ar-cg2-"));
    mkdirSync(join(root, "svc"), { recursive: true });
    writeFileSync(join(root, "cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma\n");
    writeFileSync(join(root, "svc", "cgroup.controllers"), "cpu memory pids\n");
    const d = detectCgroups(limits, { root, selfCgroup: "0::/svc\n", pid: 4242 });
    expect(d).toMatchObject({ ok: true, missing: [] });
    if (!d.ok) return;
    expect(d.cgroups.version).toBe("v2");
    expect(read("svc", "cgroup.subtree_control")).toBe("+memory +cpu +pids");
    expect(read("svc", "agent-runtime-4242", "cgroup.subtree_control")).toBe("+memory +cpu +pids");
    const exec = await d.cgroups.startExec("local-ses_a-00000000", limits);
    const group = join(root, "svc", "agent-runtime-4242", "local-ses_a-00000000");
    expect(read(group.slice(root.length), "memory.max")).toBe(String(limits.memoryBytes));
    expect(read(group.slice(root.length), "cpu.max")).toBe("150000 100000");
    expect(read(group.slice(root.length), "pids.max")).toBe("100");
    exec.enter(777);
    // Commands go into the sandbox's group itself: no group per command.
    expect(readFileSync(join(group, "cgroup.procs"), "utf8")).toBe("777");
    expect(readdirSync(group, { withFileTypes: true }).filter((e) => e.isDirectory())).toEqual([]);
  });

  it("v2: uses the controllers offered, and says which are missing", async () => {
    root = await mkdtemp(join(tmpdir(), "ar-cg2-"));
    writeFileSync(join(root, "cgroup.controllers"), "memory pids\n");
    const d = detectCgroups(limits, { root, selfCgroup: "0::/\n", pid: 7 });
    expect(d).toMatchObject({ ok: true, missing: ["cpu"] });
    const none = await mkdtemp(join(tmpdir(), "ar-cg2-"));
    writeFileSync(join(none, "cgroup.controllers"), "hugetlb\n");
    expect(detectCgroups(limits, { root: none, selfCgroup: "0::/\n", pid: 7 })).toEqual({
      ok: false,
      reason: "cgroup v2: / offers none of memory, cpu, pids",
    });
    await rm(none, { recursive: true, force: true });
  });

  it("v1: one directory per controller under the server's own groups", async () => {
    root = await mkdtemp(join(tmpdir(), "ar-cg1-"));
    for (const c of ["memory", "cpu,cpuacct", "pids"])
      mkdirSync(join(root, c, "jobs", "j1"), { recursive: true });
    const mountinfo = [
      `35 31 0:32 / ${root}/memory rw,relatime - cgroup cgroup rw,memory`,
      `32 31 0:29 / ${root}/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct`,
      `39 31 0:36 / ${root}/pids rw,relatime - cgroup cgroup rw,pids`,
      `41 31 0:38 / ${root}/unified rw,relatime - cgroup2 cgroup2 rw`,
    ].join("\n");
    const selfCgroup = "9:pids:/jobs/j1\n4:memory:/jobs/j1\n2:cpu,cpuacct:/jobs/j1\n0::/\n";
    const d = detectCgroups(limits, { root, selfCgroup, mountinfo, pid: 99 });
    expect(d).toMatchObject({ ok: true, missing: [] });
    if (!d.ok) return;
    expect(d.cgroups.version).toBe("v1");
    await d.cgroups.startExec("local-ses_b-00000000", limits);
    const group = (c: string) => join(c, "jobs", "j1", "agent-runtime-99", "local-ses_b-00000000");
    expect(read(group("memory"), "memory.limit_in_bytes")).toBe(String(limits.memoryBytes));
    expect(read(group("cpu,cpuacct"), "cpu.cfs_quota_us")).toBe("150000");
    expect(read(group("cpu,cpuacct"), "cpu.cfs_period_us")).toBe("100000");
    expect(read(group("pids"), "pids.max")).toBe("100");
  });

  it("v1: says why when nothing is mounted or the server's group is outside the mounts", async () => {
    root = await mkdtemp(join(tmpdir(), "ar-cg1-"));
    expect(
      detectCgroups(limits, { root, selfCgroup: "4:memory:/x\n", mountinfo: "", pid: 1 }),
    ).toEqual({
      ok: false,
      reason: "cgroup v1: memory: not mounted; cpu: not mounted; pids: not mounted",
    });
    const mountinfo = `35 31 0:32 /lxc/other ${root}/memory rw - cgroup cgroup rw,memory`;
    const d = detectCgroups(limits, { root, selfCgroup: "4:memory:/jobs/j1\n", mountinfo, pid: 1 });
    expect(d.ok).toBe(false);
    expect(!d.ok && d.reason).toMatch(/memory: own cgroup \/jobs\/j1 is outside the mount/);
  });
});
