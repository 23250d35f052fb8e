// A sandbox's cgroup, made and removed, with its limits written the way each cgroup version wants
// them (see cgroups.ts for the layout and for finding out which version this machine offers).

import { existsSync, mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { readdir, readFile, rmdir } from "node:fs/promises";
import { join } from "node:path";

export type CgroupController = "memory" | "cpu" | "pids";
export const CONTROLLERS: readonly CgroupController[] = ["memory", "cpu", "pids"];

/** The CFS period a CPU limit is expressed in, microseconds. */
const CPU_PERIOD_US = 100_000;

export interface CgroupLimits {
  memoryBytes: number;
  /** CPUs' worth of time per period; fractions allowed. */
  cpus: number;
  maxProcesses: number;
}

/** One command's place in its sandbox's cgroup. */
export interface ExecCgroup {
  /** Moves a process (and so everything it starts later) into the group. Synchronous. */
  enter(pid: number): void;
  /** Processes of the sandbox the kernel's OOM killer ended since the command started. */
  oomKills(): Promise<number>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** rmdir, retried while the last processes of a killed command are still being reaped. */
async function rmdirSoon(dir: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EBUSY") return;
      await new Promise((r) => setTimeout(r, 25 * (i + 1)));
    }
  }
}

/** Removes a cgroup tree bottom-up, waiting a little for groups whose processes are ending. */
async function removeTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  await Promise.all(
    entries.filter((e) => e.isDirectory()).map((e) => removeTree(join(dir, e.name))),
  );
  await rmdirSoon(dir);
}

/** The limits of one cgroup version: where groups go and how limits are written. */
export abstract class CgroupSystem {
  abstract readonly version: "v1" | "v2";
  abstract readonly controllers: ReadonlySet<CgroupController>;
  private readonly ready = new Map<string, Promise<void>>();

  /** The group `rel` (relative to the server's groups) in every hierarchy used. */
  protected abstract dirs(rel: string): string[];
  /** The base directories (one per hierarchy), for sweeping. */
  protected abstract bases(): string[];
  protected abstract writeLimits(rel: string, limits: CgroupLimits): void;
  protected abstract readOomKills(rel: string): Promise<number>;

  /** Creates the sandbox's group with its limits (once per sandbox), for a command to enter. */
  async startExec(sandboxId: string, limits: CgroupLimits): Promise<ExecCgroup> {
    let ready = this.ready.get(sandboxId);
    if (!ready) {
      ready = (async () => {
        for (const dir of this.dirs(sandboxId)) mkdirSync(dir, { recursive: true });
        this.writeLimits(sandboxId, limits);
      })();
      this.ready.set(sandboxId, ready);
      ready.catch(() => this.ready.delete(sandboxId));
    }
    await ready;
    const dirs = this.dirs(sandboxId);
    const oomKills = () => this.readOomKills(sandboxId).catch(() => 0);
    const before = await oomKills();
    return {
      enter: (pid) => {
        for (const dir of dirs) writeFileSync(join(dir, "cgroup.procs"), String(pid));
      },
      oomKills: async () => Math.max(0, (await oomKills()) - before),
    };
  }

  /** Removes a sandbox's group (its commands are over). */
  async removeSandbox(sandboxId: string): Promise<void> {
    this.ready.delete(sandboxId);
    await Promise.all(this.dirs(sandboxId).map(removeTree));
  }

  /** Removes what servers that no longer run left behind (their groups are named by pid). */
  async sweep(): Promise<void> {
    for (const base of this.bases()) {
      const parent = join(base, "..");
      for (const name of await readdir(parent).catch(() => [] as string[])) {
        const m = /^agent-runtime-(\d+)$/.exec(name);
        if (m && !isAlive(Number(m[1]))) await removeTree(join(parent, name));
      }
    }
  }

  /** Creates and removes a throwaway sandbox group with limits: proves the writes work. */
  probe(limits: CgroupLimits): void {
    const rel = `probe-${process.pid}-${Date.now()}`;
    try {
      for (const dir of this.dirs(rel)) mkdirSync(dir, { recursive: true });
      this.writeLimits(rel, limits);
    } finally {
      for (const dir of this.dirs(rel)) {
        try {
          rmdirSync(dir);
        } catch {}
      }
    }
  }
}

export class CgroupV2 extends CgroupSystem {
  readonly version = "v2";
  constructor(
    private readonly base: string,
    readonly controllers: ReadonlySet<CgroupController>,
  ) {
    super();
  }

  protected dirs(rel: string): string[] {
    return [join(this.base, rel)];
  }

  protected bases(): string[] {
    return [this.base];
  }

  protected writeLimits(rel: string, l: CgroupLimits): void {
    const dir = join(this.base, rel);
    const c = this.controllers;
    if (c.has("memory")) {
      writeFileSync(join(dir, "memory.max"), String(l.memoryBytes));
      if (existsSync(join(dir, "memory.swap.max"))) {
        writeFileSync(join(dir, "memory.swap.max"), "0");
      }
    }
    if (c.has("cpu")) {
      writeFileSync(join(dir, "cpu.max"), `${Math.round(l.cpus * CPU_PERIOD_US)} ${CPU_PERIOD_US}`);
    }
    if (c.has("pids")) writeFileSync(join(dir, "pids.max"), String(l.maxProcesses));
  }

  protected async readOomKills(rel: string): Promise<number> {
    const events = await readFile(join(this.base, rel, "memory.events"), "utf8");
    return Number(/^oom_kill (\d+)$/m.exec(events)?.[1] ?? 0);
  }
}

export class CgroupV1 extends CgroupSystem {
  readonly version = "v1";
  constructor(
    /** Base directory per controller (co-mounted controllers share one). */
    private readonly base: ReadonlyMap<CgroupController, string>,
  ) {
    super();
  }

  get controllers(): ReadonlySet<CgroupController> {
    return new Set(this.base.keys());
  }

  protected dirs(rel: string): string[] {
    return [...new Set(this.base.values())].map((b) => join(b, rel));
  }

  protected bases(): string[] {
    return [...new Set(this.base.values())];
  }

  protected writeLimits(rel: string, l: CgroupLimits): void {
    const memory = this.base.get("memory");
    if (memory) {
      const dir = join(memory, rel);
      // memsw (memory + swap) must never be below the memory limit: open it, set, close it.
      const memsw = join(dir, "memory.memsw.limit_in_bytes");
      const hasMemsw = existsSync(memsw);
      if (hasMemsw) writeFileSync(memsw, "-1");
      writeFileSync(join(dir, "memory.limit_in_bytes"), String(l.memoryBytes));
      if (hasMemsw) writeFileSync(memsw, String(l.memoryBytes));
    }
    const cpu = this.base.get("cpu");
    if (cpu) {
      writeFileSync(join(cpu, rel, "cpu.cfs_period_us"), String(CPU_PERIOD_US));
      const quota = String(Math.round(l.cpus * CPU_PERIOD_US));
      try {
        writeFileSync(join(cpu, rel, "cpu.cfs_quota_us"), quota);
      } catch (err) {
        // v1 refuses a quota above an ancestor's (EINVAL): the ancestor's, lower, applies.
        if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw err;
      }
    }
    const pids = this.base.get("pids");
    if (pids) writeFileSync(join(pids, rel, "pids.max"), String(l.maxProcesses));
  }

  protected async readOomKills(rel: string): Promise<number> {
    const memory = this.base.get("memory");
    if (!memory) return 0;
    const control = await readFile(join(memory, rel, "memory.oom_control"), "utf8");
    return Number(/^oom_kill (\d+)$/m.exec(control)?.[1] ?? 0);
  }
}
