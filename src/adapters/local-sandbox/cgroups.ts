// Memory, CPU and process limits for sandboxed commands, through cgroups.
//
// Layout, under the server's own cgroup (so whatever limits the server has also bound its
// sandboxes): `agent-runtime-<server pid>/<sandbox id>`, one group per sandbox, made at its first
// command and removed when it terminates. The group holds the limits: all of the sandbox's
// commands together stay under them, as in a Modal container. No group per command: creating and
// removing a memory cgroup per command is slow and leaves dying memory cgroups behind; an OOM
// kill is told to the command by the group's kill counter moving while it ran (with commands
// running side by side in one sandbox, each of them hears of it).
//
// A command enters the group before it can run anything: bubblewrap reads its options from a
// pipe (`--args`) before it forks, and the provider writes the options only after it has moved
// the bubblewrap process into the group. Every process the command starts is born inside.
//
// cgroup v2 (one hierarchy, /sys/fs/cgroup/cgroup.controllers lists memory, cpu, pids): the
// controllers must be enabled in the server's cgroup, which the kernel allows only for a cgroup
// without processes of its own; when the server is alone in its cgroup (a systemd service with
// Delegate=yes, a container that runs only the server) it moves itself into a `server` leaf first.
// cgroup v1 (separate memory, cpu and pids hierarchies, as on this machine kind): no such rule.
// Both need write access to the server's cgroup: root, or a delegated cgroup. Where that fails,
// `detectCgroups` says why and the provider runs without these limits, saying so once.

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type CgroupController,
  type CgroupLimits,
  type CgroupSystem,
  CgroupV1,
  CgroupV2,
  CONTROLLERS,
} from "./cgroup-system.js";

export type { CgroupController, CgroupLimits, ExecCgroup } from "./cgroup-system.js";

export interface CgroupSystemOptions {
  /** Where cgroup file systems are mounted; default /sys/fs/cgroup (tests point elsewhere). */
  root?: string;
  /** Contents of /proc/self/cgroup; default read from there. */
  selfCgroup?: string;
  /** Contents of /proc/self/mountinfo (v1 mount points); default read from there. */
  mountinfo?: string;
  /** This process's pid, default process.pid (names the group, moves the server on v2). */
  pid?: number;
}

const read = (path: string) => readFileSync(path, "utf8");
const errText = (err: unknown) =>
  (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));

export type Cgroups = CgroupSystem;

export type CgroupDetection =
  | { ok: true; cgroups: Cgroups; missing: CgroupController[] }
  | { ok: false; reason: string };

/** The server's cgroup path per controller ("" for v2's single hierarchy), from /proc/self/cgroup. */
function selfPaths(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    for (const c of m[1]!.split(",")) out.set(c, m[2]!);
  }
  return out;
}

/** v1 mount points per controller, with the hierarchy path each mount shows at its root. */
function v1Mounts(mountinfo: string): Map<string, { dir: string; root: string }> {
  const out = new Map<string, { dir: string; root: string }>();
  for (const line of mountinfo.split("\n")) {
    const [pre, post] = line.split(" - ");
    if (!pre || !post) continue;
    const fields = pre.split(" ");
    const [fstype, , superOptions] = post.split(" ");
    if (fstype !== "cgroup" || !superOptions) continue;
    for (const option of superOptions.split(",")) {
      if ((CONTROLLERS as string[]).includes(option) && !out.has(option)) {
        out.set(option, { dir: fields[4]!, root: fields[3]! });
      }
    }
  }
  return out;
}

function under(mountRoot: string, own: string): string | undefined {
  if (mountRoot === "/") return own;
  if (own === mountRoot) return "/";
  return own.startsWith(`${mountRoot}/`) ? own.slice(mountRoot.length) : undefined;
}

function detectV2(root: string, own: string, pid: number, limits: CgroupLimits): CgroupDetection {
  const ownDir = join(root, own);
  const available = read(join(ownDir, "cgroup.controllers")).trim().split(/\s+/);
  const controllers = new Set(CONTROLLERS.filter((c) => available.includes(c)));
  if (controllers.size === 0) {
    return { ok: false, reason: `cgroup v2: ${own} offers none of memory, cpu, pids` };
  }
  const enable = [...controllers].map((c) => `+${c}`).join(" ");
  const enableIn = (dir: string) => writeFileSync(join(dir, "cgroup.subtree_control"), enable);
  try {
    enableIn(ownDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EBUSY") {
      return {
        ok: false,
        reason: `cgroup v2: cannot enable controllers in ${own}: ${errText(err)}`,
      };
    }
    // "No internal processes": move the server into a leaf, if it is alone here.
    const procs = read(join(ownDir, "cgroup.procs")).split("\n").filter(Boolean).map(Number);
    if (procs.some((p) => p !== pid)) {
      return {
        ok: false,
        reason:
          `cgroup v2: ${own} also holds other processes, so it cannot hand controllers to ` +
          "sandboxes; run the server in a cgroup of its own (systemd: Delegate=yes)",
      };
    }
    try {
      mkdirSync(join(ownDir, "server"), { recursive: true });
      writeFileSync(join(ownDir, "server", "cgroup.procs"), String(pid));
      enableIn(ownDir);
    } catch (e) {
      return { ok: false, reason: `cgroup v2: cannot delegate ${own}: ${errText(e)}` };
    }
  }
  const base = join(ownDir, `agent-runtime-${pid}`);
  try {
    mkdirSync(base, { recursive: true });
    enableIn(base);
    const cgroups = new CgroupV2(base, controllers);
    cgroups.probe(limits);
    return { ok: true, cgroups, missing: CONTROLLERS.filter((c) => !controllers.has(c)) };
  } catch (err) {
    return { ok: false, reason: `cgroup v2: cannot create groups under ${own}: ${errText(err)}` };
  }
}

function detectV1(
  root: string,
  paths: Map<string, string>,
  mountinfo: string,
  pid: number,
  limits: CgroupLimits,
): CgroupDetection {
  const mounts = v1Mounts(mountinfo);
  const base = new Map<CgroupController, string>();
  const problems: string[] = [];
  for (const c of CONTROLLERS) {
    const mount = mounts.get(c);
    const own = paths.get(c);
    if (!mount || own === undefined) {
      problems.push(`${c}: not mounted`);
      continue;
    }
    if (!mount.dir.startsWith(root)) continue;
    const rel = under(mount.root, own);
    if (rel === undefined) {
      problems.push(`${c}: own cgroup ${own} is outside the mount`);
      continue;
    }
    base.set(c, join(mount.dir, rel, `agent-runtime-${pid}`));
  }
  if (base.size === 0) return { ok: false, reason: `cgroup v1: ${problems.join("; ")}` };
  // Each controller on its own: one that cannot be written is left out, not the others.
  for (const [c, dir] of [...base]) {
    try {
      mkdirSync(dir, { recursive: true });
      new CgroupV1(new Map([[c, dir]])).probe(limits);
    } catch (err) {
      problems.push(`${c}: ${errText(err)}`);
      base.delete(c);
      try {
        rmdirSync(dir);
      } catch {}
    }
  }
  if (base.size === 0) return { ok: false, reason: `cgroup v1: ${problems.join("; ")}` };
  return {
    ok: true,
    cgroups: new CgroupV1(base),
    missing: CONTROLLERS.filter((c) => !base.has(c)),
  };
}

/**
 * Finds the cgroup version this machine offers for memory, cpu and pids, and proves that the
 * server can create limited groups under its own (a probe group is made and removed).
 */
export function detectCgroups(limits: CgroupLimits, o: CgroupSystemOptions = {}): CgroupDetection {
  const root = o.root ?? "/sys/fs/cgroup";
  const pid = o.pid ?? process.pid;
  let selfText: string;
  try {
    selfText = o.selfCgroup ?? read("/proc/self/cgroup");
  } catch (err) {
    return { ok: false, reason: `cannot read /proc/self/cgroup: ${errText(err)}` };
  }
  const paths = selfPaths(selfText);
  try {
    // A unified hierarchy at the root that offers the controllers: v2.
    if (existsSync(join(root, "cgroup.controllers"))) {
      const own = paths.get("") ?? "/";
      return detectV2(root, own, pid, limits);
    }
    return detectV1(root, paths, o.mountinfo ?? read("/proc/self/mountinfo"), pid, limits);
  } catch (err) {
    return { ok: false, reason: `cgroups: ${errText(err)}` };
  }
}
