// CPU time and memory of a process, from Linux's /proc (the bench scripts measure the server
// processes they start).

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

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

/** CPU and memory of a process over an interval: start() then stop(). */
export class ProcMeter {
  private first: ProcSample | undefined;
  private last: ProcSample | undefined;
  private startedAt = 0;
  private stoppedAt = 0;

  constructor(
    readonly label: string,
    readonly pid: number,
  ) {}

  start(): void {
    this.first = sampleProc(this.pid);
    this.startedAt = performance.now();
  }

  stop(): void {
    this.last = sampleProc(this.pid);
    this.stoppedAt = performance.now();
  }

  /** `label cpu=12.3s (61%) rss=180MB peak=210MB`: CPU over the interval, % of one core. */
  summary(): string {
    if (!this.first || !this.last) return `${this.label} (gone)`;
    const cpu = this.last.cpuSeconds - this.first.cpuSeconds;
    const wall = (this.stoppedAt - this.startedAt) / 1000;
    return `${this.label} cpu=${cpu.toFixed(1)}s (${Math.round((100 * cpu) / wall)}%) rss=${Math.round(this.last.rssMb)}MB peak=${Math.round(this.last.peakRssMb)}MB`;
  }
}
