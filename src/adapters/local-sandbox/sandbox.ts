// One local sandbox: its commands (checked, then started under its provider's protection) and its
// workspace's files, reached from the host.

import type { ChildProcess } from "node:child_process";
import { AppError, invalidField } from "../../domain/errors.js";
import { normalizeWorkspacePath } from "../../domain/paths.js";
import type { SandboxSettings } from "../../domain/types.js";
import type {
  ExecOptions,
  ExecResult,
  Sandbox,
  SandboxFileStat,
  SandboxProcess,
  SpawnOptions,
} from "../../ports/sandbox.js";
import { DEFAULT_PATH } from "./bwrap.js";
import type { CgroupLimits, Cgroups, ExecCgroup } from "./cgroups.js";
import { collect } from "./collect.js";
import { DEPS_MOUNT, depsEnv } from "./dependencies-env.js";
import { type FileOwner, SANDBOX_WORKDIR, WorkspaceFiles } from "./files.js";
import { type LocalSandboxLimits, MIB } from "./limits.js";
import { trackProcess } from "./process.js";
import { startIsolated, startUnisolated } from "./spawn.js";
import type { WorkspaceVolumes } from "./volumes.js";

/** What a sandbox uses of its provider (LocalSandboxProvider). */
export interface SandboxHost {
  /** Whether commands run under bubblewrap. */
  readonly isolated: boolean;
  /** The host user commands run as and the workspace belongs to, when not the server's. */
  readonly owner: FileOwner | undefined;
  readonly limits: LocalSandboxLimits;
  /** The bubblewrap binary, an absolute path. */
  readonly bwrap: string;
  readonly cgroups: Cgroups | undefined;
  readonly volumes: WorkspaceVolumes | undefined;
  seccompFilter(networkAllowed: boolean): Buffer | undefined;
  hostPath(workspace: string): string;
  ready(sessionId: string, workspace: string): Promise<void>;
  isLive(sandboxId: string): Promise<boolean>;
  track(sandboxId: string, child: ChildProcess): () => void;
  forget(sandboxId: string): Promise<void>;
}

/** What a sandbox has besides its settings: secret variables and installed packages. */
export interface SandboxExtras {
  secretEnv?: Record<string, string>;
  /** The host directory of its installed dependencies (DEPS_MOUNT in the sandbox). */
  depsDir?: string;
}

/** How one command sees the dependencies directory (installing: writable). */
interface DepsBind {
  hostDir: string;
  writable: boolean;
}

export class LocalSandbox implements Sandbox {
  readonly files: WorkspaceFiles;

  constructor(
    readonly id: string,
    readonly sessionId: string,
    private readonly workspace: string,
    private readonly settings: SandboxSettings,
    private readonly provider: SandboxHost,
    readonly extras: SandboxExtras = {},
  ) {
    this.files = new WorkspaceFiles(() => provider.hostPath(workspace), provider.owner);
  }

  /** The sandbox's memory, CPU and process limits, from its profile or the defaults. */
  get resources(): CgroupLimits {
    const l = this.provider.limits;
    return {
      memoryBytes:
        (this.settings.memoryMib > 0 ? this.settings.memoryMib : l.defaultMemoryMib) * MIB,
      cpus: this.settings.cpu > 0 ? this.settings.cpu : l.defaultCpus,
      maxProcesses: l.maxProcesses,
    };
  }

  exec(options: ExecOptions): Promise<ExecResult> {
    return this.run(options, this.depsBind());
  }

  /** Runs a command with `hostDir` writable at the dependencies' place (the installer). */
  install(options: ExecOptions, hostDir: string): Promise<ExecResult> {
    return this.run(options, { hostDir, writable: true });
  }

  private depsBind(): DepsBind | undefined {
    const depsDir = this.extras.depsDir;
    return depsDir ? { hostDir: depsDir, writable: false } : undefined;
  }

  private async run(options: ExecOptions, deps: DepsBind | undefined): Promise<ExecResult> {
    const l = this.provider.limits;
    const timeoutMs =
      options.timeoutMs !== undefined && options.timeoutMs > 0
        ? Math.min(options.timeoutMs, l.maxTimeoutMs)
        : l.defaultTimeoutMs;
    const started = Date.now();
    const { child, cgroup } = await this.start(options, false, deps);
    const untrack = this.provider.track(this.id, child);
    try {
      const result = await collect(
        child,
        options,
        timeoutMs,
        l.maxOutputBytes,
        started,
        !this.provider.isolated,
      );
      // The command's output stays its own: callers (the Bash tool) say what oomKilled means.
      if (cgroup && (await cgroup.oomKills()) > 0) result.oomKilled = true;
      return result;
    } finally {
      untrack();
    }
  }

  async spawn(options: SpawnOptions): Promise<SandboxProcess> {
    const { child } = await this.start(options, true, this.depsBind());
    return trackProcess(child, options, this.provider.track(this.id, child));
  }

  /** Checks the command's options and starts it (isolated where the provider can). */
  private async start(
    options: ExecOptions | SpawnOptions,
    stdin: boolean,
    deps: DepsBind | undefined,
  ): Promise<{ child: ChildProcess; cgroup?: ExecCgroup | undefined }> {
    if (!(await this.isAlive())) {
      throw new AppError(
        "failed_precondition",
        "SANDBOX_TERMINATED",
        `sandbox ${this.id} is terminated`,
      );
    }
    const l = this.provider.limits;
    const cwdRel = options.cwd ? normalizeWorkspacePath(options.cwd, "cwd") : "";
    await this.provider.ready(this.sessionId, this.workspace);
    if (cwdRel && (await this.files.stat(cwdRel))?.type !== "directory") {
      throw invalidField("cwd", `${cwdRel} is not a directory in the workspace`);
    }
    const env: Record<string, string> = {
      PATH: DEFAULT_PATH,
      HOME: this.provider.isolated ? SANDBOX_WORKDIR : this.workspace,
      LANG: "C.UTF-8",
      TERM: "dumb",
      TMPDIR: "/tmp",
      // bash would read ~/.bashrc with a socket (a pipe from node) on its stdin, at SHLVL 0.
      ...(stdin ? { SHLVL: "1" } : {}),
      ...this.settings.env,
      ...this.extras.secretEnv,
      ...(deps ? depsEnv(this.provider.isolated ? DEPS_MOUNT : deps.hostDir) : {}),
      ...options.env,
    };
    for (const [name, value] of Object.entries(env)) {
      if (name === "" || name.includes("=") || `${name}${value}`.includes("\0")) {
        throw invalidField("env", `${JSON.stringify(name)} is not a valid environment variable`);
      }
    }
    const network =
      this.settings.networkAllowed || ("allowNetwork" in options && options.allowNetwork === true);
    if (!this.provider.isolated) {
      return { child: startUnisolated(options.command, this.workspace, cwdRel, env, l, stdin) };
    }
    return startIsolated({
      command: options.command,
      bwrap: this.provider.bwrap,
      runAs: this.provider.owner,
      volumes: this.provider.volumes,
      cgroups: this.provider.cgroups,
      sandboxId: this.id,
      resources: this.resources,
      // The same path in the workspaces' mount namespace, where bubblewrap starts.
      workspace: this.workspace,
      cwdRel,
      networkAllowed: network,
      env,
      limits: l,
      seccomp: this.provider.seccompFilter(network),
      stdin,
      ...(deps
        ? { binds: [{ host: deps.hostDir, path: DEPS_MOUNT, writable: deps.writable }] }
        : {}),
    });
  }

  /** Runs a file operation once the workspace is there (mounted, when workspaces are limited). */
  private async withWorkspace<T>(fn: () => Promise<T>): Promise<T> {
    await this.provider.ready(this.sessionId, this.workspace);
    return fn();
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.withWorkspace(() => this.files.read(path));
  }

  writeFile(path: string, content: Uint8Array): Promise<void> {
    return this.withWorkspace(() => this.files.write(path, content));
  }

  listFiles(dir?: string): Promise<SandboxFileStat[]> {
    return this.withWorkspace(() => this.files.list(dir));
  }

  stat(path: string): Promise<SandboxFileStat | null> {
    return this.withWorkspace(() => this.files.stat(path));
  }

  remove(path: string): Promise<void> {
    return this.withWorkspace(() => this.files.remove(path));
  }

  isAlive(): Promise<boolean> {
    return this.provider.isLive(this.id);
  }

  terminate(): Promise<void> {
    return this.provider.forget(this.id);
  }
}
