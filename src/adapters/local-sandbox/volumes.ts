// Size- and file-count-limited workspaces: each session's workspace is an ext4 file system in an
// image file (`<dataDir>/workspace-images/<session>.ext4`, sparse, root-only), loop-mounted on
// the workspace directory. Its size and inode count are the limits, so a command that fills it
// gets ENOSPC from the kernel, as does the host writing into it; nothing outside notices.
//
// The mounts live in a mount namespace of their own, not the host's: a small holder process
// (`unshare --mount`, detached) keeps that namespace for as long as the data directory exists.
// bubblewrap is started inside it (nsenter), and the server reaches the files through the
// holder's root (/proc/<holder>/root/...). So the host's mount table never shows a workspace,
// removing the data directory (as tests do) just works, and once the directory is gone the
// holder ends and the kernel unmounts and detaches everything. A restarted server finds the
// holder again through `<dataDir>/workspace-images/mount-ns.json` and reuses its mounts; after a
// reboot the images are mounted again on first use.
//
// Needs root (mounting), loop devices, and e2fsprogs (mkfs.ext4); `WorkspaceVolumes.start` says what
// is missing otherwise, and the provider then runs plain directories without these limits.
//
// The image itself is made in ext4-image.ts, the namespace's holder is kept in mount-namespace.ts.

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, chown, mkdir, readdir, readFile, rmdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { makeImage, type VolumeLimits } from "./ext4-image.js";
import { type FileOwner, WorkspaceFiles } from "./files.js";
import {
  enterMountNs,
  type HolderRecord,
  holderFor,
  IMAGES_DIR,
  validHolder,
} from "./mount-namespace.js";
import { run, TOOLS } from "./system-tools.js";

export { imageBytes, type VolumeLimits } from "./ext4-image.js";

/** Per-image operations in this process run one at a time. */
const queues = new Map<string, Promise<unknown>>();
function serially<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = queues.get(key) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const tail = next.catch(() => {});
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return next;
}

/**
 * Images this process knows to be mounted, as `<holder pid>:<image>` (all mounting goes through
 * `serially`; a new holder means a new namespace, where nothing is mounted yet).
 */
const mounted = new Set<string>();

/** Decodes mountinfo's octal escapes (`\040` for a space). */
const unescapeMount = (s: string) =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));

export class WorkspaceVolumes {
  private constructor(
    private readonly dataDir: string,
    private readonly images: string,
    private readonly limits: VolumeLimits,
    private readonly owner: FileOwner | undefined,
    private holder: HolderRecord,
  ) {}

  /**
   * Sets up limited workspaces under `dataDir`, or says why they cannot be: not root, tools or
   * loop devices missing. Proves it works by mounting a small image once.
   */
  static async start(o: {
    dataDir: string;
    limits: VolumeLimits;
    owner?: FileOwner;
  }): Promise<{ ok: true; volumes: WorkspaceVolumes } | { ok: false; reason: string }> {
    if (process.getuid?.() !== 0) {
      return { ok: false, reason: "mounting workspace images needs root" };
    }
    const missing = Object.entries(TOOLS)
      .filter(([, path]) => !path)
      .map(([name]) => (name === "mkfs" ? "mkfs.ext4 (e2fsprogs)" : `${name} (util-linux, mount)`));
    if (missing.length > 0) return { ok: false, reason: `missing ${missing.join(", ")}` };
    const images = join(o.dataDir, IMAGES_DIR);
    try {
      await mkdir(images, { recursive: true, mode: 0o700 });
      const holder = await holderFor(o.dataDir);
      const volumes = new WorkspaceVolumes(o.dataDir, images, o.limits, o.owner, holder);
      await volumes.probe();
      return { ok: true, volumes };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  /** Mounts and unmounts a tiny image: loop devices and ext4 really work here. */
  private async probe(): Promise<void> {
    const probe = `.probe-${process.pid}-${randomBytes(4).toString("hex")}`;
    const img = join(this.images, `${probe}.ext4`);
    const dir = join(this.images, probe);
    await mkdir(dir, { recursive: true });
    try {
      await makeImage(img, { maxBytes: 1024 * 1024, maxFiles: 64 }, this.owner);
      await this.inNamespace(TOOLS.mount!, ["-t", "ext4", "-o", "loop,nodev,nosuid", img, dir]);
      await this.inNamespace(TOOLS.umount!, [dir]);
    } finally {
      await unlink(img).catch(() => {});
      await rmdir(dir).catch(() => {});
    }
  }

  /** The argv prefix that runs a program where the workspaces are mounted (root only). */
  enterArgs(): string[] {
    return [TOOLS.nsenter!, enterMountNs(this.holder)];
  }

  /** The path through which this process reaches `path` as the namespace sees it. */
  hostPath(path: string): string {
    return `/proc/${this.holder.pid}/root${path}`;
  }

  private async refreshHolder(): Promise<void> {
    if (validHolder(this.holder, this.dataDir)) return;
    this.holder = await holderFor(this.dataDir);
  }

  private async inNamespace(file: string, args: string[]): Promise<void> {
    await run(TOOLS.nsenter!, [enterMountNs(this.holder), "--", file, ...args]);
  }

  private key(img: string): string {
    return `${this.holder.pid}:${img}`;
  }

  private imageOf(sessionId: string): string {
    return join(this.images, `${sessionId}.ext4`);
  }

  /**
   * Waits until no loop device holds the image: a namespace that just lost its holder unmounts
   * it a moment later, and mounting one ext4 image twice would corrupt it.
   */
  private async notAttached(img: string): Promise<void> {
    for (let i = 0; i < 50; i++) {
      if ((await run(TOOLS.losetup!, ["--associated", img])).trim() === "") return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("the workspace image is still mounted elsewhere; try again later");
  }

  /** Whether `dir` is a mount point in the namespace. */
  private async isMounted(dir: string): Promise<boolean> {
    const info = await readFile(`/proc/${this.holder.pid}/mountinfo`, "utf8");
    return info.split("\n").some((line) => unescapeMount(line.split(" ")[4] ?? "") === dir);
  }

  /**
   * Makes `dir` the session's limited workspace: creates its image on first use (taking over
   * what a plain directory from before held) and mounts it, unless it is mounted already.
   */
  mount(sessionId: string, dir: string): Promise<void> {
    const img = this.imageOf(sessionId);
    if (mounted.has(this.key(img)) && !queues.has(img) && validHolder(this.holder, this.dataDir)) {
      return Promise.resolve();
    }
    return serially(img, async () => {
      await this.refreshHolder();
      if (mounted.has(this.key(img))) return;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      if (await this.isMounted(dir)) {
        mounted.add(this.key(img));
        return;
      }
      if (!existsSync(img)) {
        // A plain directory from before limits were enforced: its files move into the image.
        const fromDir = (await readdir(dir).catch(() => [])).length > 0 ? dir : undefined;
        await makeImage(img, this.limits, this.owner, fromDir);
        if (fromDir) await new WorkspaceFiles(dir).clear();
      }
      await this.notAttached(img);
      await this.inNamespace(TOOLS.mount!, [
        "-t",
        "ext4",
        "-o",
        "loop,nodev,nosuid,noatime,discard",
        img,
        dir,
      ]);
      const root = this.hostPath(dir);
      await rmdir(join(root, "lost+found")).catch(() => {});
      if (this.owner) await chown(root, this.owner.uid, this.owner.gid);
      await chmod(root, 0o700);
      mounted.add(this.key(img));
    });
  }

  /** Unmounts the workspace; false when it is still in use (it then stays mounted). */
  unmount(sessionId: string, dir: string): Promise<boolean> {
    const img = this.imageOf(sessionId);
    return serially(img, async () => {
      await this.refreshHolder();
      mounted.delete(this.key(img));
      if (!(await this.isMounted(dir))) return true;
      for (let i = 0; i < 10; i++) {
        try {
          await this.inNamespace(TOOLS.umount!, [dir]);
          return true;
        } catch {
          // EBUSY: the processes of a just-killed command are still being reaped.
          await new Promise((r) => setTimeout(r, 50 * (i + 1)));
        }
      }
      mounted.add(this.key(img));
      return false;
    });
  }

  /** Unmounts the workspace (lazily if still busy) and deletes its image. */
  remove(sessionId: string, dir: string): Promise<void> {
    const img = this.imageOf(sessionId);
    return serially(img, async () => {
      await this.refreshHolder();
      mounted.delete(this.key(img));
      if (await this.isMounted(dir)) {
        await this.inNamespace(TOOLS.umount!, [dir]).catch(() =>
          this.inNamespace(TOOLS.umount!, ["--lazy", dir]),
        );
      }
      await unlink(img).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
    });
  }
}
