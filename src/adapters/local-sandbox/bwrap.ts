// The command lines a sandboxed command starts with: bubblewrap's options (isolation, the
// read-only system, the workspace bind), prlimit's rlimits, and the check that bubblewrap runs
// here at all.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { type FileOwner, SANDBOX_WORKDIR } from "./files.js";
import type { LocalSandboxLimits } from "./limits.js";

/** The shell commands run in. */
export const SANDBOX_SHELL = "/bin/bash";

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
export const PRLIMIT = "/usr/bin/prlimit";

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
export const ARGS_FD = 3;
export const SECCOMP_FD = 4;

/** A host directory a command sees at `path` (the dependencies). */
export interface ExtraBind {
  host: string;
  path: string;
  writable: boolean;
}

/** bubblewrap's options for one command (sent through ARGS_FD, not its command line). */
export function bwrapArgs(
  workspace: string,
  cwd: string,
  networkAllowed: boolean,
  env: Record<string, string>,
  l: LocalSandboxLimits,
  seccomp: boolean,
  binds: readonly ExtraBind[] = [],
): string[] {
  const args = [...ISOLATION, ...systemArgs()];
  for (const path of [...READ_ONLY_ETC, ...(networkAllowed ? NETWORK_ETC : [])]) {
    args.push("--ro-bind-try", path, path);
  }
  args.push("--dev", "/dev", "--size", String(l.maxShmBytes), "--tmpfs", "/dev/shm");
  args.push("--remount-ro", "/dev", "--proc", "/proc");
  args.push("--size", String(l.maxTmpBytes), "--tmpfs", "/tmp");
  args.push("--bind", workspace, SANDBOX_WORKDIR, "--chdir", cwd);
  for (const b of binds) args.push(b.writable ? "--bind" : "--ro-bind", b.host, b.path);
  // The sandbox's own root (where /etc and the symlinks live) is read-only too: only the
  // workspace, /tmp and /dev/shm are writable.
  args.push("--remount-ro", "/");
  if (networkAllowed) args.push("--share-net");
  if (seccomp) args.push("--seccomp", String(SECCOMP_FD));
  for (const [name, value] of Object.entries(env)) args.push("--setenv", name, value);
  return args;
}

/** prlimit and its options, before the command it limits. */
export function prlimitArgs(l: LocalSandboxLimits, withNproc: boolean): string[] {
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
export function resolveExecutable(name: string): string {
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
