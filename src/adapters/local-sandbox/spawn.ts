// Starting one command: under bubblewrap (in the workspaces' mount namespace and the sandbox's
// cgroup, where those are enforced), or as a plain process where bubblewrap cannot run.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { AppError } from "../../domain/errors.js";
import {
  ARGS_FD,
  bwrapArgs,
  type ExtraBind,
  PRLIMIT,
  prlimitArgs,
  SANDBOX_SHELL,
  SECCOMP_FD,
} from "./bwrap.js";
import type { CgroupLimits, Cgroups, ExecCgroup } from "./cgroups.js";
import { killGroup } from "./collect.js";
import { type FileOwner, SANDBOX_WORKDIR } from "./files.js";
import type { LocalSandboxLimits } from "./limits.js";
import type { WorkspaceVolumes } from "./volumes.js";

const cgroupFailure = (err: unknown) =>
  new AppError(
    "unavailable",
    "SANDBOX_CGROUP_FAILED",
    `the command could not be placed in its sandbox's cgroup (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
  );

export interface IsolatedCommand {
  /** The bash command line. */
  command: string;
  /** The bubblewrap binary, an absolute path. */
  bwrap: string;
  /** The host user it runs as, when not the server's. */
  runAs: FileOwner | undefined;
  /** The limited workspaces, whose mount namespace bubblewrap starts in. */
  volumes: WorkspaceVolumes | undefined;
  /** Where the sandbox's cgroup is made (with `resources`), for the command to enter. */
  cgroups: Cgroups | undefined;
  sandboxId: string;
  resources: CgroupLimits;
  /** The workspace directory, as the workspaces' mount namespace sees it. */
  workspace: string;
  /** The working directory, relative to the workspace ("" for its root). */
  cwdRel: string;
  networkAllowed: boolean;
  env: Record<string, string>;
  limits: LocalSandboxLimits;
  /** The seccomp filter to run under, if any. */
  seccomp: Buffer | undefined;
  /** Pipe its stdin (a long-running process); default none. */
  stdin?: boolean;
  /** Host directories bound in besides the workspace. */
  binds?: readonly ExtraBind[];
}

/** Starts a command under bubblewrap, inside its sandbox's cgroup before it runs anything. */
export async function startIsolated(
  c: IsolatedCommand,
): Promise<{ child: ChildProcess; cgroup: ExecCgroup | undefined }> {
  const cwd = c.cwdRel ? `${SANDBOX_WORKDIR}/${c.cwdRel}` : SANDBOX_WORKDIR;
  const { runAs, volumes } = c;
  const command = [
    "--args",
    String(ARGS_FD),
    "--",
    ...prlimitArgs(c.limits, true),
    SANDBOX_SHELL,
    "-c",
    c.command,
  ];
  // With limited workspaces bubblewrap starts in their mount namespace (nsenter, as root,
  // then as the sandbox user); else it is started as that user directly.
  let [file, args] = [c.bwrap, command];
  if (volumes && runAs) {
    const [nsenter, ...enter] = volumes.enterArgs();
    file = nsenter!;
    args = [...enter, "-S", String(runAs.uid), "-G", String(runAs.gid), "--", c.bwrap, ...command];
  }
  const cgroup = await c.cgroups?.startExec(c.sandboxId, c.resources).catch((err: unknown) => {
    throw cgroupFailure(err);
  });
  // An empty environment: bubblewrap's own is what the sandbox sees in /proc/1/environ.
  // The sandbox's options (with the env values) go through a pipe (`--args`), not the
  // command line, which every host user can read in /proc.
  const child = spawn(file, args, {
    detached: true,
    stdio: [c.stdin ? "pipe" : "ignore", "pipe", "pipe", "pipe", "pipe"],
    env: {},
    ...(runAs && !volumes ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  const [argsPipe, seccompPipe] = [
    child.stdio[ARGS_FD],
    child.stdio[SECCOMP_FD],
  ] as Array<Writable | null>;
  argsPipe?.on("error", () => {}); // bwrap gone early: its exit status tells
  seccompPipe?.on("error", () => {});
  if (cgroup && child.pid !== undefined) {
    // bubblewrap waits for its options before it does anything: it enters the cgroup
    // before any process of the command exists.
    try {
      cgroup.enter(child.pid);
    } catch (err) {
      killGroup(child);
      throw cgroupFailure(err);
    }
  }
  const options = bwrapArgs(
    c.workspace,
    cwd,
    c.networkAllowed,
    c.env,
    c.limits,
    c.seccomp !== undefined,
    c.binds,
  );
  argsPipe?.end(`${options.join("\0")}\0`);
  if (c.seccomp) seccompPipe?.end(c.seccomp);
  else seccompPipe?.end();
  return { child, cgroup };
}

/** Starts a command as a plain process of the server's user (no isolation, development only). */
export function startUnisolated(
  command: string,
  workspace: string,
  cwdRel: string,
  env: Record<string, string>,
  l: LocalSandboxLimits,
  stdin = false,
): ChildProcess {
  // No RLIMIT_NPROC here: it would count every process of the server's user.
  const [file, args] = existsSync(PRLIMIT)
    ? [PRLIMIT, [...prlimitArgs(l, false).slice(1), SANDBOX_SHELL, "-c", command]]
    : [SANDBOX_SHELL, ["-c", command]];
  return spawn(file, args, {
    cwd: cwdRel ? join(workspace, cwdRel) : workspace,
    env,
    detached: true,
    stdio: [stdin ? "pipe" : "ignore", "pipe", "pipe"],
  });
}
