import { createHash } from "node:crypto";
import { LIMITS } from "../../domain/limits.js";
import type { FileInfo } from "../../domain/types.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import type { Sandbox } from "../../ports/sandbox.js";
import { isSkillPath } from "./skills.js";

export type FileChange =
  | { type: "file_created"; file: FileInfo }
  | { type: "file_modified"; file: FileInfo }
  | { type: "file_deleted"; path: string };

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/**
 * What is saved of a sandbox's workspace: path -> info, with the sandbox's own modification
 * times, so a sync reads and hashes only files whose size or time moved.
 */
export type SavedFiles = Map<string, FileInfo>;

/**
 * Makes the sandbox's workspace equal to what is stored: writes every stored file, removes
 * files the store does not have. Returns the saved state to diff against from now on.
 */
export async function restoreWorkspace(
  sessionId: string,
  sandbox: Sandbox,
  store: PersistenceAdapter,
): Promise<SavedFiles> {
  const stored = await store.listWorkspaceFiles(sessionId);
  const storedPaths = new Set(stored.map((f) => f.path));
  const present = new Map(
    (await sandbox.listFiles()).filter((f) => f.type !== "directory").map((f) => [f.path, f]),
  );
  for (const [path] of present) {
    if (!storedPaths.has(path) && !isSkillPath(path)) await sandbox.remove(path);
  }
  const saved: SavedFiles = new Map();
  for (const info of stored) {
    if (isSkillPath(info.path)) continue;
    const file = await store.readWorkspaceFile(sessionId, info.path);
    if (!file) continue;
    await sandbox.writeFile(info.path, file.content);
    const stat = await sandbox.stat(info.path);
    saved.set(info.path, { ...file.info, modifyTime: new Date(stat?.mtimeMs ?? Date.now()) });
  }
  return saved;
}

/**
 * Compares the sandbox's workspace with what was saved, saves the differences and returns them.
 * Files over the size limit are not saved (and reported by `skipped`).
 */
export async function syncWorkspace(
  sessionId: string,
  sandbox: Sandbox,
  store: PersistenceAdapter,
  saved: SavedFiles,
  /** Called once before the first file is saved or deleted. */
  beforeChange: () => Promise<void> = async () => {},
): Promise<{ changes: FileChange[]; skipped: string[] }> {
  const changes: FileChange[] = [];
  let announced = false;
  const changing = async () => {
    if (!announced) await beforeChange();
    announced = true;
  };
  const skipped: string[] = [];
  const seen = new Set<string>();
  // The profile's skills are not the session's files: never saved, never file events.
  const entries = (await sandbox.listFiles()).filter(
    (f) => f.type === "file" && !isSkillPath(f.path),
  );
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const entry of entries) {
    seen.add(entry.path);
    const before = saved.get(entry.path);
    if (before && before.size === entry.size && before.modifyTime.getTime() === entry.mtimeMs) {
      continue;
    }
    if (entry.size > LIMITS.maxFileBytes) {
      skipped.push(entry.path);
      continue;
    }
    let content: Uint8Array;
    try {
      content = await sandbox.readFile(entry.path);
    } catch {
      continue; // removed between listing and reading: the next sync sees it gone
    }
    const info: FileInfo = {
      path: entry.path,
      size: content.byteLength,
      sha256: sha256(content),
      modifyTime: new Date(entry.mtimeMs),
    };
    saved.set(entry.path, info);
    if (before && before.sha256 === info.sha256) continue; // touched, not changed
    await changing();
    await store.saveWorkspaceFile(sessionId, { info, content });
    changes.push(
      before ? { type: "file_modified", file: info } : { type: "file_created", file: info },
    );
  }
  for (const path of [...saved.keys()]) {
    if (seen.has(path)) continue;
    await changing();
    saved.delete(path);
    await store.deleteSessionFile(sessionId, path);
    changes.push({ type: "file_deleted", path });
  }
  return { changes, skipped };
}
