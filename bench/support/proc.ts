// CPU time and memory of a process, from Linux's /proc (the bench scripts measure the server
// processes they start).

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    } catch {
      ticksPerSecond = 100;
    }
    if (!Number.isFinite(ticksPerSecond) || ticksPerSecond <= 0) ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

export interface ProcSample {
  /** User + system CPU seconds since the process started. */
  cpuSeconds: number;
  /** Resident set size now, MB. */
  rssMb: number;
  /** Peak resident set size so far (VmHWM), MB. */
  peakRssMb: number;
}

/** A sample of `pid`, or undefined when it is gone (or this is not Linux). */
export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces), from field 3 on.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return {
      cpuSeconds: (utime + stime) / clockTicks(),
      rssMb: kb("VmRSS") / 1024,
      peakRssMb: kb("VmHWM") / 1024,
    };
  } catch {
    return undefined;
  }
}

/** Fields of /proc/<pid>/stat from the state on (field 3), or undefined when it is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** The processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    if (Number(statFields(Number(entry))?.[1]) === pid) children.push(Number(entry));
  }
  return children;
}

/**
 * A process and its children together (PostgreSQL: the postmaster and its backends): CPU of
 * all of them, those that ended included; RSS summed (shared memory counted more than once).
 */
export function sampleTree(pid: number): ProcSample | undefined {
  const root = statFields(pid);
  if (!root) return undefined;
  const cpu = (f: string[], withChildren: boolean) =>
    Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
  let ticks = cpu(root, true);
  let rss = sampleProc(pid)?.rssMb ?? 0;
  for (const child of childrenOf(pid)) {
    const f = statFields(child);
    if (f) ticks += cpu(f, true);
    rss += sampleProc(child)?.rssMb ?? 0;
  }
  return { cpuSeconds: ticks / clockTicks(), rssMb: rss, peakRssMb: NaN };
}

/**
 * The PostgreSQL postmaster a FerretDB process talks to (the one listening on the port of its
 * --postgresql-url), or undefined.
 */
export function postgresOf(ferretdbPid: number): number | undefined {
  try {
    const cmdline = readFileSync(`/proc/${ferretdbPid}/cmdline`, "utf8");
    const port = /postgresql-url=postgres:\/\/[^@]*@[^:/]+:(\d+)\//.exec(cmdline)?.[1];
    if (!port) return undefined;
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const args = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
        const p = args.indexOf("-p");
        if (args[0]?.endsWith("/postgres") && p > 0 && args[p + 1] === port) return Number(entry);
      } catch {
        // gone
      }
    }
  } catch {
    // FerretDB is gone
  }
  return undefined;
}

/** CPU and memory of a process over an interval: start() then stop(). */
export class ProcMeter {
  private first: ProcSample | undefined;
  private last: ProcSample | undefined;
  private startedAt = 0;
  private stoppedAt = 0;

  constructor(
    readonly label: string,
    readonly pid: number,
    /** Count the process's children too (see sampleTree). */
    readonly tree = false,
  ) {}

  private sample(): ProcSample | undefined {
    return this.tree ? sampleTree(this.pid) : sampleProc(this.pid);
  }

  start(): void {
    this.first = this.sample();
    this.startedAt = performance.now();
  }

  stop(): void {
    this.last = this.sample();
    this.stoppedAt = performance.now();
  }

  /** `label cpu=12.3s (61%) rss=180MB peak=210MB`: CPU over the interval, % of one core. */
  summary(): string {
    if (!this.first || !this.last) return `${this.label} (gone)`;
    const cpu = this.last.cpuSeconds - this.first.cpuSeconds;
    const wall = (this.stoppedAt - this.startedAt) / 1000;
    const peak = Number.isNaN(this.last.peakRssMb)
      ? ""
      : ` peak=${Math.round(this.last.peakRssMb)}MB`;
    return `${this.label} cpu=${cpu.toFixed(1)}s (${Math.round((100 * cpu) / wall)}%) rss=${Math.round(this.last.rssMb)}MB${peak}`;
  }
}
