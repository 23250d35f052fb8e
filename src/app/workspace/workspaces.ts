import { AppError, type ErrorCode, invalidField, notFound } from "../../domain/errors.js";
import { LIMITS } from "../../domain/limits.js";
import { normalizeWorkspacePath } from "../../domain/paths.js";
import type { FileInfo } from "../../domain/types.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import { SandboxFileError } from "../../ports/sandbox.js";
import { isSkillPath, SKILLS_DIR } from "../sandbox/skills.js";
import type { SessionCommands } from "../sessions/commands.js";
import type { LoadedSession } from "../sessions/loaded-session.js";
import { FILE_EVENTS_TIMEOUT_MS, type SessionManager } from "../sessions/session-manager.js";
import { fileInfo, type Sessions } from "../sessions/sessions.js";
import { decodePageToken, encodePageToken, pageSize } from "../shared/validate.js";

type FileEvent =
  | { type: "file_created" | "file_modified"; file: FileInfo }
  | { type: "file_deleted"; path: string };

const isPath = (p: unknown): p is string => typeof p === "string";

/** A path the session may change: not the profile's skills. */
function userPath(path: string): string {
  const normalized = normalizeWorkspacePath(path);
  if (isSkillPath(normalized)) {
    throw invalidField(
      "path",
      `${SKILLS_DIR}/ holds the profile's skills; it is not the session's`,
    );
  }
  return normalized;
}

/** A sandbox's file error as a client should see it: the workspace path, never a host path. */
function fileError(err: unknown): unknown {
  if (!(err instanceof SandboxFileError)) return err;
  const [code, reason]: [ErrorCode, string] = {
    is_directory: ["failed_precondition", "PATH_IS_DIRECTORY"] as [ErrorCode, string],
    not_directory: ["failed_precondition", "PATH_UNDER_FILE"] as [ErrorCode, string],
    name_too_long: ["invalid_argument", "INVALID_FIELD"] as [ErrorCode, string],
    no_space: ["resource_exhausted", "WORKSPACE_FULL"] as [ErrorCode, string],
    too_large: ["invalid_argument", "FILE_TOO_LARGE"] as [ErrorCode, string],
    not_found: ["not_found", "FILE_NOT_FOUND"] as [ErrorCode, string],
    io_error: ["unavailable", "SANDBOX_FILE_ERROR"] as [ErrorCode, string],
  }[err.kind as string] ?? ["failed_precondition", "SANDBOX_FILE_ERROR"];
  return new AppError(code, reason, err.message, "path");
}

/**
 * The workspace file API: list, read, write and delete a session's files, whether or not its
 * sandbox runs. Every call holds the session's workspace lock, the one a sandbox start, sync
 * and stop hold too, so a file written here is either restored into a starting sandbox or
 * written into the running one: never lost between the two. A file is stored before its event
 * is written, and the call answers once both are.
 */
export class Workspaces {
  constructor(
    private readonly store: PersistenceAdapter,
    private readonly sessions: Sessions,
    private readonly manager: SessionManager,
    private readonly commands: SessionCommands,
  ) {
    commands.register("write_file", (session, a: { path: string; content: Uint8Array }) =>
      this.writeOn(session, a.path, a.content),
    );
    commands.register("delete_file", (session, a: { path: string }) =>
      this.deleteOn(session, a.path),
    );
  }

  /** Runs `fn` under the workspace lock with the session's running sandbox synced first. */
  private async locked<T>(
    tenantId: string,
    sessionId: string,
    fn: (live: LoadedSession | undefined) => Promise<T>,
  ): Promise<T> {
    await this.sessions.load(tenantId, sessionId);
    await this.manager.whenRecovered(sessionId);
    return this.manager.workspaceLocks.run(sessionId, async () => {
      const session = this.manager.getSession(sessionId);
      const live = session?.sandbox.live ? session : undefined;
      if (live) {
        await live.sandbox.syncLocked();
        this.manager.touch(live);
      }
      return fn(live);
    });
  }

  /**
   * A change of the workspace: under the lock, on the loaded session (its record writes are
   * ordered), bracketed by `fileEventsPending` so that a crash between storing the file and
   * storing its event is repaired by recovery. `change` stores the file and returns its event.
   */
  private async change(
    session: LoadedSession,
    change: (session: LoadedSession) => Promise<FileEvent>,
  ): Promise<FileEvent> {
    return this.manager.workspaceLocks.run(session.id, async () => {
      if (session.sandbox.live) await session.sandbox.syncLocked();
      this.manager.touch(session);
      await session.update(() => ({ fileEventsPending: true }));
      const event = await change(session);
      session.emit(event);
      await session.feed.flush(FILE_EVENTS_TIMEOUT_MS);
      await session.update(() => ({ fileEventsPending: undefined }));
      return event;
    });
  }

  async listFiles(
    tenantId: string,
    query: { sessionId: string; prefix: string; pageSize: number; pageToken: string },
  ): Promise<{ files: FileInfo[]; nextPageToken: string }> {
    const limit = pageSize(
      "page_size",
      query.pageSize,
      LIMITS.defaultFilePageSize,
      LIMITS.maxFilePageSize,
    );
    const prefix = query.prefix === "" ? "" : `${normalizeWorkspacePath(query.prefix, "prefix")}/`;
    const after = decodePageToken("page_token", query.pageToken, "files", isPath);
    const all = await this.locked(tenantId, query.sessionId, () =>
      this.store.listWorkspaceFiles(query.sessionId),
    );
    const matching = all.filter(
      (f) => f.path.startsWith(prefix) && (after === undefined || f.path > after),
    );
    const files = matching.slice(0, limit);
    const last = files.at(-1);
    return {
      files,
      nextPageToken: matching.length > limit && last ? encodePageToken("files", last.path) : "",
    };
  }

  async readFile(
    tenantId: string,
    sessionId: string,
    path: string,
  ): Promise<{ info: FileInfo; content: Uint8Array }> {
    const normalized = normalizeWorkspacePath(path);
    const file = await this.locked(tenantId, sessionId, () =>
      this.store.readWorkspaceFile(sessionId, normalized),
    );
    if (!file) throw notFound("file", normalized, "path");
    return file;
  }

  async writeFile(
    tenantId: string,
    sessionId: string,
    path: string,
    content: Uint8Array,
  ): Promise<FileInfo> {
    const normalized = userPath(path);
    if (content.byteLength > LIMITS.maxFileBytes) {
      throw new AppError(
        "invalid_argument",
        "FILE_TOO_LARGE",
        `content: must be at most ${LIMITS.maxFileBytes} bytes`,
        "content",
        { limit: String(LIMITS.maxFileBytes) },
      );
    }
    await this.sessions.load(tenantId, sessionId);
    return this.commands.run(sessionId, "write_file", { path: normalized, content });
  }

  /** Writes a file, on the replica that runs the session. */
  private async writeOn(session: LoadedSession, normalized: string, content: Uint8Array) {
    const sessionId = session.id;
    const event = await this.change(session, async (session) => {
      const files = await this.store.listWorkspaceFiles(sessionId);
      const before = checkWrite(files, normalized, content.byteLength);
      let info = fileInfo(normalized, content);
      const sandbox = session.sandbox.live;
      if (sandbox) {
        try {
          await sandbox.writeFile(normalized, content);
        } catch (err) {
          throw fileError(err);
        }
        const stat = await sandbox.stat(normalized);
        info = { ...info, modifyTime: new Date(stat?.mtimeMs ?? Date.now()) };
        session.sandbox.savedFiles.set(normalized, info);
      }
      await this.store.saveWorkspaceFile(sessionId, { info, content });
      return before ? { type: "file_modified", file: info } : { type: "file_created", file: info };
    });
    return (event as { file: FileInfo }).file;
  }

  async deleteFile(tenantId: string, sessionId: string, path: string): Promise<void> {
    const normalized = userPath(path);
    await this.sessions.load(tenantId, sessionId);
    await this.commands.run(sessionId, "delete_file", { path: normalized });
  }

  /** Deletes a file, on the replica that runs the session. */
  private async deleteOn(session: LoadedSession, normalized: string): Promise<void> {
    const sessionId = session.id;
    await this.change(session, async (session) => {
      const existing = await this.store.readWorkspaceFile(sessionId, normalized);
      if (!existing) throw notFound("file", normalized, "path");
      const sandbox = session.sandbox.live;
      if (sandbox) {
        await sandbox.remove(normalized).catch((err: unknown) => {
          throw fileError(err);
        });
        session.sandbox.savedFiles.delete(normalized);
      }
      await this.store.deleteSessionFile(sessionId, normalized);
      return { type: "file_deleted", path: normalized };
    });
  }
}

/**
 * Checks a write of `size` bytes at `path` against the stored files: no file where a directory
 * must be, no directory where the file goes, the workspace limits. Returns the file it replaces.
 */
function checkWrite(files: FileInfo[], path: string, size: number): FileInfo | undefined {
  const segments = path.split("/");
  for (let i = 1; i < segments.length; i++) {
    const parent = segments.slice(0, i).join("/");
    if (files.some((f) => f.path === parent)) {
      throw new AppError(
        "failed_precondition",
        "PATH_UNDER_FILE",
        `${parent} is a file, so ${path} cannot be written`,
        "path",
      );
    }
  }
  if (files.some((f) => f.path.startsWith(`${path}/`))) {
    throw new AppError(
      "failed_precondition",
      "PATH_IS_DIRECTORY",
      `${path} is a directory`,
      "path",
    );
  }
  const before = files.find((f) => f.path === path);
  const count = files.length + (before ? 0 : 1);
  const bytes = files.reduce((n, f) => n + f.size, 0) - (before?.size ?? 0) + size;
  if (count > LIMITS.maxWorkspaceFiles) {
    throw new AppError(
      "resource_exhausted",
      "WORKSPACE_FULL",
      `a workspace holds at most ${LIMITS.maxWorkspaceFiles} files`,
      "path",
      {
        limit: String(LIMITS.maxWorkspaceFiles),
      },
    );
  }
  if (bytes > LIMITS.maxWorkspaceBytes) {
    throw new AppError(
      "resource_exhausted",
      "WORKSPACE_FULL",
      `a workspace holds at most ${LIMITS.maxWorkspaceBytes} bytes`,
      "content",
      {
        limit: String(LIMITS.maxWorkspaceBytes),
      },
    );
  }
  return before;
}
