// Host-side access to a workspace directory that never leaves it: paths are validated, no
// symlink is followed out of the workspace, and the last component is opened with O_NOFOLLOW.

import { constants } from "node:fs";
import { lstat, mkdir, open, readdir, realpath, rm } from "node:fs/promises";
import { join, sep } from "node:path";
import { invalidField } from "../../domain/errors.js";
import { normalizeWorkspacePath } from "../../domain/paths.js";
import type { SandboxFileStat } from "../../ports/sandbox.js";

const MESSAGES: Record<string, string> = {
  ENOENT: "no such file or directory",
  EISDIR: "is a directory",
  ENOTDIR: "a component of the path is not a directory",
  ELOOP: "is a symbolic link",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOSPC: "no space left",
  EFBIG: "file too large",
};

/** File errors name the workspace path, never the host's. */
async function workspaceErrors<T>(rel: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && code in MESSAGES) {
      const e = new Error(`${rel}: ${MESSAGES[code]}`) as NodeJS.ErrnoException;
      e.code = code;
      throw e;
    }
    throw err;
  }
}

export class WorkspaceFiles {
  constructor(readonly root: string) {}

  /** The absolute host path of a workspace path whose parent directory is inside the root. */
  private async resolve(path: string): Promise<{ abs: string; rel: string }> {
    const rel = normalizeWorkspacePath(path);
    const rootReal = await realpath(this.root);
    const parts = rel.split("/");
    let dir = rootReal;
    for (const part of parts.slice(0, -1)) {
      dir = join(dir, part);
      const st = await lstat(dir).catch(() => undefined);
      if (!st) break; // created later by mkdir, inside the root
      if (st.isSymbolicLink()) {
        throw invalidField("path", `${rel}: a directory on the way is a symbolic link`);
      }
    }
    return { abs: join(rootReal, ...parts), rel };
  }

  private async inside(abs: string): Promise<boolean> {
    const rootReal = await realpath(this.root);
    const target = await realpath(abs).catch(() => undefined);
    return target !== undefined && (target === rootReal || target.startsWith(rootReal + sep));
  }

  async read(path: string): Promise<Uint8Array> {
    const { abs, rel } = await this.resolve(path);
    return workspaceErrors(rel, () => this.readAt(abs, rel));
  }

  private async readAt(abs: string, rel: string): Promise<Uint8Array> {
    const st = await lstat(abs);
    if (st.isSymbolicLink() && !(await this.inside(abs))) {
      throw invalidField("path", `${rel}: a symbolic link that leads out of the workspace`);
    }
    const handle = await open(
      abs,
      st.isSymbolicLink() ? constants.O_RDONLY : constants.O_RDONLY | constants.O_NOFOLLOW,
    );
    try {
      return new Uint8Array(await handle.readFile());
    } finally {
      await handle.close();
    }
  }

  async write(path: string, content: Uint8Array): Promise<void> {
    const { abs, rel } = await this.resolve(path);
    await workspaceErrors(rel, () => this.writeAt(abs, rel, content));
  }

  private async writeAt(abs: string, rel: string, content: Uint8Array): Promise<void> {
    const parent = abs.slice(0, abs.lastIndexOf(sep));
    await mkdir(parent, { recursive: true });
    if (!(await this.inside(parent))) throw invalidField("path", `${rel}: outside the workspace`);
    const existing = await lstat(abs).catch(() => undefined);
    if (existing?.isSymbolicLink()) throw invalidField("path", `${rel}: is a symbolic link`);
    const handle = await open(
      abs,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
      0o644,
    );
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
  }

  async stat(path: string): Promise<SandboxFileStat | null> {
    const { abs, rel } = await this.resolve(path);
    const st = await lstat(abs).catch(() => undefined);
    if (!st) return null;
    return {
      path: rel,
      type: st.isDirectory() ? "directory" : st.isSymbolicLink() ? "symlink" : "file",
      size: st.size,
      mtimeMs: st.mtimeMs,
    };
  }

  async remove(path: string): Promise<void> {
    const { abs, rel } = await this.resolve(path);
    // rm never follows a symbolic link: it removes the link itself.
    await workspaceErrors(rel, () => rm(abs, { recursive: true, force: true }));
  }

  /** Every entry under `dir`, recursively, hidden ones included; symbolic links are not followed. */
  async list(dir = ""): Promise<SandboxFileStat[]> {
    const out: SandboxFileStat[] = [];
    const start = dir === "" ? "" : (await this.resolve(dir)).rel;
    const rootReal = await realpath(this.root);
    const walk = async (rel: string) => {
      const entries = await readdir(rel === "" ? rootReal : join(rootReal, rel), {
        withFileTypes: true,
      }).catch(() => []);
      for (const entry of entries) {
        const child = rel === "" ? entry.name : `${rel}/${entry.name}`;
        const st = await lstat(join(rootReal, child)).catch(() => undefined);
        if (!st) continue;
        const type = st.isDirectory() ? "directory" : st.isSymbolicLink() ? "symlink" : "file";
        out.push({ path: child, type, size: st.size, mtimeMs: st.mtimeMs });
        if (type === "directory") await walk(child);
      }
    };
    if (start !== "") {
      const st = await lstat(join(rootReal, start)).catch(() => undefined);
      if (!st?.isDirectory()) return [];
    }
    await walk(start);
    return out;
  }
}
