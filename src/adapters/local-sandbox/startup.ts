// Starting the local provider: where its data lives, which host user commands run as, and what
// of the sandbox's protection this machine can enforce (bubblewrap, cgroups, limited workspaces,
// seccomp), decided once and said once.

import { chmod, mkdir, realpath, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Logger as FullLogger } from "../../ports/logger.js";
import { checkBubblewrap, resolveExecutable } from "./bwrap.js";
import { type Cgroups, detectCgroups } from "./cgroups.js";
import type { FileOwner } from "./files.js";
import {
  LOCAL_SANDBOX_HOST_ID,
  LOCAL_SANDBOX_LIMITS,
  type LocalSandboxLimits,
  MIB,
} from "./limits.js";
import { hostSeccompArch } from "./seccomp.js";
import { WorkspaceVolumes } from "./volumes.js";

export type Logger = Pick<FullLogger, "warn">;

const consoleLogger: Logger = {
  warn: (msg, fields) => console.warn(msg, fields ?? {}),
};

export interface LocalSandboxProviderOptions {
  /** Workspaces live in `<dataDir>/workspaces/<sessionId>`. */
  dataDir: string;
  /** Run commands without isolation where bubblewrap cannot run (development only). */
  allowUnisolated?: boolean;
  /** Default: warnings on the console. */
  logger?: Logger;
  /** The bubblewrap binary; default `bwrap` from PATH. */
  bwrapPath?: string;
  /**
   * The host user commands run as when the server runs as root; default
   * LOCAL_SANDBOX_HOST_ID. Ignored when the server is not root (commands run as its user).
   */
  runAs?: FileOwner;
  /** Tighter (or looser) limits than LOCAL_SANDBOX_LIMITS. */
  limits?: Partial<LocalSandboxLimits>;
}

/** What of the sandbox's protection this provider enforces here (decided once, at start). */
export interface LocalSandboxEnforcement {
  /** Commands run under bubblewrap. */
  isolated: boolean;
  /** The cgroup version that bounds memory, CPU and processes; null where none can. */
  cgroups: "v1" | "v2" | null;
  /** The cgroup controllers in use (memory, cpu, pids). */
  cgroupControllers: string[];
  /** The workspace is a size- and file-count-limited file system. */
  workspaceLimits: boolean;
  /** Commands run under the seccomp filter. */
  seccomp: boolean;
  /** Why something above is off, one line each. */
  notes: string[];
}

/** Everything the provider runs with, found out at its start. */
export interface LocalSandboxSetup {
  /** The data directory, absolute and without symbolic links. */
  dataDir: string;
  /** The host user commands run as and the workspace belongs to, when not the server's. */
  owner: FileOwner | undefined;
  limits: LocalSandboxLimits;
  logger: Logger;
  /** The bubblewrap binary, an absolute path. */
  bwrap: string;
  /** Bounds each sandbox's memory, CPU and processes; undefined where cgroups cannot. */
  cgroups: Cgroups | undefined;
  /** Size- and file-limited workspaces; undefined where they cannot be made. */
  volumes: WorkspaceVolumes | undefined;
  enforcement: Readonly<LocalSandboxEnforcement>;
}

/** What `LocalSandboxProvider.create` finds out (and refuses, and warns about) at start. */
export async function setUpLocalSandboxes(
  options: LocalSandboxProviderOptions,
): Promise<LocalSandboxSetup> {
  const logger = options.logger ?? consoleLogger;
  const bwrap = resolveExecutable(options.bwrapPath ?? "bwrap");
  await mkdir(join(resolve(options.dataDir), "workspaces"), { recursive: true, mode: 0o711 });
  // Without symbolic links: mount points are compared with the kernel's view of them.
  const dataDir = await realpath(resolve(options.dataDir));
  const workspaces = join(dataDir, "workspaces");
  const root = process.getuid?.() === 0;
  const runAs = root
    ? (options.runAs ?? { uid: LOCAL_SANDBOX_HOST_ID, gid: LOCAL_SANDBOX_HOST_ID })
    : undefined;
  const limits = { ...LOCAL_SANDBOX_LIMITS, ...options.limits };
  await mkdir(join(dataDir, "sandboxes"), { recursive: true, mode: 0o700 });
  if (runAs) {
    // The sandbox user must reach its workspace: let it pass (not list) the data directory.
    for (const dir of [dataDir, workspaces]) {
      const mode = (await stat(dir)).mode & 0o777;
      if ((mode & 0o001) === 0) await chmod(dir, mode | 0o001);
    }
  }
  const check = checkBubblewrap({
    bwrapPath: bwrap,
    bindDir: workspaces,
    ...(runAs ? { runAs } : {}),
  });
  if (!check.ok && !options.allowUnisolated) {
    throw new Error(
      `the local sandbox needs bubblewrap, which cannot run here: ${check.reason}. Install ` +
        "bubblewrap (apt-get install bubblewrap) on a kernel that allows user namespaces, make " +
        `the data directory's parents passable (chmod o+x) when running as root, use ` +
        "SANDBOX_PROVIDER=modal, or set ALLOW_UNISOLATED_SANDBOX=true to run commands " +
        "without isolation (never in production)",
    );
  }
  const notes: string[] = [];
  let cgroups: Cgroups | undefined;
  let volumes: WorkspaceVolumes | undefined;
  let seccomp = false;
  if (!check.ok) {
    logger.warn("local sandbox: bubblewrap cannot run, commands will run WITHOUT isolation", {
      reason: check.reason,
    });
    notes.push("no isolation, so no resource limits, workspace limits or seccomp filter");
  } else {
    const detected = detectCgroups({
      memoryBytes: limits.defaultMemoryMib * MIB,
      cpus: limits.defaultCpus,
      maxProcesses: limits.maxProcesses,
    });
    if (detected.ok) {
      cgroups = detected.cgroups;
      await cgroups.sweep();
      if (detected.missing.length > 0) {
        notes.push(`cgroup controllers unavailable: ${detected.missing.join(", ")}`);
      }
    } else {
      notes.push(
        `memory and CPU limits are not enforced (process count only by RLIMIT_NPROC): ${detected.reason}`,
      );
    }
    const started = await WorkspaceVolumes.start({
      dataDir,
      limits: { maxBytes: limits.maxWorkspaceBytes, maxFiles: limits.maxWorkspaceFiles },
      ...(runAs ? { owner: runAs } : {}),
    });
    if (started.ok) volumes = started.volumes;
    else notes.push(`workspace size and file count limits are not enforced: ${started.reason}`);
    seccomp = hostSeccompArch() !== undefined;
    if (!seccomp) notes.push(`no seccomp filter for ${process.arch}`);
  }
  const enforcement: LocalSandboxEnforcement = {
    isolated: check.ok,
    cgroups: cgroups?.version ?? null,
    cgroupControllers: cgroups ? [...cgroups.controllers] : [],
    workspaceLimits: volumes !== undefined,
    seccomp,
    notes,
  };
  if (check.ok && notes.length > 0) {
    logger.warn("local sandbox: some limits are NOT enforced on this machine", {
      notes,
      cgroups: enforcement.cgroups,
    });
  }
  return {
    dataDir,
    owner: check.ok ? runAs : undefined,
    limits,
    logger,
    bwrap,
    cgroups,
    volumes,
    enforcement,
  };
}
