// The mount namespace the workspace images are mounted in (see volumes.ts): kept by a holder
// process per data directory, recorded in `<dataDir>/workspace-images/mount-ns.json` so other
// and later server processes find it, and started anew when it is gone.

import { spawn } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";
import { link, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SYSTEM_ENV, TOOLS } from "./system-tools.js";

const HOLDER_NAME = "agent-runtime-workspaces";
/** Under the data directory: the images, the holder's record; the holder lives while it does. */
export const IMAGES_DIR = "workspace-images";

export interface HolderRecord {
  pid: number;
  /** The namespace, as /proc/<pid>/ns/mnt reads ("mnt:[4026532177]"). */
  ns: string;
  dataDir: string;
}

/** A recorded holder that still runs, still for this data directory; else undefined. */
export function validHolder(
  record: HolderRecord | undefined,
  dataDir: string,
): HolderRecord | undefined {
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

/**
 * Starts a holder: a new mount namespace kept by a shell that waits for `watch` to go or for
 * this process to exit, whichever comes first.
 */
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
      // Ends when the data directory goes or the server that started it exits: the images
      // stay on disk and are mounted again by the next holder.
      'cd /; while [ -d "$1" ] && kill -0 "$2" 2>/dev/null; do sleep 1; done',
      HOLDER_NAME,
      watch,
      String(process.pid),
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

/** The live holder for the data directory: this process's, the recorded one, or a new one. */
export async function holderFor(dataDir: string): Promise<HolderRecord> {
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

/** nsenter's option that enters the holder's mount namespace. */
export const enterMountNs = (holder: HolderRecord): string => `--mount=/proc/${holder.pid}/ns/mnt`;
