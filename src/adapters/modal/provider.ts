// Sandboxes on Modal (modal@0.11.1): one per session, tagged with the session id so a restarted
// server finds it again (`fromId`) or lists it (`list({appId, tags})`) and ends orphans.
//
// Nothing runs in the sandbox between commands: no watcher, no agent. Modal keeps a sandbox alive
// while any exec runs, so anything long-lived would defeat idleTimeoutMs.
//
// Commands run under `bash -c` (the Bash tool's commands are bash). An image without bash gets a
// clear SANDBOX_NO_BASH error instead of a shell's "not found".
//
// Killing a command: 0.11.1's ContainerProcess has no kill (only wait/poll and an internal
// abortable wait), so every command runs under a small sh wrapper that starts it in a session of
// its own (setsid, when the image has it) with a per-command marker in its environment, and writes
// the session's id to /tmp. On cancel, timeout or output overflow a second exec kills that process
// group and every process whose environment carries the marker (which setsid, nohup and double
// forks all keep). The wrapper does the same when the command ends, so no background process
// outlives its command (as with the local provider's pid namespace). A process that both leaves
// the group and clears its environment (`setsid env -i ...`) escapes that sweep; it still ends with
// the sandbox (terminate, idle or lifetime timeout).

import { randomBytes } from "node:crypto";
import { type App, type Image, ModalClient } from "modal";
import { AppError } from "../../domain/errors.js";
import { normalizeWorkspacePath, WORKSPACE_ROOT } from "../../domain/paths.js";
import type { Logger as FullLogger } from "../../ports/logger.js";
import type {
  CreateSandboxOptions,
  ExecOptions,
  ExecResult,
  Sandbox,
  SandboxFileErrorKind,
  SandboxFileStat,
  SandboxProvider,
} from "../../ports/sandbox.js";
import { SandboxFileError } from "../../ports/sandbox.js";

/** A command's run time when it names none. */
export const MODAL_DEFAULT_TIMEOUT_MS = 120_000;
/** The longest run time a command may ask for. */
export const MODAL_MAX_TIMEOUT_MS = 600_000;
/** Output kept per stream (stdout, stderr) of one command; past it the command is killed. */
export const MODAL_MAX_OUTPUT_BYTES = 1024 * 1024;
/** How long a killed command may take to report its end before exec returns without it. */
export const MODAL_KILL_GRACE_MS = 10_000;
/** A sandbox's whole life: a safety net behind the runtime's own idle shutdown (Modal's max). */
export const MODAL_SANDBOX_TIMEOUT_MS = 24 * 60 * 60 * 1000;
/** Modal ends a sandbox with no running command after this long, if the runtime did not. */
export const MODAL_SANDBOX_IDLE_TIMEOUT_MS = 20 * 60 * 1000;

/** The Modal provider's limits. */
export const MODAL_SANDBOX_LIMITS = Object.freeze({
  defaultTimeoutMs: MODAL_DEFAULT_TIMEOUT_MS,
  maxTimeoutMs: MODAL_MAX_TIMEOUT_MS,
  maxOutputBytes: MODAL_MAX_OUTPUT_BYTES,
  killGraceMs: MODAL_KILL_GRACE_MS,
  sandboxTimeoutMs: MODAL_SANDBOX_TIMEOUT_MS,
  sandboxIdleTimeoutMs: MODAL_SANDBOX_IDLE_TIMEOUT_MS,
});

/** Image for profiles that name none. */
export const MODAL_DEFAULT_IMAGE = "debian:bookworm-slim";
export const MODAL_WORKDIR = WORKSPACE_ROOT;
/** The tag that ties a Modal sandbox to its session. */
export const SESSION_TAG = "agent-runtime.session-id";
/** The environment variable that marks every process of one command. */
export const EXEC_MARKER = "AGENT_RUNTIME_EXEC_ID";
/** The wrapper's exit status when the image has no bash (confirmed before it is believed). */
export const NO_BASH_EXIT = 199;
/** What a command in an image without bash fails with. */
export const NO_BASH_MESSAGE =
  "this sandbox image has no bash; the Bash tool runs commands with bash. Use an image that " +
  "has it (Debian, Ubuntu and the official language images do), or add it to the image " +
  "(e.g. `apk add bash` on Alpine)";

// --- the narrow part of modal@0.11.1 this provider uses ---
// `ModalClient` satisfies ModalLike<App, Image> (checked by the compiler in createModalProvider),
// and the tests drive the provider through an in-test implementation of the same interface.

/** A web ReadableStream of text, as far as it is read here. */
export interface ModalStreamLike {
  getReader(): {
    read(): Promise<{ done: boolean; value?: string | undefined }>;
    cancel(reason?: unknown): Promise<void>;
    releaseLock(): void;
  };
}

export interface ModalProcessLike {
  stdout: ModalStreamLike;
  stderr: ModalStreamLike;
  wait(): Promise<number>;
}

export interface ModalFileInfoLike {
  path: string;
  type: "file" | "directory" | "symlink";
  size: number;
  /** Unix epoch seconds. */
  modifiedTime: number;
}

export interface ModalSandboxLike {
  readonly sandboxId: string;
  exec(
    command: string[],
    params?: { workdir?: string; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<ModalProcessLike>;
  readonly filesystem: {
    readBytes(path: string): Promise<Uint8Array>;
    writeBytes(data: Uint8Array, path: string): Promise<void>;
    listFiles(path: string): Promise<ModalFileInfoLike[]>;
    stat(path: string): Promise<ModalFileInfoLike>;
    makeDirectory(path: string, options?: { createParents?: boolean }): Promise<void>;
    remove(path: string, options?: { recursive?: boolean }): Promise<void>;
  };
  getTags(): Promise<Record<string, string>>;
  poll(): Promise<number | null>;
  terminate(): Promise<void>;
}

export interface ModalCreateParams {
  timeoutMs?: number;
  idleTimeoutMs?: number;
  workdir?: string;
  env?: Record<string, string>;
  blockNetwork?: boolean;
  cpu?: number;
  memoryMiB?: number;
  tags?: Record<string, string>;
}

export interface ModalLike<A extends { appId: string } = { appId: string }, I = unknown> {
  apps: { fromName(name: string, params?: { createIfMissing?: boolean }): Promise<A> };
  images: { fromRegistry(tag: string): I };
  sandboxes: {
    create(app: A, image: I, params?: ModalCreateParams): Promise<ModalSandboxLike>;
    fromId(sandboxId: string): Promise<ModalSandboxLike>;
    list(params?: {
      appId?: string;
      tags?: Record<string, string>;
    }): AsyncIterable<ModalSandboxLike>;
  };
}

export type Logger = Pick<FullLogger, "warn">;

export interface ModalProviderOptions<A extends { appId: string }, I> {
  client: ModalLike<A, I>;
  /** The Modal app sandboxes run in; created when missing. */
  appName: string;
  /** Image for profiles that name none; default MODAL_DEFAULT_IMAGE. */
  defaultImage?: string;
  /** Default: warnings on the console. */
  logger?: Logger;
}

// --- commands ---

/**
 * Kills command `$1`'s process group, then every process carrying its marker, until none is left
 * (one grep over all environments per round; the sweep itself carries no marker).
 */
const SWEEP =
  `f=/tmp/.agent-runtime-exec-$1; ` +
  `p=$(cat "$f" 2>/dev/null); [ -n "$p" ] && kill -9 -"$p" 2>/dev/null; ` +
  `for i in 1 2 3 4 5; do ` +
  `m=$(grep -l "${EXEC_MARKER}=$1" /proc/[0-9]*/environ 2>/dev/null); [ -z "$m" ] && break; ` +
  `for e in $m; do q=\${e#/proc/}; kill -9 "\${q%/environ}" 2>/dev/null; done; done; ` +
  `rm -f "$f"`;

/**
 * Runs `$2` under bash in a session of its own, marked with id `$1`; waits for it, sweeps what it
 * left behind and exits with its status. The wrapper itself (plain sh) carries no marker.
 */
const WRAPPER =
  `id=$1; f=/tmp/.agent-runtime-exec-$id; ` +
  `command -v bash >/dev/null 2>&1 || exit ${NO_BASH_EXIT}; ` +
  `if command -v setsid >/dev/null 2>&1; then ` +
  `${EXEC_MARKER}=$id setsid bash -c "$2" & ` +
  `else ${EXEC_MARKER}=$id bash -c "$2" & fi; ` +
  `echo $! > "$f"; wait $!; c=$?; ` +
  `sweep() { ${SWEEP}; }; sweep "$id"; exit $c`;

const abs = (rel: string) => (rel === "" ? MODAL_WORKDIR : `${MODAL_WORKDIR}/${rel}`);

const errorName = (err: unknown) => (err as { name?: string } | null)?.name ?? "";
const isNotFound = (err: unknown) =>
  errorName(err) === "SandboxFilesystemNotFoundError" ||
  (err as NodeJS.ErrnoException | null)?.code === "ENOENT";

/** SDK filesystem error names, and the kind each means. */
const SDK_ERROR_KINDS: Record<string, [SandboxFileErrorKind, string]> = {
  SandboxFilesystemNotFoundError: ["not_found", "no such file or directory"],
  SandboxFilesystemIsADirectoryError: ["is_directory", "is a directory"],
  SandboxFilesystemNotADirectoryError: [
    "not_directory",
    "a component of the path is not a directory",
  ],
  SandboxFilesystemPermissionError: ["permission_denied", "permission denied"],
  SandboxFilesystemFileTooLargeError: ["too_large", "file too large"],
  SandboxFilesystemDirectoryNotEmptyError: ["io_error", "directory not empty"],
};

/** The errno texts the container's tools put in otherwise unclassified errors. */
const MESSAGE_KINDS: Array<[RegExp, SandboxFileErrorKind, string]> = [
  [
    /no space left|disk quota|os error (28|122)\b|StorageFull|QuotaExceeded/i,
    "no_space",
    "no space left in the sandbox",
  ],
  [
    /name too long|os error 36\b|InvalidFilename/i,
    "name_too_long",
    "a name in the path is too long",
  ],
  [/is a directory|os error 21\b/i, "is_directory", "is a directory"],
  [/not a directory|os error 20\b/i, "not_directory", "a component of the path is not a directory"],
  [/no such file|os error 2\b/i, "not_found", "no such file or directory"],
  [/permission denied|os error 13\b/i, "permission_denied", "permission denied"],
];

/**
 * A file error that names only the workspace path (the SDK's messages name the container's).
 * "Already exists" comes from making a file's parent directories where one of them is a file:
 * not_directory. Errors that are not about files (connection, auth) pass through.
 */
function fileError(rel: string, err: unknown): Error {
  if (err instanceof SandboxFileError || err instanceof AppError) return err;
  const name = errorName(err);
  const known = SDK_ERROR_KINDS[name];
  if (known) return new SandboxFileError(known[0], rel, known[1]);
  if (name === "SandboxFilesystemPathAlreadyExistsError") {
    return new SandboxFileError("not_directory", rel, "a component of the path is not a directory");
  }
  if (!name.startsWith("SandboxFilesystem")) {
    return err instanceof Error ? err : new Error(String(err));
  }
  const message = err instanceof Error ? err.message : String(err);
  for (const [re, kind, text] of MESSAGE_KINDS) {
    if (re.test(message)) return new SandboxFileError(kind, rel, text);
  }
  return new SandboxFileError("io_error", rel, "the file operation failed");
}

/** Reads a stream to its end, text chunk by text chunk; `stop()` abandons it. */
function pump(stream: ModalStreamLike, onChunk: (text: string) => void) {
  const reader = stream.getReader();
  const done = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        if (value) onChunk(value);
      }
    } catch {
      // the stream broke off (the process was killed, or abandoned below)
    } finally {
      try {
        reader.releaseLock();
      } catch {
        // a read was still pending
      }
    }
  })();
  return { done, stop: () => reader.cancel().catch(() => {}) };
}

const noBashError = () => new AppError("failed_precondition", "SANDBOX_NO_BASH", NO_BASH_MESSAGE);

class ModalSandbox implements Sandbox {
  /** Set once the image is known to have no bash. */
  private noBash = false;

  constructor(
    private readonly sb: ModalSandboxLike,
    readonly sessionId: string,
    private readonly env: Record<string, string>,
    private readonly logger: Logger,
  ) {}

  get id(): string {
    return this.sb.sandboxId;
  }

  async exec(options: ExecOptions): Promise<ExecResult> {
    const l = MODAL_SANDBOX_LIMITS;
    const timeoutMs =
      options.timeoutMs !== undefined && options.timeoutMs > 0
        ? Math.min(options.timeoutMs, l.maxTimeoutMs)
        : l.defaultTimeoutMs;
    const cwd = options.cwd ? normalizeWorkspacePath(options.cwd, "cwd") : "";
    const started = Date.now();
    const result = (over: Partial<ExecResult>): ExecResult => ({
      exitCode: null,
      stdout: "",
      stderr: "",
      timedOut: false,
      cancelled: false,
      truncated: false,
      durationMs: Date.now() - started,
      ...over,
    });
    if (options.signal?.aborted) return result({ cancelled: true });
    if (this.noBash) throw noBashError();
    const id = randomBytes(8).toString("hex");
    const proc = await this.sb.exec(["sh", "-c", WRAPPER, "sh", id, options.command], {
      workdir: abs(cwd),
      // Modal's own kill, behind ours.
      timeoutMs: timeoutMs + l.killGraceMs,
      env: { ...this.env, ...options.env },
    });
    const out = { stdout: "", stderr: "" };
    let timedOut = false;
    let cancelled = false;
    let truncated = false;
    let callbackError: unknown;
    let killed: Promise<void> | undefined;
    const kill = () => {
      killed ??= this.sb
        .exec(["sh", "-c", `sweep() { ${SWEEP}; }; sweep "$1"`, "sh", id])
        .then((p) => p.wait())
        .then(
          () => {},
          (err: unknown) => this.logger.warn("modal: killing a command failed", { id, err }),
        );
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    const onAbort = () => {
      cancelled = true;
      kill();
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const take = (stream: "stdout" | "stderr") => {
      let bytes = 0;
      return (chunk: string) => {
        if (truncated && bytes >= l.maxOutputBytes) return;
        let text = chunk;
        const size = Buffer.byteLength(text);
        if (bytes + size > l.maxOutputBytes) {
          text = Buffer.from(text)
            .subarray(0, l.maxOutputBytes - bytes)
            .toString("utf8")
            .replace(/\uFFFD$/, "");
          truncated = true;
          kill();
        }
        bytes += Buffer.byteLength(text);
        if (text === "") return;
        out[stream] += text;
        try {
          (stream === "stdout" ? options.onStdout : options.onStderr)?.(text);
        } catch (err) {
          callbackError ??= err;
          kill();
        }
      };
    };
    const pumps = [pump(proc.stdout, take("stdout")), pump(proc.stderr, take("stderr"))];
    let code: number | null = null;
    try {
      const finished = Promise.all([proc.wait(), ...pumps.map((p) => p.done)]).then(
        ([exit]) => exit,
      );
      code = await finished.catch(() => null);
      if (killed) {
        // After a kill, give the command its grace period to report its end, then move on.
        let grace: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          finished.catch(() => null),
          new Promise((r) => {
            grace = setTimeout(r, l.killGraceMs);
          }),
        ]);
        clearTimeout(grace);
        await killed;
      }
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      for (const p of pumps) void p.stop();
    }
    if (callbackError !== undefined) throw callbackError;
    const wasKilled = timedOut || cancelled || truncated;
    if (code === NO_BASH_EXIT && !wasKilled && out.stdout === "" && out.stderr === "") {
      // The wrapper's word, or a command that exited so: ask the image.
      if (!(await this.hasBash())) {
        this.noBash = true;
        throw noBashError();
      }
    }
    return result({
      exitCode: wasKilled ? null : code,
      stdout: out.stdout,
      stderr: out.stderr,
      timedOut,
      cancelled,
      truncated,
    });
  }

  /** Whether the image has bash on its PATH. */
  private async hasBash(): Promise<boolean> {
    try {
      const p = await this.sb.exec(["sh", "-c", "command -v bash"]);
      const drain = (s: ModalStreamLike) => pump(s, () => {}).done;
      const [code] = await Promise.all([p.wait(), drain(p.stdout), drain(p.stderr)]);
      return code === 0;
    } catch {
      return true; // cannot tell: do not claim it is missing
    }
  }

  async readFile(path: string): Promise<Uint8Array> {
    const rel = normalizeWorkspacePath(path);
    try {
      return await this.sb.filesystem.readBytes(abs(rel));
    } catch (err) {
      throw fileError(rel, err);
    }
  }

  async writeFile(path: string, content: Uint8Array): Promise<void> {
    const rel = normalizeWorkspacePath(path);
    const parent = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
    try {
      if (parent) await this.sb.filesystem.makeDirectory(abs(parent), { createParents: true });
      await this.sb.filesystem.writeBytes(content, abs(rel));
    } catch (err) {
      throw fileError(rel, err);
    }
  }

  async listFiles(dir = ""): Promise<SandboxFileStat[]> {
    const start = dir === "" ? "" : normalizeWorkspacePath(dir, "dir");
    const out: SandboxFileStat[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries: ModalFileInfoLike[];
      try {
        entries = await this.sb.filesystem.listFiles(abs(rel));
      } catch (err) {
        if (isNotFound(err) || errorName(err) === "SandboxFilesystemNotADirectoryError") return;
        throw fileError(rel, err);
      }
      for (const e of entries) {
        const name = e.path.split("/").filter(Boolean).at(-1) ?? "";
        if (name === "" || name === "." || name === "..") continue;
        const child = rel === "" ? name : `${rel}/${name}`;
        out.push({ path: child, type: e.type, size: e.size, mtimeMs: e.modifiedTime * 1000 });
        // Links are listed, not entered.
        if (e.type === "directory") await walk(child);
      }
    };
    await walk(start);
    return out;
  }

  async stat(path: string): Promise<SandboxFileStat | null> {
    const rel = normalizeWorkspacePath(path);
    try {
      const e = await this.sb.filesystem.stat(abs(rel));
      return { path: rel, type: e.type, size: e.size, mtimeMs: e.modifiedTime * 1000 };
    } catch (err) {
      if (isNotFound(err) || errorName(err) === "SandboxFilesystemNotADirectoryError") {
        return null;
      }
      throw fileError(rel, err);
    }
  }

  async remove(path: string): Promise<void> {
    const rel = normalizeWorkspacePath(path);
    try {
      await this.sb.filesystem.remove(abs(rel), { recursive: true });
    } catch (err) {
      if (!isNotFound(err)) throw fileError(rel, err);
    }
  }

  async isAlive(): Promise<boolean> {
    try {
      return (await this.sb.poll()) === null;
    } catch {
      return false;
    }
  }

  async terminate(): Promise<void> {
    try {
      await this.sb.terminate();
    } catch (err) {
      // Already gone is fine; anything else is worth a line (Modal ends it at its timeouts).
      if (!(await this.isAlive())) return;
      this.logger.warn("modal: terminating a sandbox failed", { sandboxId: this.id, err });
    }
  }
}

const consoleLogger: Logger = { warn: (msg, fields) => console.warn(msg, fields ?? {}) };

/** Sandboxes on Modal, one per session. */
export class ModalSandboxProvider<A extends { appId: string } = { appId: string }, I = unknown>
  implements SandboxProvider
{
  readonly name = "modal";
  private app: Promise<A> | undefined;
  private readonly logger: Logger;

  constructor(private readonly o: ModalProviderOptions<A, I>) {
    this.logger = o.logger ?? consoleLogger;
  }

  private appRef(): Promise<A> {
    if (!this.app) {
      const app = this.o.client.apps.fromName(this.o.appName, { createIfMissing: true });
      this.app = app;
      app.catch(() => {
        if (this.app === app) this.app = undefined;
      });
    }
    return this.app;
  }

  async create(options: CreateSandboxOptions): Promise<Sandbox> {
    options.signal?.throwIfAborted();
    const s = options.settings;
    const image = s.image || this.o.defaultImage || MODAL_DEFAULT_IMAGE;
    options.onProgress?.(`starting a Modal sandbox from ${image}`);
    const app = await this.appRef();
    const sb = await this.o.client.sandboxes.create(app, this.o.client.images.fromRegistry(image), {
      timeoutMs: MODAL_SANDBOX_TIMEOUT_MS,
      idleTimeoutMs: MODAL_SANDBOX_IDLE_TIMEOUT_MS,
      workdir: MODAL_WORKDIR,
      env: { ...s.env },
      blockNetwork: !s.networkAllowed,
      ...(s.cpu > 0 ? { cpu: s.cpu } : {}),
      ...(s.memoryMib > 0 ? { memoryMiB: s.memoryMib } : {}),
      tags: { [SESSION_TAG]: options.sessionId },
    });
    const sandbox = new ModalSandbox(sb, options.sessionId, s.env, this.logger);
    if (options.signal?.aborted) {
      await sandbox.terminate();
      options.signal.throwIfAborted();
    }
    return sandbox;
  }

  async attach(sandboxId: string, sessionId: string): Promise<Sandbox | null> {
    let sb: ModalSandboxLike;
    try {
      sb = await this.o.client.sandboxes.fromId(sandboxId);
      if ((await sb.poll()) !== null) return null;
      if ((await sb.getTags())[SESSION_TAG] !== sessionId) return null;
    } catch {
      return null; // not found, or not ours to see
    }
    // The sandbox's own env (set at create) still applies to every exec.
    return new ModalSandbox(sb, sessionId, {}, this.logger);
  }

  /** Running sandboxes of this provider's app that carry a session tag. */
  async listLive(): Promise<Array<{ sandboxId: string; sessionId: string }>> {
    const { appId } = await this.appRef();
    const out: Array<{ sandboxId: string; sessionId: string }> = [];
    for await (const sb of this.o.client.sandboxes.list({ appId })) {
      const tags = await sb.getTags().catch(() => ({}) as Record<string, string>);
      const sessionId = tags[SESSION_TAG];
      if (!sessionId) continue;
      if ((await sb.poll().catch(() => 0)) === null) {
        out.push({ sandboxId: sb.sandboxId, sessionId });
      }
    }
    return out;
  }

  /** Terminates every sandbox of a deleted session (Modal keeps no workspace beyond them). */
  async destroy(sessionId: string): Promise<void> {
    const { appId } = await this.appRef();
    const tags = { [SESSION_TAG]: sessionId };
    for await (const sb of this.o.client.sandboxes.list({ appId, tags })) {
      await new ModalSandbox(sb, sessionId, {}, this.logger).terminate();
    }
  }
}

export interface CreateModalProviderOptions {
  /** Default: MODAL_TOKEN_ID / MODAL_TOKEN_SECRET or ~/.modal.toml, as the SDK reads them. */
  tokenId?: string;
  tokenSecret?: string;
  /** Modal environment; default the profile's. */
  environment?: string;
  appName: string;
  defaultImage?: string;
  logger?: Logger;
}

/** The provider over the real Modal SDK. */
export function createModalProvider(
  options: CreateModalProviderOptions,
): ModalSandboxProvider<App, Image> {
  // Typed, not cast: the compiler checks that the real client has everything the provider uses.
  const client: ModalLike<App, Image> = new ModalClient({
    ...(options.tokenId ? { tokenId: options.tokenId } : {}),
    ...(options.tokenSecret ? { tokenSecret: options.tokenSecret } : {}),
    ...(options.environment ? { environment: options.environment } : {}),
  });
  return new ModalSandboxProvider({
    client,
    appName: options.appName,
    ...(options.defaultImage ? { defaultImage: options.defaultImage } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
