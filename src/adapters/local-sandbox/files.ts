// Host-side access to a workspace directory that never leaves it, even while a command inside the
// sandbox changes the tree under our feet.
//
// Every lookup walks the path one component at a time from an open directory handle, reaching the
// next component through `/proc/self/fd/<dir>/<name>` (the Linux way to get openat() semantics
// from Node) and opening directories with O_NOFOLLOW: no step ever follows a symbolic link the
// kernel's way. Symbolic links are resolved here instead, lexically, and only while they stay
// inside the workspace (`/workspace/...` targets count as inside: that is where the sandbox sees
// it). A link that leads out is refused for reading and writing alike. Swapping a directory for a
// link between our check and our open makes the open fail (ELOOP/ENOTDIR), never escape.

import { constants } from "node:fs";
import {
  type FileHandle,
  lchown,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rmdir,
  unlink,
} from "node:fs/promises";
import { AppError, invalidField } from "../../domain/errors.js";
import { normalizeWorkspacePath, WORKSPACE_ROOT } from "../../domain/paths.js";
import {
  SandboxFileError,
  type SandboxFileErrorKind,
  type SandboxFileStat,
} from "../../ports/sandbox.js";

/** Where the sandbox sees the workspace; absolute link targets under it stay inside. */
export const SANDBOX_WORKDIR = WORKSPACE_ROOT;

/** Symbolic links followed while resolving one path (as Linux's MAXSYMLINKS). */
export const MAX_SYMLINK_HOPS = 40;

/** Who owns what the host writes into a workspace, when that is not the server's own user. */
export interface FileOwner {
  uid: number;
  gid: number;
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK } = constants;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

/** What each errno means for a workspace path, as the error kind and its message. */
const ERRORS: Record<string, [SandboxFileErrorKind, string]> = {
  ENOENT: ["not_found", "no such file or directory"],
  EISDIR: ["is_directory", "is a directory"],
  ENOTDIR: ["not_directory", "a component of the path is not a directory"],
  ENAMETOOLONG: ["name_too_long", "a name in the path is too long"],
  ENOSPC: ["no_space", "no space left: the workspace is at its size or file count limit"],
  EDQUOT: ["no_space", "no space left: the workspace is at its size or file count limit"],
  EFBIG: ["too_large", "file too large"],
  ENXIO: ["not_regular_file", "not a regular file"],
  ELOOP: ["bad_link", "too many symbolic links, or a link where a directory was expected"],
  EACCES: ["permission_denied", "permission denied"],
  EPERM: ["permission_denied", "permission denied"],
  ENOTEMPTY: ["io_error", "directory not empty (changed while it was removed)"],
  EEXIST: ["io_error", "already exists (changed meanwhile)"],
};

/** An fs error about a workspace path: names the workspace path, never the host's. */
export function fileError(rel: string, code: string): SandboxFileError {
  const [kind, message] = ERRORS[code] ?? ["io_error", `the file operation failed (${code})`];
  return new SandboxFileError(kind, rel, message);
}

/**
 * Runs a file operation; whatever fs error comes out is reported about `rel` alone (host errors
 * name `/proc/self/fd/...` paths, which must not reach clients).
 */
async function workspaceErrors<T>(rel: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError || err instanceof SandboxFileError) throw err;
    throw fileError(rel, (err as NodeJS.ErrnoException).code ?? "EIO");
  }
}

const isMissing = (err: unknown) => {
  if (err instanceof SandboxFileError)
    return err.kind === "not_found" || err.kind === "not_directory";
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
};

/** `name` inside the directory open as `dir`, as a path no later rename can redirect. */
const at = (dir: FileHandle, name: string) => `/proc/self/fd/${dir.fd}/${name}`;

function typeOf(st: {
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}): SandboxFileStat["type"] {
  return st.isDirectory() ? "directory" : st.isSymbolicLink() ? "symlink" : "file";
}

/**
 * Where a symbolic link at `dirParts/<link>` with `target` points, as workspace path parts;
 * throws when it leads out of the workspace.
 */
function linkTarget(dirParts: string[], target: string, rel: string): string[] {
  let base: string[];
  let rest: string;
  if (target.startsWith("/")) {
    if (target !== SANDBOX_WORKDIR && !target.startsWith(`${SANDBOX_WORKDIR}/`)) {
      throw invalidField("path", `${rel}: a symbolic link leads out of the workspace`);
    }
    base = [];
    rest = target.slice(SANDBOX_WORKDIR.length);
  } else {
    base = [...dirParts];
    rest = target;
  }
  for (const seg of rest.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (base.length === 0) {
        throw invalidField("path", `${rel}: a symbolic link leads out of the workspace`);
      }
      base.pop();
    } else {
      base.push(seg);
    }
  }
  return base;
}

interface Located {
  /** The directory that holds the entry; the caller closes it. */
  dir: FileHandle;
  /** The entry's name in `dir`; "" for the workspace root itself. */
  name: string;
}

export class WorkspaceFiles {
  constructor(
    /** The workspace directory, or how to find it now (it may move: a new mount namespace). */
    private readonly rootPath: string | (() => string),
    /** Set when the server runs as root and commands as another user: what we create is theirs. */
    private readonly owner?: FileOwner,
  ) {}

  get root(): string {
    return typeof this.rootPath === "string" ? this.rootPath : this.rootPath();
  }

  private openRoot(): Promise<FileHandle> {
    return open(this.root, DIR_FLAGS);
  }

  private async chown(path: string): Promise<void> {
    if (this.owner) await lchown(path, this.owner.uid, this.owner.gid);
  }

  /**
   * Finds the directory holding `rel` (validated), resolving symbolic links on the way only
   * while they stay inside. With `followLast` a link in the last place is resolved too; with
   * `createDirs` missing directories are made.
   */
  private async locate(
    rel: string,
    opts: { followLast: boolean; createDirs?: boolean },
  ): Promise<Located> {
    let pending = rel === "" ? [] : rel.split("/");
    let dirParts: string[] = [];
    let dir = await this.openRoot();
    let hops = 0;
    try {
      while (pending.length > 0) {
        const name = pending[0]!;
        const last = pending.length === 1;
        if (last && !opts.followLast) return { dir, name };
        let st = await lstat(at(dir, name)).catch((err: unknown) => {
          if (isMissing(err)) return undefined;
          throw err;
        });
        if (!st) {
          if (last) return { dir, name };
          if (!opts.createDirs) throw fileError(rel, "ENOENT");
          await mkdir(at(dir, name), { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
            if (err.code !== "EEXIST") throw err;
          });
          await this.chown(at(dir, name));
          st = await lstat(at(dir, name));
        }
        if (st.isSymbolicLink()) {
          if (++hops > MAX_SYMLINK_HOPS) throw fileError(rel, "ELOOP");
          const target = linkTarget(dirParts, await readlink(at(dir, name)), rel);
          // Start again from the root with the link replaced by where it points.
          pending = [...target, ...pending.slice(1)];
          await dir.close();
          dir = await this.openRoot();
          dirParts = [];
          continue;
        }
        if (last) return { dir, name };
        if (!st.isDirectory()) throw fileError(rel, "ENOTDIR");
        const next = await open(at(dir, name), DIR_FLAGS);
        await dir.close();
        dir = next;
        dirParts.push(name);
        pending = pending.slice(1);
      }
      return { dir, name: "" };
    } catch (err) {
      await dir.close().catch(() => {});
      throw err;
    }
  }

  async read(path: string): Promise<Uint8Array> {
    const rel = normalizeWorkspacePath(path);
    return workspaceErrors(rel, async () => {
      const { dir, name } = await this.locate(rel, { followLast: true });
      try {
        if (name === "") throw fileError(rel, "EISDIR");
        // O_NONBLOCK: a FIFO made inside the sandbox must not hang the server.
        const file = await open(at(dir, name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
        try {
          const st = await file.stat();
          if (st.isDirectory()) throw fileError(rel, "EISDIR");
          if (!st.isFile()) throw fileError(rel, "ENXIO");
          return new Uint8Array(await file.readFile());
        } finally {
          await file.close();
        }
      } finally {
        await dir.close();
      }
    });
  }

  /** Writes a regular file, making parent directories; links are followed only inside. */
  async write(path: string, content: Uint8Array): Promise<void> {
    const rel = normalizeWorkspacePath(path);
    await workspaceErrors(rel, async () => {
      const { dir, name } = await this.locate(rel, { followLast: true, createDirs: true });
      try {
        if (name === "") throw fileError(rel, "EISDIR");
        const file = await open(at(dir, name), O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644);
        try {
          const st = await file.stat();
          if (st.isDirectory()) throw fileError(rel, "EISDIR");
          if (!st.isFile()) throw fileError(rel, "ENXIO");
          await file.truncate(0);
          await file.writeFile(content);
          if (this.owner) await file.chown(this.owner.uid, this.owner.gid);
        } finally {
          await file.close();
        }
      } finally {
        await dir.close();
      }
    });
  }

  /** The entry itself (a link is reported as a link); null when nothing is there. */
  async stat(path: string): Promise<SandboxFileStat | null> {
    const rel = normalizeWorkspacePath(path);
    return workspaceErrors(rel, async () => {
      let located: Located;
      try {
        located = await this.locate(rel, { followLast: false });
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
      const { dir, name } = located;
      try {
        const st = await lstat(at(dir, name)).catch((err: unknown) => {
          if (isMissing(err)) return undefined;
          throw err;
        });
        if (!st) return null;
        return { path: rel, type: typeOf(st), size: st.size, mtimeMs: st.mtimeMs };
      } finally {
        await dir.close();
      }
    });
  }

  /** Removes a file, a link (never what it points to) or a directory tree; absent is fine. */
  async remove(path: string): Promise<void> {
    const rel = normalizeWorkspacePath(path);
    await workspaceErrors(rel, async () => {
      let located: Located;
      try {
        located = await this.locate(rel, { followLast: false });
      } catch (err) {
        if (isMissing(err)) return;
        throw err;
      }
      const { dir, name } = located;
      try {
        await this.removeEntry(dir, name);
      } finally {
        await dir.close();
      }
    });
  }

  /** Removes everything in the workspace (the directory itself stays). */
  async clear(): Promise<void> {
    const root = await this.openRoot();
    try {
      for (const entry of await readdir(`/proc/self/fd/${root.fd}`)) {
        await this.removeEntry(root, entry);
      }
    } finally {
      await root.close();
    }
  }

  private async removeEntry(dir: FileHandle, name: string): Promise<void> {
    const st = await lstat(at(dir, name)).catch((err: unknown) => {
      if (isMissing(err)) return undefined;
      throw err;
    });
    if (!st) return;
    if (!st.isDirectory()) {
      await unlink(at(dir, name)).catch((err: unknown) => {
        if (!isMissing(err)) throw err;
      });
      return;
    }
    const sub = await open(at(dir, name), DIR_FLAGS);
    try {
      for (const entry of await readdir(`/proc/self/fd/${sub.fd}`)) {
        await this.removeEntry(sub, entry);
      }
    } finally {
      await sub.close();
    }
    await rmdir(at(dir, name)).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
    });
  }

  /** Every entry under `dir`, recursively, hidden ones included; links are listed, not entered. */
  async list(dir = ""): Promise<SandboxFileStat[]> {
    const start = dir === "" ? "" : normalizeWorkspacePath(dir, "dir");
    return workspaceErrors(start, async () => {
      let handle: FileHandle;
      try {
        const { dir: parent, name } = await this.locate(start, { followLast: true });
        if (name === "") {
          handle = parent;
        } else {
          try {
            handle = await open(at(parent, name), DIR_FLAGS);
          } finally {
            await parent.close();
          }
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const badLink = err instanceof SandboxFileError && err.kind === "bad_link";
        if (isMissing(err) || code === "ELOOP" || badLink) return [];
        throw err;
      }
      const out: SandboxFileStat[] = [];
      const walk = async (d: FileHandle, rel: string): Promise<void> => {
        for (const name of await readdir(`/proc/self/fd/${d.fd}`)) {
          const child = rel === "" ? name : `${rel}/${name}`;
          const st = await lstat(at(d, name)).catch(() => undefined);
          if (!st) continue;
          const type = typeOf(st);
          out.push({ path: child, type, size: st.size, mtimeMs: st.mtimeMs });
          if (type !== "directory") continue;
          const sub = await open(at(d, name), DIR_FLAGS).catch(() => undefined);
          if (!sub) continue; // replaced or removed meanwhile
          try {
            await walk(sub, child);
          } finally {
            await sub.close();
          }
        }
      };
      try {
        await walk(handle, start);
      } finally {
        await handle.close();
      }
      return out;
    });
  }
}
