// Where a process's CPU time went, from a V8 .cpuprofile (node --cpu-prof): self time per
// function and per area (a package under node_modules, a folder of src/, Node's internals,
// garbage collection).

import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Time with something to do: total minus (idle). */
  busyMs: number;
  functions: SelfTime[];
  areas: SelfTime[];
}

/** The area a function belongs to, from its script URL. */
export function areaOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === "(garbage collector)") return "garbage collection";
    if (functionName === "(idle)") return "(idle)";
    if (functionName === "(program)") return "(program: V8, native)";
    return "native (no script)";
  }
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return `npm: ${modules[1]}`;
  if (url.startsWith("node:")) {
    const parts = url.slice(5).split("/");
    return `node: ${parts[0] === "internal" && parts.length > 1 ? `internal/${parts[1]}` : parts[0]}`;
  }
  const src = /\/(src|gen)\/(.*)$/.exec(url);
  if (src) {
    const parts = src[2]!.split("/");
    return `${src[1]}/${parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0]}`;
  }
  return url.replace(/^file:\/\//, "");
}

/**
 * Self times of `profile`; with `window`, only of the samples taken in it (microseconds of the
 * monotonic clock the profile's timestamps use, the same as `process.hrtime` on Linux).
 */
export function summariseProfile(
  profile: CpuProfile,
  window?: { fromUs: number; toUs: number },
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>(); // node id -> µs
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // timeDeltas[i] is the time before sample i; the time of sample i is the next delta.
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    const dt = deltas[i + 1] ?? 0;
    self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + Math.max(0, dt));
  }
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^file:\/\/.*?\/(node_modules|src|gen)\//, "$1/");
    const name = `${functionName || "(anonymous)"}${url ? ` ${file}:${lineNumber + 1}` : ""}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    total += us;
    if (functionName === "(idle)") idle += us;
  }
  const busy = total - idle;
  const list = (m: Map<string, number>) =>
    [...m]
      .filter(([name]) => name !== "(idle)" && !name.startsWith("(idle) "))
      .map(([name, us]) => ({ name, ms: us / 1000, share: busy ? us / busy : 0 }))
      .sort((a, b) => b.ms - a.ms);
  return {
    totalMs: total / 1000,
    busyMs: busy / 1000,
    functions: list(functions),
    areas: list(areas),
  };
}

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
}

/** The summary as text: busy time, the top areas and the top functions by self time. */
export function formatSummary(s: ProfileSummary, top = 20): string {
  const line = (t: SelfTime) =>
    `  ${(100 * t.share).toFixed(1).padStart(5)}%  ${t.ms.toFixed(0).padStart(7)}ms  ${t.name}`;
  return [
    `profiled ${(s.totalMs / 1000).toFixed(1)}s, busy ${(s.busyMs / 1000).toFixed(1)}s (shares below are of busy time)`,
    "self time by area:",
    ...s.areas.slice(0, top).map(line),
    "self time by function:",
    ...s.functions.slice(0, top).map(line),
  ].join("\n");
}
