import type { FileInfo } from "../../domain/types.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import type { LoadedSession } from "../sessions/loaded-session.js";
import type { KeyedLock } from "../shared/keyed-lock.js";
import { RECOVERY_FLUSH_TIMEOUT_MS } from "./turn-recovery.js";

const PAGE = 500;

/**
 * Makes the feed's file events agree with the stored files again, for a session whose record
 * says files were being saved when the server stopped (`fileEventsPending`): each stored file
 * whose last event is missing or says other content gets a file_created or file_modified, each
 * path the feed shows but the store lacks gets a file_deleted. Reads the session's whole feed:
 * this runs only after a crash hit such a moment. Idempotent.
 */
export async function settleFileEvents(
  session: LoadedSession,
  store: PersistenceAdapter,
): Promise<number> {
  if (!session.record.fileEventsPending) return 0;
  await session.feed.flush(RECOVERY_FLUSH_TIMEOUT_MS);
  const shown = new Map<string, string>(); // path -> sha256 the feed last said
  for (let after = 0; ; ) {
    const page = await store.readEvents(session.id, after, PAGE);
    for (const e of page) {
      const p = e.payload;
      if (p.type === "file_created" || p.type === "file_modified")
        shown.set(p.file.path, p.file.sha256);
      else if (p.type === "file_deleted") shown.delete(p.path);
    }
    if (page.length < PAGE) break;
    after = page.at(-1)!.sequence;
  }
  const stored = await store.listWorkspaceFiles(session.id);
  const storedPaths = new Set(stored.map((f: FileInfo) => f.path));
  let written = 0;
  for (const file of stored) {
    const last = shown.get(file.path);
    if (last === file.sha256) continue;
    session.emit(
      last === undefined ? { type: "file_created", file } : { type: "file_modified", file },
    );
    written++;
  }
  for (const path of shown.keys()) {
    if (storedPaths.has(path)) continue;
    session.emit({ type: "file_deleted", path });
    written++;
  }
  await session.feed.flush(RECOVERY_FLUSH_TIMEOUT_MS);
  await session.update(() => ({ fileEventsPending: undefined }));
  return written;
}

/**
 * `settleFileEvents` for a loaded session whose record says files may lack their events (a save
 * failed while the server ran on), under the workspace lock so no sync runs meanwhile.
 */
export function settlePendingFileEvents(
  session: LoadedSession,
  store: PersistenceAdapter,
  locks: KeyedLock,
): Promise<number> {
  if (!session.record.fileEventsPending) return Promise.resolve(0);
  return locks.run(session.id, () => settleFileEvents(session, store));
}
