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

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  chown,
  mkdir,
  readdir,
  readFile,
  realpath,
  rmdir,
  stat,
  unlink,
  writeFile,
} from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { AppError, invalidField } from "../../domain/errors.js";
import { LIMITS } from "../../domain/limits.js";
import { normalizeWorkspacePath } from "../../domain/paths.js";
import type { SandboxSettings } from "../../domain/types.js";
import type { Logger as FullLogger } from "../../ports/logger.js";
import type {
  CreateSandboxOptions,
  ExecOptions,
  ExecResult,
  Sandbox,
  SandboxFileStat,
  SandboxProvider,
} from "../../ports/sandbox.js";
import { type CgroupLimits, type Cgroups, detectCgroups, type ExecCgroup } from "./cgroups.js";
import { type FileOwner, SANDBOX_WORKDIR, WorkspaceFiles } from "./files.js";
import { buildSeccompFilter, hostSeccompArch } from "./seccomp.js";
import { WorkspaceVolumes } from "./volumes.js";

export { MAX_SYMLINK_HOPS, SANDBOX_WORKDIR } from "./files.js";

/** A command's run time when it names none. */
export const DEFAULT_TIMEOUT_MS = 120_000;
/** The longest run time a command may ask for. */
export const MAX_TIMEOUT_MS = 600_000;
/** Output kept per stream (stdout, stderr) of one command; past it the command is killed. */
export const MAX_OUTPUT_BYTES = 1024 * 1024;
/** Processes and threads a command may have at once (RLIMIT_NPROC in its user namespace). */
export const MAX_PROCESSES = 256;
/** Largest file a command may write (RLIMIT_FSIZE). */
export const MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Open files per process (RLIMIT_NOFILE). */
export const MAX_OPEN_FILES = 1024;
/** Size of the command's private /tmp (a tmpfs, so memory). */
export const MAX_TMP_BYTES = 512 * 1024 * 1024;
/** Size of the command's private /dev/shm. */
export const MAX_SHM_BYTES = 64 * 1024 * 1024;
/** The host user commands run as when the server runs as root (no passwd entry needed). */
export const LOCAL_SANDBOX_HOST_ID = 61_000;
/** Memory a sandbox's commands may use together when the profile says 0 (memory_mib). */
export const DEFAULT_MEMORY_MIB = 2048;
/** CPUs' worth of time a sandbox's commands get together when the profile says 0 (cpu). */
export const DEFAULT_CPUS = 1;
/** Bytes the files of one workspace may take together. */
export const MAX_WORKSPACE_BYTES = LIMITS.maxWorkspaceBytes;
/** Files, directories and links one workspace may hold. */
export const MAX_WORKSPACE_FILES = LIMITS.maxWorkspaceFiles;
/** The shell commands run in. */
export const SANDBOX_SHELL = "/bin/bash";

export interface LocalSandboxLimits {
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  maxOutputBytes: number;
  maxProcesses: number;
  maxFileBytes: number;
  maxOpenFiles: number;
  maxTmpBytes: number;
  maxShmBytes: number;
  defaultMemoryMib: number;
  defaultCpus: number;
  maxWorkspaceBytes: number;
  maxWorkspaceFiles: number;
}

/** The local sandbox's limits, enforced on every command. */
export const LOCAL_SANDBOX_LIMITS: Readonly<LocalSandboxLimits> = Object.freeze({
  defaultTimeoutMs: DEFAULT_TIMEOUT_MS,
  maxTimeoutMs: MAX_TIMEOUT_MS,
  maxOutputBytes: MAX_OUTPUT_BYTES,
  maxProcesses: MAX_PROCESSES,
  maxFileBytes: MAX_FILE_BYTES,
  maxOpenFiles: MAX_OPEN_FILES,
  maxTmpBytes: MAX_TMP_BYTES,
  maxShmBytes: MAX_SHM_BYTES,
  defaultMemoryMib: DEFAULT_MEMORY_MIB,
  defaultCpus: DEFAULT_CPUS,
  maxWorkspaceBytes: MAX_WORKSPACE_BYTES,
  maxWorkspaceFiles: MAX_WORKSPACE_FILES,
});

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const PRLIMIT = "/usr/bin/prlimit";

/** Host files a sandbox may read: the system's, nothing of the host's users or secrets. */
const READ_ONLY_ETC = [
  "/etc/passwd",
  "/etc/group",
  "/etc/alternatives",
  "/etc/ld.so.cache",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/etc/localtime",
  "/etc/nsswitch.conf",
  "/etc/mime.types",
  "/etc/ssl/certs",
  "/etc/ca-certificates",
  "/etc/python3",
  "/etc/python3.11",
];
/** Added when the profile allows the network. */
const NETWORK_ETC = ["/etc/resolv.conf", "/etc/hosts", "/etc/host.conf", "/etc/gai.conf"];

export type Logger = Pick<FullLogger, "warn">;

const consoleLogger: Logger = {
  warn: (msg, fields) => console.warn(msg, fields ?? {}),
};

function systemArgs(): string[] {
  const args = ["--ro-bind", "/usr", "/usr"];
  for (const dir of ["bin", "lib", "lib32", "lib64", "sbin"]) {
    if (existsSync(`/${dir}`)) args.push("--symlink", `usr/${dir}`, `/${dir}`);
  }
  return args;
}

const ISOLATION = [
  "--unshare-all",
  "--unshare-user",
  "--uid",
  "0",
  "--gid",
  "0",
  "--cap-drop",
  "ALL",
  "--die-with-parent",
  "--new-session",
  "--clearenv",
];

/** The file descriptors bubblewrap reads its options and its seccomp filter from. */
const ARGS_FD = 3;
const SECCOMP_FD = 4;

function bwrapArgs(
  workspace: string,
  cwd: string,
  networkAllowed: boolean,
  env: Record<string, string>,
  l: LocalSandboxLimits,
  seccomp: boolean,
): string[] {
  const args = [...ISOLATION, ...systemArgs()];
  for (const path of [...READ_ONLY_ETC, ...(networkAllowed ? NETWORK_ETC : [])]) {
    args.push("--ro-bind-try", path, path);
  }
  args.push("--dev", "/dev", "--size", String(l.maxShmBytes), "--tmpfs", "/dev/shm");
  args.push("--remount-ro", "/dev", "--proc", "/proc");
  args.push("--size", String(l.maxTmpBytes), "--tmpfs", "/tmp");
  args.push("--bind", workspace, SANDBOX_WORKDIR, "--chdir", cwd);
  // The sandbox's own root (where /etc and the symlinks live) is read-only too: only the
  // workspace, /tmp and /dev/shm are writable.
  args.push("--remount-ro", "/");
  if (networkAllowed) args.push("--share-net");
  if (seccomp) args.push("--seccomp", String(SECCOMP_FD));
  for (const [name, value] of Object.entries(env)) args.push("--setenv", name, value);
  return args;
}

function prlimitArgs(l: LocalSandboxLimits, withNproc: boolean): string[] {
  return [
    PRLIMIT,
    ...(withNproc ? [`--nproc=${l.maxProcesses}`] : []),
    `--fsize=${l.maxFileBytes}`,
    `--nofile=${l.maxOpenFiles}`,
    "--core=0",
    "--",
  ];
}

/** `name` as an absolute path, searched on the server's PATH (bubblewrap starts without one). */
function resolveExecutable(name: string): string {
  if (name.includes("/")) return resolve(name);
  for (const dir of (process.env.PATH ?? DEFAULT_PATH).split(":")) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return name;
}

export interface CheckBubblewrapOptions {
  /** The bubblewrap binary; default `bwrap` from PATH. */
  bwrapPath?: string;
  /** The host user to run it as (the server must be root to switch). */
  runAs?: FileOwner;
  /** A directory the sandbox must be able to bind (e.g. where the workspaces live). */
  bindDir?: string;
}

/** Whether bubblewrap can start a sandbox here, by starting a trivial one; the reason when not. */
export function checkBubblewrap(
  options: CheckBubblewrapOptions = {},
): { ok: true } | { ok: false; reason: string } {
  const bwrap = resolveExecutable(options.bwrapPath ?? "bwrap");
  if (!existsSync(PRLIMIT)) return { ok: false, reason: `${PRLIMIT} (util-linux) is missing` };
  if (!existsSync(SANDBOX_SHELL)) return { ok: false, reason: `${SANDBOX_SHELL} is missing` };
  const r = spawnSync(
    bwrap,
    [
      ...ISOLATION,
      ...systemArgs(),
      "--proc",
      "/proc",
      "--dev",
      "/dev",
      ...(options.bindDir ? ["--ro-bind", options.bindDir, SANDBOX_WORKDIR] : []),
      "--",
      PRLIMIT,
      "--nproc=64",
      "--",
      "/bin/true",
    ],
    {
      encoding: "utf8",
      timeout: 10_000,
      env: {},
      ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
    },
  );
  const as = options.runAs ? ` as uid ${options.runAs.uid}` : "";
  if (r.error) return { ok: false, reason: `${bwrap} could not run${as}: ${r.error.message}` };
  if (r.status !== 0) {
    const why = r.stderr.trim() || (r.signal ? `killed by ${r.signal}` : `exit ${r.status}`);
    return { ok: false, reason: `${bwrap} failed${as}: ${why}` };
  }
  return { ok: true };
}

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

interface Marker {
  sandboxId: string;
  sessionId: string;
  settings: SandboxSettings;
  createTime: string;
}

const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;
const SANDBOX_ID = /^local-([A-Za-z0-9_-]{1,128})-[0-9a-f]{8}$/;

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

/** Runs one started command to its end within the limits. */
function collect(
  child: ChildProcess,
  options: ExecOptions,
  timeoutMs: number,
  maxOutputBytes: number,
  started: number,
  killOnExit: boolean,
): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    const out = { stdout: "", stderr: "" };
    let timedOut = false;
    let cancelled = false;
    let truncated = false;
    let callbackError: unknown;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    const onAbort = () => {
      cancelled = true;
      killGroup(child);
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
    const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
    const emit = (stream: "stdout" | "stderr", text: string) => {
      if (text === "") return;
      out[stream] += text;
      try {
        (stream === "stdout" ? options.onStdout : options.onStderr)?.(text);
      } catch (err) {
        callbackError ??= err;
        killGroup(child);
      }
    };
    for (const stream of ["stdout", "stderr"] as const) {
      let bytes = 0;
      child[stream]?.on("data", (chunk: Buffer) => {
        let data = chunk;
        if (bytes + data.length > maxOutputBytes) {
          // Exactly at the limit is fine; a byte past it ends the command.
          data = data.subarray(0, maxOutputBytes - bytes);
          if (!truncated) killGroup(child);
          truncated = true;
          if (data.length === 0) return;
        }
        bytes += data.length;
        emit(stream, decoders[stream].write(data));
      });
    }
    let spawnError: Error | undefined;
    child.on("error", (err) => {
      spawnError = err;
    });
    // Without bubblewrap nothing ends the command's background processes with it: do it here.
    if (killOnExit) child.on("exit", () => killGroup(child));
    child.on("close", (code) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      emit("stdout", decoders.stdout.end());
      emit("stderr", decoders.stderr.end());
      if (callbackError !== undefined) return reject(callbackError);
      if (spawnError && child.pid === undefined) return reject(spawnError);
      const killed = timedOut || cancelled || truncated;
      resolvePromise({
        exitCode: killed ? null : code,
        stdout: out.stdout,
        stderr: out.stderr,
        timedOut,
        cancelled,
        truncated,
        durationMs: Date.now() - started,
      });
    });
  });
}

const MIB = 1024 * 1024;

const cgroupFailure = (err: unknown) =>
  new AppError(
    "unavailable",
    "SANDBOX_CGROUP_FAILED",
    `the command could not be placed in its sandbox's cgroup (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
  );

class LocalSandbox implements Sandbox {
  readonly files: WorkspaceFiles;

  constructor(
    readonly id: string,
    readonly sessionId: string,
    private readonly workspace: string,
    private readonly settings: SandboxSettings,
    private readonly provider: LocalSandboxProvider,
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

  async exec(options: ExecOptions): Promise<ExecResult> {
    if (!(await this.isAlive())) {
      throw new AppError(
        "failed_precondition",
        "SANDBOX_TERMINATED",
        `sandbox ${this.id} is terminated`,
      );
    }
    const l = this.provider.limits;
    const timeoutMs =
      options.timeoutMs !== undefined && options.timeoutMs > 0
        ? Math.min(options.timeoutMs, l.maxTimeoutMs)
        : l.defaultTimeoutMs;
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
      ...this.settings.env,
      ...options.env,
    };
    for (const [name, value] of Object.entries(env)) {
      if (name === "" || name.includes("=") || `${name}${value}`.includes("\0")) {
        throw invalidField("env", `${JSON.stringify(name)} is not a valid environment variable`);
      }
    }
    const started = Date.now();
    let child: ChildProcess;
    let cgroup: ExecCgroup | undefined;
    if (this.provider.isolated) {
      const cwd = cwdRel ? `${SANDBOX_WORKDIR}/${cwdRel}` : SANDBOX_WORKDIR;
      const runAs = this.provider.owner;
      const command = [
        "--args",
        String(ARGS_FD),
        "--",
        ...prlimitArgs(l, true),
        SANDBOX_SHELL,
        "-c",
        options.command,
      ];
      const volumes = this.provider.volumes;
      // With limited workspaces bubblewrap starts in their mount namespace (nsenter, as root,
      // then as the sandbox user); else it is started as that user directly.
      const [file, args] =
        volumes && runAs
          ? [
              volumes.enterArgs()[0]!,
              [
                ...volumes.enterArgs().slice(1),
                "-S",
                String(runAs.uid),
                "-G",
                String(runAs.gid),
                "--",
                this.provider.bwrap,
                ...command,
              ],
            ]
          : [this.provider.bwrap, command];
      cgroup = await this.provider.cgroups
        ?.startExec(this.id, this.resources)
        .catch((err: unknown) => {
          throw cgroupFailure(err);
        });
      // An empty environment: bubblewrap's own is what the sandbox sees in /proc/1/environ.
      // The sandbox's options (with the env values) go through a pipe (`--args`), not the
      // command line, which every host user can read in /proc.
      child = spawn(file, args, {
        detached: true,
        stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"],
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
      const seccomp = this.provider.seccompFilter(this.settings.networkAllowed);
      const args2 = bwrapArgs(
        // The same path in the workspaces' mount namespace, where bubblewrap starts.
        this.workspace,
        cwd,
        this.settings.networkAllowed,
        env,
        l,
        seccomp !== undefined,
      );
      argsPipe?.end(`${args2.join("\0")}\0`);
      if (seccomp) seccompPipe?.end(seccomp);
      else seccompPipe?.end();
    } else {
      // No RLIMIT_NPROC here: it would count every process of the server's user.
      const [file, args] = existsSync(PRLIMIT)
        ? [PRLIMIT, [...prlimitArgs(l, false).slice(1), SANDBOX_SHELL, "-c", options.command]]
        : [SANDBOX_SHELL, ["-c", options.command]];
      child = spawn(file, args, {
        cwd: cwdRel ? join(this.workspace, cwdRel) : this.workspace,
        env,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
    }
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

  private async files_<T>(fn: () => Promise<T>): Promise<T> {
    await this.provider.ready(this.sessionId, this.workspace);
    return fn();
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.files_(() => this.files.read(path));
  }

  writeFile(path: string, content: Uint8Array): Promise<void> {
    return this.files_(() => this.files.write(path, content));
  }

  listFiles(dir?: string): Promise<SandboxFileStat[]> {
    return this.files_(() => this.files.list(dir));
  }

  stat(path: string): Promise<SandboxFileStat | null> {
    return this.files_(() => this.files.stat(path));
  }

  remove(path: string): Promise<void> {
    return this.files_(() => this.files.remove(path));
  }

  isAlive(): Promise<boolean> {
    return this.provider.isLive(this.id);
  }

  terminate(): Promise<void> {
    return this.provider.forget(this.id);
  }
}

/**
 * The local provider. A sandbox is "live" while its marker file exists (so a restarted server
 * finds it again); terminating it kills its commands and keeps the workspace, which only
 * `destroy(sessionId)` removes.
 */
export class LocalSandboxProvider implements SandboxProvider {
  readonly name = "local";
  private readonly workspaces: string;
  private readonly markers: string;
  /** Commands running per sandbox, killed when it terminates. */
  private readonly running = new Map<string, Set<ChildProcess>>();
  private readonly seccompFilters = new Map<boolean, Buffer>();

  private constructor(
    dataDir: string,
    /** Whether commands run under bubblewrap. */
    readonly isolated: boolean,
    /** The host user commands run as and the workspace belongs to, when not the server's. */
    readonly owner: FileOwner | undefined,
    readonly limits: LocalSandboxLimits,
    private readonly logger: Logger,
    /** The bubblewrap binary, an absolute path. */
    readonly bwrap: string,
    /** Bounds each sandbox's memory, CPU and processes; undefined where cgroups cannot. */
    readonly cgroups: Cgroups | undefined,
    /** Size- and file-limited workspaces; undefined where they cannot be made. */
    readonly volumes: WorkspaceVolumes | undefined,
    readonly enforcement: Readonly<LocalSandboxEnforcement>,
  ) {
    this.workspaces = join(dataDir, "workspaces");
    this.markers = join(dataDir, "sandboxes");
  }

  /**
   * Checks that bubblewrap runs here and refuses (throws, saying why) where it cannot, unless
   * `allowUnisolated` is set: then commands run as plain processes and every start warns.
   * Finds out which resource limits this machine can enforce and says, once, which it cannot.
   */
  static async create(options: LocalSandboxProviderOptions): Promise<LocalSandboxProvider> {
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
    return new LocalSandboxProvider(
      dataDir,
      check.ok,
      check.ok ? runAs : undefined,
      limits,
      logger,
      bwrap,
      cgroups,
      volumes,
      enforcement,
    );
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
    if (!SESSION_ID.test(sessionId)) throw invalidField("session_id", "not a session id");
    return join(this.workspaces, sessionId);
  }

  private markerOf(sandboxId: string): string | undefined {
    return SANDBOX_ID.test(sandboxId) ? join(this.markers, `${sandboxId}.json`) : undefined;
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
    const sandboxId = `local-${options.sessionId}-${randomBytes(4).toString("hex")}`;
    const marker: Marker = {
      sandboxId,
      sessionId: options.sessionId,
      settings: options.settings,
      createTime: new Date().toISOString(),
    };
    await writeFile(this.markerOf(sandboxId)!, JSON.stringify(marker), { mode: 0o600 });
    return new LocalSandbox(sandboxId, options.sessionId, workspace, options.settings, this);
  }

  async attach(sandboxId: string, sessionId: string): Promise<Sandbox | null> {
    const path = this.markerOf(sandboxId);
    if (!path) return null;
    let marker: Marker;
    try {
      marker = JSON.parse(await readFile(path, "utf8")) as Marker;
    } catch {
      return null;
    }
    if (marker.sessionId !== sessionId || marker.sandboxId !== sandboxId) return null;
    const workspace = await this.ensureWorkspace(sessionId);
    return new LocalSandbox(sandboxId, sessionId, workspace, marker.settings, this);
  }

  async listLive(): Promise<Array<{ sandboxId: string; sessionId: string }>> {
    const out: Array<{ sandboxId: string; sessionId: string }> = [];
    for (const name of await readdir(this.markers).catch(() => [] as string[])) {
      if (!name.endsWith(".json")) continue;
      try {
        const marker = JSON.parse(await readFile(join(this.markers, name), "utf8")) as Marker;
        out.push({ sandboxId: marker.sandboxId, sessionId: marker.sessionId });
      } catch {
        // a marker being written or removed
      }
    }
    return out;
  }

  async isLive(sandboxId: string): Promise<boolean> {
    const path = this.markerOf(sandboxId);
    return path !== undefined && existsSync(path);
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
    const path = this.markerOf(sandboxId);
    if (path) await unlink(path).catch(() => {});
    await Promise.all(children.map(exited));
    await this.cgroups?.removeSandbox(sandboxId).catch(() => {});
    const sessionId = SANDBOX_ID.exec(sandboxId)?.[1];
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

/** Resolves when a child has exited (at once if it has), or after a bound. */
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const timer = setTimeout(resolvePromise, 5_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolvePromise();
    });
  });
}
