import type { SandboxSettings } from "../domain/types.js";

/** One entry of a workspace listing; paths are relative to the workspace root, `/`-separated. */
export interface SandboxFileStat {
  path: string;
  type: "file" | "directory" | "symlink";
  size: number;
  /** Modification time in milliseconds since the epoch. */
  mtimeMs: number;
}

export interface ExecOptions {
  /** Run by `bash -c` inside the sandbox (a sandbox without bash refuses with SANDBOX_NO_BASH). */
  command: string;
  /** Working directory relative to the workspace root; default the root. */
  cwd?: string;
  env?: Record<string, string>;
  /**
   * Lets this one command reach the network even when the sandbox's settings do not (installing
   * dependencies). Providers that cannot switch the network per command refuse it.
   */
  allowNetwork?: boolean;
  /** Killed after this long; default and maximum are the provider's named limits. */
  timeoutMs?: number;
  /** Aborting kills the whole process tree. */
  signal?: AbortSignal;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
}

export interface ExecResult {
  /** null when killed by a signal (timeout, cancellation, output limit). */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  cancelled: boolean;
  /** Output past the provider's output limit was dropped and the process killed. */
  truncated: boolean;
  /**
   * A process of the command was killed for going over the sandbox's memory limit (the command
   * itself may have gone on); providers that cannot tell leave it unset.
   */
  oomKilled?: boolean;
  durationMs: number;
}

export interface SpawnOptions {
  /** Run by `bash -c` inside the sandbox, with its stdin, stdout and stderr piped. */
  command: string;
  /** Working directory relative to the workspace root; default the root. */
  cwd?: string;
  env?: Record<string, string>;
  /** Aborting kills the whole process tree. */
  signal?: AbortSignal;
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
}

/** A long-running process in the sandbox (an MCP stdio server): no timeout, no output cap. */
export interface SandboxProcess {
  /** Writes to its stdin; rejects once it is gone. */
  write(chunk: string): Promise<void>;
  /** Its exit status; null when killed by a signal. Never rejects. */
  readonly exited: Promise<number | null>;
  /** Kills its whole process tree; idempotent. */
  kill(): void;
}

/** Why a file operation on the workspace failed. */
export type SandboxFileErrorKind =
  /** Nothing is at the path (reading), or a parent is missing where none is made. */
  | "not_found"
  /** A directory is where a file was expected (reading or writing a directory). */
  | "is_directory"
  /** A component of the path is a file, not a directory (`notes/demo.md/x`). */
  | "not_directory"
  /** A name in the path is longer than the file system allows. */
  | "name_too_long"
  /** The workspace is full: its size or its file count limit is reached. */
  | "no_space"
  /** The file is larger than may be written. */
  | "too_large"
  /** Not a regular file (a FIFO, a socket, a device). */
  | "not_regular_file"
  /** A symbolic link leads out of the workspace, or links loop. */
  | "bad_link"
  | "permission_denied"
  /** Anything else the file system refused. */
  | "io_error";

/**
 * A file operation the workspace's file system refused. The message names only the
 * workspace-relative path, never a host or container path: it may be shown to clients as is.
 */
export class SandboxFileError extends Error {
  override readonly name = "SandboxFileError";
  constructor(
    readonly kind: SandboxFileErrorKind,
    /** Workspace-relative path the operation was about. */
    readonly path: string,
    message: string,
  ) {
    super(`${path === "" ? "the workspace" : path}: ${message}`);
  }
}

/** A running sandbox: executes commands and holds the session's workspace. */
export interface Sandbox {
  readonly id: string;
  readonly sessionId: string;
  exec(options: ExecOptions): Promise<ExecResult>;
  /** Starts a long-running process; it ends with the sandbox at the latest. */
  spawn(options: SpawnOptions): Promise<SandboxProcess>;
  readFile(path: string): Promise<Uint8Array>;
  /** Creates parent directories as needed. */
  writeFile(path: string, content: Uint8Array): Promise<void>;
  /** Every entry under `dir` (default the root), recursively, hidden ones included. */
  listFiles(dir?: string): Promise<SandboxFileStat[]>;
  /** null when nothing is at `path`. */
  stat(path: string): Promise<SandboxFileStat | null>;
  /** Removes a file or a directory tree; a no-op when absent. */
  remove(path: string): Promise<void>;
  /** Whether the sandbox still runs. */
  isAlive(): Promise<boolean>;
  /** Ends the sandbox; idempotent. */
  terminate(): Promise<void>;
}

export interface CreateSandboxOptions {
  sessionId: string;
  settings: SandboxSettings;
  /**
   * Environment variables resolved from the tenant's secrets: set for every command like
   * `settings.env`, never logged or shown.
   */
  secretEnv?: Record<string, string>;
  /**
   * Packages installed before the sandbox is handed out (with the network allowed for the
   * install), cached by the provider so the same specs are not installed again. Installed
   * packages are importable (NODE_PATH, PYTHONPATH) and their commands on PATH. An install that
   * fails rejects with SANDBOX_START_FAILED and the installer's output.
   */
  dependencies?: { npm: string[]; pip: string[] };
  /** Progress messages while starting ("pulling image", ...). */
  onProgress?: (message: string) => void;
  signal?: AbortSignal;
}

export interface SandboxProvider {
  /** "local" or "modal". */
  readonly name: string;
  create(options: CreateSandboxOptions): Promise<Sandbox>;
  /** Finds a live sandbox again by id (after a server restart); null when it is gone. */
  attach(sandboxId: string, sessionId: string): Promise<Sandbox | null>;
  /** Live sandboxes this provider started, with the session each is tagged with. */
  listLive(): Promise<Array<{ sandboxId: string; sessionId: string }>>;
  /** Ends a deleted session's sandboxes and removes whatever the provider kept of it. */
  destroy?(sessionId: string): Promise<void>;
}
