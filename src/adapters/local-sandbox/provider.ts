import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { StringDecoder } from "node:string_decoder";
import type { Logger } from "../../app/logger.js";
import { invalidField } from "../../domain/errors.js";
import { normalizeWorkspacePath } from "../../domain/paths.js";
import type { SandboxSettings } from "../../domain/types.js";
import type {
  CreateSandboxOptions,
  ExecOptions,
  ExecResult,
  Sandbox,
  SandboxProvider,
} from "../../ports/sandbox.js";
import { WorkspaceFiles } from "./files.js";

/** The local sandbox's limits, enforced on every command. */
export const LOCAL_SANDBOX_LIMITS = {
  /** A command's run time when it names none. */
  defaultTimeoutMs: 120_000,
  /** The longest run time a command may ask for. */
  maxTimeoutMs: 600_000,
  /** Output kept per command (stdout and stderr together); past it the command is killed. */
  maxOutputBytes: 1024 * 1024,
  /** Processes a command may run at once (RLIMIT_NPROC in its own user namespace). */
  maxProcesses: 128,
  /** Largest file a command may write (RLIMIT_FSIZE). */
  maxFileBytes: 256 * 1024 * 1024,
  /** Open files per process (RLIMIT_NOFILE). */
  maxOpenFiles: 1024,
} as const;

/** Where the workspace is mounted inside the sandbox; the model sees this path. */
export const SANDBOX_WORKDIR = "/workspace";

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Host files a sandbox may read: the system, nothing of the host's users or secrets. */
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
  "/etc/ssl",
  "/etc/ca-certificates",
  "/etc/python3",
  "/etc/python3.11",
];
const NETWORK_ETC = ["/etc/resolv.conf", "/etc/hosts", "/etc/host.conf", "/etc/gai.conf"];

function bwrapArgs(
  workspace: string,
  cwd: string,
  settings: SandboxSettings,
  env: Record<string, string>,
) {
  const args = [
    "--unshare-all",
    "--unshare-user",
    "--cap-drop",
    "ALL",
    "--die-with-parent",
    "--new-session",
    "--clearenv",
    "--ro-bind",
    "/usr",
    "/usr",
  ];
  for (const dir of ["bin", "lib", "lib32", "lib64", "sbin"]) {
    if (existsSync(`/${dir}`)) args.push("--symlink", `usr/${dir}`, `/${dir}`);
  }
  for (const path of [...READ_ONLY_ETC, ...(settings.networkAllowed ? NETWORK_ETC : [])]) {
    args.push("--ro-bind-try", path, path);
  }
  args.push("--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp");
  args.push("--bind", workspace, SANDBOX_WORKDIR, "--chdir", cwd);
  // The sandbox's own root (where /etc and the symlinks live) is read-only too: only the
  // workspace and a private /tmp are writable.
  args.push("--remount-ro", "/");
  if (settings.networkAllowed) args.push("--share-net");
  for (const [name, value] of Object.entries(env)) args.push("--setenv", name, value);
  return args;
}

function limitArgs(): string[] {
  const l = LOCAL_SANDBOX_LIMITS;
  return [
    "/usr/bin/prlimit",
    `--nproc=${l.maxProcesses}`,
    `--fsize=${l.maxFileBytes}`,
    `--nofile=${l.maxOpenFiles}`,
    "--core=0",
    "--",
  ];
}

/** Whether bubblewrap can start a sandbox here; the reason when not. */
export function checkBubblewrap(bwrap = "bwrap"): { ok: true } | { ok: false; reason: string } {
  const r = spawnSync(
    bwrap,
    [
      "--unshare-all",
      "--unshare-user",
      "--cap-drop",
      "ALL",
      "--die-with-parent",
      "--ro-bind",
      "/usr",
      "/usr",
      "--symlink",
      "usr/bin",
      "/bin",
      "--symlink",
      "usr/lib",
      "/lib",
      ...(existsSync("/lib64") ? ["--symlink", "usr/lib64", "/lib64"] : []),
      "--proc",
      "/proc",
      "--dev",
      "/dev",
      "--",
      "/bin/true",
    ],
    { encoding: "utf8", timeout: 10_000 },
  );
  if (r.error) return { ok: false, reason: `bwrap could not run: ${r.error.message}` };
  if (r.status !== 0)
    return { ok: false, reason: `bwrap failed: ${(r.stderr || "").trim() || `exit ${r.status}`}` };
  if (!existsSync("/usr/bin/prlimit"))
    return { ok: false, reason: "prlimit (util-linux) is missing" };
  return { ok: true };
}

export interface LocalSandboxProviderOptions {
  /** Workspaces live in `<dataDir>/workspaces/<sessionId>`. */
  dataDir: string;
  /** Run commands without isolation where bubblewrap cannot run (development only). */
  allowUnisolated?: boolean;
  logger?: Pick<Logger, "warn">;
  /** The bubblewrap binary; default `bwrap` from PATH. */
  bwrapPath?: string;
}

interface Marker {
  sandboxId: string;
  sessionId: string;
  settings: SandboxSettings;
  createTime: string;
}

/** Runs one command and collects its output within the limits. */
function runCommand(
  child: ChildProcess,
  options: ExecOptions,
  timeoutMs: number,
  started: number,
): Promise<ExecResult> {
  return new Promise((resolvePromise) => {
    let stdout = "";
    let stderr = "";
    let bytes = 0;
    let timedOut = false;
    let cancelled = false;
    let truncated = false;
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    const onAbort = () => {
      cancelled = true;
      kill();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const take = (stream: "stdout" | "stderr") => {
      const decoder = new StringDecoder("utf8");
      child[stream]?.on("data", (chunk: Buffer) => {
        if (truncated) return;
        let data = chunk;
        if (bytes + data.length > LOCAL_SANDBOX_LIMITS.maxOutputBytes) {
          data = data.subarray(0, LOCAL_SANDBOX_LIMITS.maxOutputBytes - bytes);
          truncated = true;
          kill();
        }
        bytes += data.length;
        const text = decoder.write(data);
        if (text === "") return;
        if (stream === "stdout") {
          stdout += text;
          options.onStdout?.(text);
        } else {
          stderr += text;
          options.onStderr?.(text);
        }
      });
    };
    take("stdout");
    take("stderr");
    child.on("error", (err) => {
      stderr += `\n${err.message}`;
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      resolvePromise({
        exitCode: timedOut || cancelled || truncated ? null : code,
        stdout,
        stderr,
        timedOut,
        cancelled,
        truncated,
        durationMs: Date.now() - started,
      });
    });
  });
}

class LocalSandbox implements Sandbox {
  readonly files: WorkspaceFiles;

  constructor(
    readonly id: string,
    readonly sessionId: string,
    private readonly workspace: string,
    private readonly settings: SandboxSettings,
    private readonly provider: LocalSandboxProvider,
  ) {
    this.files = new WorkspaceFiles(workspace);
  }

  async exec(options: ExecOptions): Promise<ExecResult> {
    if (!(await this.isAlive())) throw new Error(`sandbox ${this.id} is terminated`);
    const l = LOCAL_SANDBOX_LIMITS;
    const timeoutMs = Math.min(
      Math.max(options.timeoutMs ?? l.defaultTimeoutMs, 1),
      l.maxTimeoutMs,
    );
    const cwdRel = options.cwd ? normalizeWorkspacePath(options.cwd, "cwd") : "";
    if (cwdRel && (await this.files.stat(cwdRel))?.type !== "directory") {
      throw invalidField("cwd", `${cwdRel} is not a directory in the workspace`);
    }
    const env: Record<string, string> = {
      PATH: DEFAULT_PATH,
      HOME: SANDBOX_WORKDIR,
      LANG: "C.UTF-8",
      TERM: "dumb",
      TMPDIR: "/tmp",
      ...this.settings.env,
      ...options.env,
    };
    const started = Date.now();
    let child: ChildProcess;
    if (this.provider.isolated) {
      const cwd = cwdRel ? `${SANDBOX_WORKDIR}/${cwdRel}` : SANDBOX_WORKDIR;
      child = spawn(
        this.provider.bwrap,
        [
          ...bwrapArgs(this.workspace, cwd, this.settings, env),
          "--",
          ...limitArgs(),
          "/bin/sh",
          "-c",
          options.command,
        ],
        { detached: true, stdio: ["ignore", "pipe", "pipe"] },
      );
    } else {
      child = spawn(...unisolatedCommand(options.command), {
        cwd: cwdRel ? join(this.workspace, cwdRel) : this.workspace,
        env,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
    }
    const untrack = this.provider.track(this.id, child);
    try {
      return await runCommand(child, options, timeoutMs, started);
    } finally {
      untrack();
    }
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.files.read(path);
  }

  async writeFile(path: string, content: Uint8Array): Promise<void> {
    await this.files.write(path, content);
  }

  listFiles(dir?: string) {
    return this.files.list(dir);
  }

  stat(path: string) {
    return this.files.stat(path);
  }

  remove(path: string): Promise<void> {
    return this.files.remove(path);
  }

  isAlive(): Promise<boolean> {
    return this.provider.isLive(this.id);
  }

  terminate(): Promise<void> {
    return this.provider.forget(this.id);
  }
}

function unisolatedCommand(command: string): [string, string[]] {
  const l = LOCAL_SANDBOX_LIMITS;
  return [
    "/usr/bin/prlimit",
    [
      `--fsize=${l.maxFileBytes}`,
      `--nofile=${l.maxOpenFiles}`,
      "--core=0",
      "--",
      "/bin/sh",
      "-c",
      command,
    ],
  ];
}

/**
 * Sandboxes on this machine: a workspace directory per session, every command under
 * bubblewrap. A sandbox is "live" while its marker file exists, so it is found again after a
 * restart; terminating it kills its commands and keeps the workspace.
 */
export class LocalSandboxProvider implements SandboxProvider {
  readonly name = "local";
  private readonly workspaces: string;
  private readonly markers: string;
  /** Commands running per sandbox, killed when it terminates. */
  private readonly running = new Map<string, Set<ChildProcess>>();

  private constructor(
    dataDir: string,
    readonly isolated: boolean,
    private readonly logger: Pick<Logger, "warn">,
    readonly bwrap: string,
  ) {
    this.workspaces = join(resolve(dataDir), "workspaces");
    this.markers = join(resolve(dataDir), "sandboxes");
  }

  /** Refuses (throws, saying why) where bubblewrap cannot run, unless unisolated is allowed. */
  static async create(options: LocalSandboxProviderOptions): Promise<LocalSandboxProvider> {
    const logger = options.logger ?? { warn: (msg: string) => console.warn(msg) };
    const bwrap = options.bwrapPath ?? "bwrap";
    const check = checkBubblewrap(bwrap);
    if (!check.ok && !options.allowUnisolated) {
      throw new Error(
        `the local sandbox needs bubblewrap, which cannot run here (${check.reason}). Install bubblewrap ` +
          "(apt-get install bubblewrap) on a kernel with user namespaces, use SANDBOX_PROVIDER=modal, or " +
          "set ALLOW_UNISOLATED_SANDBOX=true to run commands without isolation (never in production)",
      );
    }
    const provider = new LocalSandboxProvider(options.dataDir, check.ok, logger, bwrap);
    await mkdir(provider.workspaces, { recursive: true });
    await mkdir(provider.markers, { recursive: true });
    if (!check.ok) {
      logger.warn("local sandbox: bubblewrap cannot run, commands will run WITHOUT isolation", {
        reason: check.reason,
      } as never);
    }
    return provider;
  }

  private workspaceOf(sessionId: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(sessionId)) throw new Error(`not a session id: ${sessionId}`);
    return join(this.workspaces, sessionId);
  }

  private markerOf(sandboxId: string): string {
    if (!/^local-[A-Za-z0-9_-]+$/.test(sandboxId))
      throw new Error(`not a local sandbox id: ${sandboxId}`);
    return join(this.markers, `${sandboxId}.json`);
  }

  async create(options: CreateSandboxOptions): Promise<Sandbox> {
    if (!this.isolated) {
      this.logger.warn("starting a local sandbox WITHOUT isolation (ALLOW_UNISOLATED_SANDBOX)", {
        sessionId: options.sessionId,
      } as never);
    }
    const workspace = this.workspaceOf(options.sessionId);
    await mkdir(workspace, { recursive: true });
    const sandboxId = `local-${options.sessionId}-${randomBytes(4).toString("hex")}`;
    const marker: Marker = {
      sandboxId,
      sessionId: options.sessionId,
      settings: options.settings,
      createTime: new Date().toISOString(),
    };
    await writeFile(this.markerOf(sandboxId), JSON.stringify(marker));
    return new LocalSandbox(sandboxId, options.sessionId, workspace, options.settings, this);
  }

  async attach(sandboxId: string, sessionId: string): Promise<Sandbox | null> {
    let marker: Marker;
    try {
      marker = JSON.parse(await readFile(this.markerOf(sandboxId), "utf8")) as Marker;
    } catch {
      return null;
    }
    if (marker.sessionId !== sessionId) return null;
    return new LocalSandbox(
      sandboxId,
      sessionId,
      this.workspaceOf(sessionId),
      marker.settings,
      this,
    );
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
    return existsSync(this.markerOf(sandboxId));
  }

  track(sandboxId: string, child: ChildProcess): () => void {
    const set = this.running.get(sandboxId) ?? new Set<ChildProcess>();
    this.running.set(sandboxId, set);
    set.add(child);
    return () => set.delete(child);
  }

  /** Kills the sandbox's commands and removes its marker: it is no longer live. */
  async forget(sandboxId: string): Promise<void> {
    for (const child of this.running.get(sandboxId) ?? []) {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    this.running.delete(sandboxId);
    await unlink(this.markerOf(sandboxId)).catch(() => {});
  }

  /** Removes a deleted session's workspace and sandboxes. */
  async destroy(sessionId: string): Promise<void> {
    for (const live of await this.listLive()) {
      if (live.sessionId === sessionId) await this.forget(live.sandboxId);
    }
    await rm(this.workspaceOf(sessionId), { recursive: true, force: true });
  }
}
