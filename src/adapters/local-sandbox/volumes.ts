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
// Needs root (mounting), loop devices, and e2fsprogs (mkfs.ext4); `startVolumes` says what is
// missing otherwise, and the provider then runs plain directories without these limits.

import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import {
  chmod,
  chown,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rmdir,
  unlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { type FileOwner, WorkspaceFiles } from "./files.js";

export interface VolumeLimits {
  /** Bytes the files of a workspace may use together. */
  maxBytes: number;
  /** Files, directories and links a workspace may hold. */
  maxFiles: number;
}

const BLOCK = 4096;
/** ext4 inodes, bytes each (mke2fs's default). */
const INODE_BYTES = 256;
/** The journal (the smallest mke2fs makes with 4 KiB blocks) and the file system's own blocks. */
const JOURNAL_BYTES = 4 * 1024 * 1024;
const METADATA_SLACK_BYTES = 2 * 1024 * 1024;
/** ext4 keeps 2% of its blocks (at most 4096) back for its own metadata (s_resv_clusters). */
const RESERVED_FRACTION = 0.02;
/**
 * Inodes 1-10 are ext4's own; the first free one is 11. The inode table comes in blocks of 16
 * inodes, so a workspace may hold up to 15 entries more than maxFiles, never fewer.
 */
const RESERVED_INODES = 10;
const HOLDER_NAME = "agent-runtime-workspaces";
/** Under the data directory: the images, the holder's record; the holder lives while it does. */
const IMAGES_DIR = "workspace-images";

function which(names: string[]): string | undefined {
  return names.find((p) => existsSync(p));
}

const TOOLS = {
  nsenter: which(["/usr/bin/nsenter", "/bin/nsenter"]),
  unshare: which(["/usr/bin/unshare", "/bin/unshare"]),
  mount: which(["/usr/bin/mount", "/bin/mount"]),
  umount: which(["/usr/bin/umount", "/bin/umount"]),
  mkfs: which(["/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"]),
  losetup: which(["/usr/sbin/losetup", "/sbin/losetup"]),
};

const SYSTEM_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" };

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: SYSTEM_ENV, timeout: 60_000 }, (err, stdout, stderr) => {
      if (!err) return resolve(String(stdout));
      const why = String(stderr).trim().split("\n").at(-1) || err.message;
      reject(Object.assign(new Error(`${file.split("/").at(-1)}: ${why}`), { stderr }));
    });
  });
}

/**
 * Image size for the limits: the data, the inode table, the journal, ext4's reserve and some
 * slack, so that files of `maxBytes` fit (a little more, at most about a MiB, does too).
 */
export function imageBytes(l: VolumeLimits): number {
  const raw = l.maxBytes + (l.maxFiles + RESERVED_INODES + 16) * INODE_BYTES;
  const base = raw + JOURNAL_BYTES + METADATA_SLACK_BYTES;
  const reserve = Math.min(base * RESERVED_FRACTION, 4096 * BLOCK);
  return Math.ceil((base + reserve) / BLOCK) * BLOCK;
}

interface HolderRecord {
  pid: number;
  /** The namespace, as /proc/<pid>/ns/mnt reads ("mnt:[4026532177]"). */
  ns: string;
  dataDir: string;
}

/** A recorded holder that still runs, still for this data directory; else undefined. */
function validHolder(record: HolderRecord | undefined, dataDir: string): HolderRecord | undefined {
  if (!record || record.dataDir !== dataDir) return undefined;
  try {
    if (readlinkSync(`/proc/${record.pid}/ns/mnt`) !== record.ns) return undefined;
    const argv = readFileSync(`/proc/${record.pid}/cmdline`, "utf8").split("\0");
    return argv.includes(HOLDER_NAME) ? record : undefined;
  } catch {
    return undefined;
  }
}

async function readRecord(path: string): Promise<HolderRecord | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as HolderRecord;
  } catch {
    return undefined;
  }
}

/** Starts a holder: a new mount namespace kept by a shell that waits for `watch` to go. */
async function startHolder(dataDir: string, watch: string): Promise<HolderRecord> {
  const child = spawn(
    TOOLS.unshare!,
    [
      "--mount",
      "--propagation",
      "slave",
      "--",
      "/bin/sh",
      "-c",
      'cd /; while [ -d "$1" ]; do sleep 2; done',
      HOLDER_NAME,
      watch,
    ],
    { detached: true, stdio: "ignore", env: SYSTEM_ENV },
  );
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error("unshare could not start");
  const ours = readlinkSync("/proc/self/ns/mnt");
  for (let i = 0; i < 200; i++) {
    let ns: string | undefined;
    let argv: string[] = [];
    try {
      ns = readlinkSync(`/proc/${pid}/ns/mnt`);
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      throw new Error("unshare --mount failed (is this root?)");
    }
    if (ns !== ours && argv.includes(HOLDER_NAME)) return { pid, ns, dataDir };
    await new Promise((r) => setTimeout(r, 10));
  }
  process.kill(pid, "SIGKILL");
  throw new Error("unshare --mount did not start a mount namespace");
}

/** One holder per data directory in this process; other processes find it through the record. */
const holders = new Map<string, Promise<HolderRecord>>();

async function holderFor(dataDir: string): Promise<HolderRecord> {
  const recordPath = join(dataDir, IMAGES_DIR, "mount-ns.json");
  const cached = holders.get(dataDir);
  if (cached) {
    const h = validHolder(await cached.catch(() => undefined), dataDir);
    if (h) return h;
    holders.delete(dataDir);
  }
  const found = (async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = validHolder(await readRecord(recordPath), dataDir);
      if (existing) return existing;
      const mine = await startHolder(dataDir, join(dataDir, IMAGES_DIR));
      // Published with link(), which fails when another process published first.
      const tmp = `${recordPath}.${process.pid}.${mine.pid}`;
      await writeFile(tmp, JSON.stringify(mine), { mode: 0o600 });
      try {
        await link(tmp, recordPath);
        return mine;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        process.kill(mine.pid, "SIGKILL");
        const theirs = validHolder(await readRecord(recordPath), dataDir);
        if (theirs) return theirs;
        // A stale record (its holder is gone, e.g. after a reboot): replace it.
        await rename(recordPath, `${recordPath}.stale.${process.pid}`).catch(() => {});
        await unlink(`${recordPath}.stale.${process.pid}`).catch(() => {});
      } finally {
        await unlink(tmp).catch(() => {});
      }
    }
    throw new Error("could not settle on a mount namespace for the workspaces");
  })();
  holders.set(dataDir, found);
  return found;
}

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
      await this.makeImage(img, { maxBytes: 1024 * 1024, maxFiles: 64 });
      await this.inNamespace(TOOLS.mount!, ["-t", "ext4", "-o", "loop,nodev,nosuid", img, dir]);
      await this.inNamespace(TOOLS.umount!, [dir]);
    } finally {
      await unlink(img).catch(() => {});
      await rmdir(dir).catch(() => {});
    }
  }

  /** The argv prefix that runs a program where the workspaces are mounted (root only). */
  enterArgs(): string[] {
    return [TOOLS.nsenter!, `--mount=/proc/${this.holder.pid}/ns/mnt`];
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
    await run(TOOLS.nsenter!, [`--mount=/proc/${this.holder.pid}/ns/mnt`, "--", file, ...args]);
  }

  private key(img: string): string {
    return `${this.holder.pid}:${img}`;
  }

  private imageOf(sessionId: string): string {
    return join(this.images, `${sessionId}.ext4`);
  }

  private async makeImage(path: string, limits: VolumeLimits, from?: string): Promise<void> {
    const tmp = `${path}.new`;
    const file = await open(tmp, "w", 0o600);
    try {
      await file.truncate(imageBytes(limits));
    } finally {
      await file.close();
    }
    const owner = this.owner ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    try {
      await run(TOOLS.mkfs!, [
        "-q",
        "-F",
        "-t",
        "ext4",
        "-b",
        String(BLOCK),
        "-I",
        String(INODE_BYTES),
        "-N",
        String(limits.maxFiles + RESERVED_INODES),
        "-m",
        "0",
        "-J",
        `size=${JOURNAL_BYTES / 1024 / 1024}`,
        "-O",
        "^resize_inode",
        "-E",
        `root_owner=${owner.uid}:${owner.gid},nodiscard`,
        "-L",
        "workspace",
        ...(from ? ["-d", from] : []),
        tmp,
      ]);
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
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
        await this.makeImage(img, this.limits, fromDir);
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
      await unlink(this.imageOf(sessionId)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      });
    });
  }
}
