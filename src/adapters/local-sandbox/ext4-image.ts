// A workspace image: a sparse file with an ext4 file system whose size and inode count are the
// workspace's limits.

import { open, rename, unlink } from "node:fs/promises";
import type { FileOwner } from "./files.js";
import { run, TOOLS } from "./system-tools.js";

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

/**
 * Makes the image at `path` (through a temporary file, so a half-made one never counts), its root
 * owned by `owner` (default the server's user), holding the files of `from` when given.
 */
export async function makeImage(
  path: string,
  limits: VolumeLimits,
  owner: FileOwner | undefined,
  from?: string,
): Promise<void> {
  const tmp = `${path}.new`;
  const file = await open(tmp, "w", 0o600);
  try {
    await file.truncate(imageBytes(limits));
  } finally {
    await file.close();
  }
  const root = owner ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
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
      `root_owner=${root.uid}:${root.gid},nodiscard`,
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
