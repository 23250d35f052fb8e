// Sandboxes on this machine: a workspace directory per session, every command under bubblewrap.
//
// Isolation: each command gets fresh user, pid, mount, network, ipc, uts and cgroup namespaces
// with no capabilities; it sees a read-only /usr and a handful of /etc files, a private /tmp and
// /dev/shm of bounded size, and the workspace at /workspace, the only writable host directory.
// Killing the bwrap process (timeout, cancel, output overflow, terminate, server exit) ends the
// pid namespace and so every process in it, however it detached itself.
//
// Process limit: RLIMIT_NPROC is counted per user namespace, but the kernel never applies it to
// processes of the host's root user (copy_process() exempts INIT_USER). So when the server runs
// as root, commands run as an unprivileged host user (`runAs`, default LOCAL_SANDBOX_HOST_ID):
// that is what makes the fork-bomb limit real, and an escape would land as nobody in particular.
// Inside the sandbox that user is still uid 0 of its own namespace.
//
// Resources (see cgroups.ts, volumes.ts, seccomp.ts): a sandbox's commands together stay under
// the profile's memory and CPU (DEFAULT_MEMORY_MIB / DEFAULT_CPUS when it says 0) and
// MAX_PROCESSES, through a cgroup per sandbox (v2, or v1 as on this machine kind); the workspace
// is an ext4 image of LIMITS.maxWorkspaceBytes and LIMITS.maxWorkspaceFiles, so filling it gets
// ENOSPC; every command runs under a seccomp filter. Cgroups and workspace images need root (or a
// delegated cgroup); where one is missing the provider says so once, at start, and runs without.
// bubblewrap itself starts with an empty environment: nothing of the host's shows in the
// sandbox's /proc/1/environ. Commands run under `bash -c`.
//
// The parts: limits.ts (the limits), startup.ts (what this machine enforces), bwrap.ts (command
// lines), spawn.ts and collect.ts (running a command), sandbox.ts (one sandbox), markers.ts (which
// sandboxes are live), files.ts (host-side file access), cgroups.ts, volumes.ts, seccomp.ts.

import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chown, mkdir, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { invalidField } from "../../domain/errors.js";
import type { CreateSandboxOptions, Sandbox, SandboxProvider } from "../../ports/sandbox.js";
import type { Cgroups } from "./cgroups.js";
import { exited, killGroup } from "./collect.js";
import { DependencyCache } from "./dependencies.js";
import { type FileOwner, WorkspaceFiles } from "./files.js";
import type { LocalSandboxLimits } from "./limits.js";
import { isSessionId, Markers, newSandboxId, sessionOfSandbox } from "./markers.js";
import { LocalSandbox, type SandboxExtras, type SandboxHost } from "./sandbox.js";
import { buildSeccompFilter } from "./seccomp.js";
import {
  type LocalSandboxEnforcement,
  type LocalSandboxProviderOptions,
  type LocalSandboxSetup,
  type Logger,
  setUpLocalSandboxes,
} from "./startup.js";
import type { WorkspaceVolumes } from "./volumes.js";

export { type CheckBubblewrapOptions, checkBubblewrap, SANDBOX_SHELL } from "./bwrap.js";
export { MAX_SYMLINK_HOPS, SANDBOX_WORKDIR } from "./files.js";
export {
  DEFAULT_CPUS,
  DEFAULT_MEMORY_MIB,
  DEFAULT_TIMEOUT_MS,
  LOCAL_SANDBOX_HOST_ID,
  LOCAL_SANDBOX_LIMITS,
  type LocalSandboxLimits,
  MAX_FILE_BYTES,
  MAX_OPEN_FILES,
  MAX_OUTPUT_BYTES,
  MAX_PROCESSES,
  MAX_SHM_BYTES,
  MAX_TIMEOUT_MS,
  MAX_TMP_BYTES,
  MAX_WORKSPACE_BYTES,
  MAX_WORKSPACE_FILES,
} from "./limits.js";
export type { LocalSandboxEnforcement, LocalSandboxProviderOptions, Logger } from "./startup.js";

/**
 * The local provider. A sandbox is "live" while its marker file exists (so a restarted server
 * finds it again); terminating it kills its commands and keeps the workspace, which only
 * `destroy(sessionId)` removes.
 */
export class LocalSandboxProvider implements SandboxProvider, SandboxHost {
  readonly name = "local";
  /** Whether commands run under bubblewrap. */
  readonly isolated: boolean;
  /** The host user commands run as and the workspace belongs to, when not the server's. */
  readonly owner: FileOwner | undefined;
  readonly limits: LocalSandboxLimits;
  /** The bubblewrap binary, an absolute path. */
  readonly bwrap: string;
  /** Bounds each sandbox's memory, CPU and processes; undefined where cgroups cannot. */
  readonly cgroups: Cgroups | undefined;
  /** Size- and file-limited workspaces; undefined where they cannot be made. */
  readonly volumes: WorkspaceVolumes | undefined;
  readonly enforcement: Readonly<LocalSandboxEnforcement>;
  private readonly logger: Logger;
  private readonly workspaces: string;
  private readonly markers: Markers;
  /** Commands running per sandbox, killed when it terminates. */
  private readonly running = new Map<string, Set<ChildProcess>>();
  private readonly seccompFilters = new Map<boolean, Buffer>();
  /** Installed dependencies by their specs, shared by every sandbox. */
  private readonly deps: DependencyCache;

  private constructor(setup: LocalSandboxSetup) {
    this.isolated = setup.enforcement.isolated;
    this.owner = setup.owner;
    this.limits = setup.limits;
    this.bwrap = setup.bwrap;
    this.cgroups = setup.cgroups;
    this.volumes = setup.volumes;
    this.enforcement = setup.enforcement;
    this.logger = setup.logger;
    this.workspaces = join(setup.dataDir, "workspaces");
    this.markers = new Markers(join(setup.dataDir, "sandboxes"));
    this.deps = new DependencyCache(
      join(setup.dataDir, "deps"),
      this.owner,
      this.limits.maxTimeoutMs,
    );
  }

  /**
   * Checks that bubblewrap runs here and refuses (throws, saying why) where it cannot, unless
   * `allowUnisolated` is set: then commands run as plain processes and every start warns.
   * Finds out which resource limits this machine can enforce and says, once, which it cannot.
   */
  static async create(options: LocalSandboxProviderOptions): Promise<LocalSandboxProvider> {
    return new LocalSandboxProvider(await setUpLocalSandboxes(options));
  }

  /** The seccomp filter for a network setting, built once; undefined where there is none. */
  seccompFilter(networkAllowed: boolean): Buffer | undefined {
    if (!this.enforcement.seccomp) return undefined;
    let filter = this.seccompFilters.get(networkAllowed);
    if (!filter) {
      filter = buildSeccompFilter({ networkAllowed });
      this.seccompFilters.set(networkAllowed, filter);
    }
    return filter;
  }

  /** Where this process reaches a workspace directory (through the mount namespace, if any). */
  hostPath(workspace: string): string {
    return this.volumes && this.isolated ? this.volumes.hostPath(workspace) : workspace;
  }

  /** Makes sure the session's workspace is there (mounted, when workspaces are limited). */
  async ready(sessionId: string, workspace: string): Promise<void> {
    if (this.volumes && this.isolated) await this.volumes.mount(sessionId, workspace);
  }

  private workspaceOf(sessionId: string): string {
    if (!isSessionId(sessionId)) throw invalidField("session_id", "not a session id");
    return join(this.workspaces, sessionId);
  }

  private async ensureWorkspace(sessionId: string): Promise<string> {
    const workspace = this.workspaceOf(sessionId);
    await mkdir(workspace, { recursive: true, mode: 0o700 });
    if (this.owner) await chown(workspace, this.owner.uid, this.owner.gid);
    await this.ready(sessionId, workspace);
    return workspace;
  }

  async create(options: CreateSandboxOptions): Promise<Sandbox> {
    options.signal?.throwIfAborted();
    if (!this.isolated) {
      this.logger.warn("starting a local sandbox WITHOUT isolation (ALLOW_UNISOLATED_SANDBOX)", {
        sessionId: options.sessionId,
      });
    }
    const workspace = await this.ensureWorkspace(options.sessionId);
    const sandboxId = newSandboxId(options.sessionId);
    const extras: SandboxExtras = options.secretEnv ? { secretEnv: options.secretEnv } : {};
    const marker = {
      sandboxId,
      sessionId: options.sessionId,
      settings: options.settings,
      ...extras,
      createTime: new Date().toISOString(),
    };
    await this.markers.write(marker);
    const sandbox = new LocalSandbox(
      sandboxId,
      options.sessionId,
      workspace,
      options.settings,
      this,
      extras,
    );
    const specs = options.dependencies;
    if (specs && specs.npm.length + specs.pip.length > 0) {
      try {
        extras.depsDir = await this.deps.ensure(specs, sandbox, options.onProgress);
        await this.markers.write({ ...marker, depsDir: extras.depsDir });
      } catch (err) {
        await this.forget(sandboxId).catch(() => {});
        throw err;
      }
    }
    return sandbox;
  }

  async attach(sandboxId: string, sessionId: string): Promise<Sandbox | null> {
    const marker = await this.markers.read(sandboxId);
    if (!marker) return null;
    if (marker.sessionId !== sessionId || marker.sandboxId !== sandboxId) return null;
    const workspace = await this.ensureWorkspace(sessionId);
    return new LocalSandbox(sandboxId, sessionId, workspace, marker.settings, this, {
      ...(marker.secretEnv ? { secretEnv: marker.secretEnv } : {}),
      ...(marker.depsDir ? { depsDir: marker.depsDir } : {}),
    });
  }

  listLive(): Promise<Array<{ sandboxId: string; sessionId: string }>> {
    return this.markers.list();
  }

  async isLive(sandboxId: string): Promise<boolean> {
    return this.markers.exists(sandboxId);
  }

  track(sandboxId: string, child: ChildProcess): () => void {
    const set = this.running.get(sandboxId) ?? new Set<ChildProcess>();
    this.running.set(sandboxId, set);
    set.add(child);
    return () => set.delete(child);
  }

  /**
   * Kills the sandbox's commands and removes its marker: it is no longer live. Its cgroup goes,
   * and its workspace is unmounted when no other live sandbox uses it (files stay in the image
   * and come back with the next use).
   */
  async forget(sandboxId: string): Promise<void> {
    const children = [...(this.running.get(sandboxId) ?? [])];
    for (const child of children) killGroup(child);
    this.running.delete(sandboxId);
    await this.markers.remove(sandboxId);
    await Promise.all(children.map(exited));
    await this.cgroups?.removeSandbox(sandboxId).catch(() => {});
    const sessionId = sessionOfSandbox(sandboxId);
    if (this.volumes && this.isolated && sessionId) {
      const others = (await this.listLive()).some((l) => l.sessionId === sessionId);
      if (!others) await this.volumes.unmount(sessionId, this.workspaceOf(sessionId));
    }
  }

  /** Removes a deleted session's sandboxes and its workspace (with its image). */
  async destroy(sessionId: string): Promise<void> {
    const workspace = this.workspaceOf(sessionId);
    for (const live of await this.listLive()) {
      if (live.sessionId === sessionId) await this.forget(live.sandboxId);
    }
    if (this.volumes && this.isolated) await this.volumes.remove(sessionId, workspace);
    if (!existsSync(workspace)) return;
    // Emptied through the same no-symlink walk as every other host-side file operation.
    await new WorkspaceFiles(workspace).clear();
    await rmdir(workspace).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }
}
