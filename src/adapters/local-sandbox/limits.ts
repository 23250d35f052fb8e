// The local sandbox's limits: what one command, and one sandbox's commands together, may use.

import { LIMITS } from "../../domain/limits.js";

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

export const MIB = 1024 * 1024;

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
