import { createHash } from "node:crypto";
import { AppError, invalidField, notFound } from "../domain/errors.js";
import { isId, newId } from "../domain/ids.js";
import { LIMITS } from "../domain/limits.js";
import { normalizeWorkspacePath } from "../domain/paths.js";
import {
  emptyUsage,
  type FileContent,
  type FileInfo,
  type SessionOptions,
  type SessionRecord,
  type SessionState,
} from "../domain/types.js";
import type { PersistenceAdapter, SessionCursor } from "../ports/persistence.js";
import { checkFiles, checkModel, type ProfileService } from "./profiles.js";
import type { SessionManager, SessionRuntimeView } from "./session-manager.js";
import {
  checkLength,
  checkMetadata,
  checkRequestId,
  decodePageToken,
  encodePageToken,
  pageSize,
} from "./validate.js";

export interface CreateSessionInput {
  agentProfileId: string;
  name: string;
  metadata: Record<string, string>;
  initialFiles: FileContent[];
  options: SessionOptions;
  requestId: string;
}

export interface SessionPatch {
  name: string;
  metadata: Record<string, string>;
  options: SessionOptions;
}

export const SESSION_UPDATE_FIELDS = ["name", "metadata", "options", "options.model"] as const;

/** A session with what runs for it right now. */
export interface SessionView {
  record: SessionRecord;
  runtime: SessionRuntimeView;
}

export function fileInfo(path: string, content: Uint8Array, modifyTime = new Date()): FileInfo {
  return {
    path,
    size: content.byteLength,
    sha256: createHash("sha256").update(content).digest("hex"),
    modifyTime,
  };
}

export function checkSessionId(id: string, field = "session_id"): void {
  if (id === "") throw invalidField(field, "is required");
  if (!isId("ses", id)) throw invalidField(field, "is not a session id (ses_...)");
}

export function checkProfileId(id: string, field = "agent_profile_id"): void {
  if (id === "") throw invalidField(field, "is required");
  if (!isId("prf", id)) throw invalidField(field, "is not an agent profile id (prf_...)");
}

function isCursor(p: unknown): p is { t: number; id: string } {
  const c = p as { t?: unknown; id?: unknown } | null;
  return typeof c?.t === "number" && typeof c.id === "string";
}

function isPath(p: unknown): p is string {
  return typeof p === "string";
}

/** The session and workspace use cases. Every call is scoped to a tenant. */
export class SessionService {
  constructor(
    private readonly store: PersistenceAdapter,
    private readonly profiles: ProfileService,
    private readonly manager: SessionManager,
  ) {}

  async create(tenantId: string, input: CreateSessionInput): Promise<SessionView> {
    checkProfileId(input.agentProfileId);
    checkLength("name", input.name, LIMITS.maxNameLength);
    checkMetadata("metadata", input.metadata);
    checkModel("options.model", input.options.model);
    checkRequestId("request_id", input.requestId);
    const initialFiles = checkFiles(
      "initial_files",
      input.initialFiles,
      LIMITS.maxInitialFilesBytes,
    );
    const profile = await this.profiles.get(tenantId, input.agentProfileId);

    const now = new Date();
    const record: SessionRecord = {
      id: newId("ses", now.getTime()),
      tenantId,
      agentProfileId: profile.id,
      name: input.name,
      metadata: input.metadata,
      options: input.options,
      state: "idle",
      usage: emptyUsage(),
      lastSequence: 0,
      queuedMessages: [],
      createTime: now,
      updateTime: now,
      lastActivityTime: now,
      ...(input.requestId ? { requestId: input.requestId } : {}),
    };
    const stored = await this.store.createSessionRecord(record);
    if (stored.id === record.id) {
      // Initial files win over the profile's default files at the same path.
      const files = new Map<string, Uint8Array>();
      for (const f of [...profile.defaultFiles, ...initialFiles]) files.set(f.path, f.content);
      for (const [path, content] of files) {
        await this.store.saveWorkspaceFile(stored.id, {
          info: fileInfo(path, content, now),
          content,
        });
      }
    }
    return { record: stored, runtime: this.manager.runtimeOf(stored.id) };
  }

  /** The tenant's session record, or NotFound (also for another tenant's). */
  async load(tenantId: string, id: string): Promise<SessionRecord> {
    checkSessionId(id);
    const record = await this.store.loadSession(id);
    if (!record || record.tenantId !== tenantId) throw notFound("session", id);
    return record;
  }

  async get(tenantId: string, id: string): Promise<SessionView> {
    const record = await this.load(tenantId, id);
    return { record, runtime: this.manager.runtimeOf(id) };
  }

  async list(
    tenantId: string,
    query: { pageSize: number; pageToken: string; agentProfileId: string; state?: SessionState },
  ): Promise<{ sessions: SessionView[]; nextPageToken: string }> {
    const limit = pageSize("page_size", query.pageSize, LIMITS.defaultPageSize, LIMITS.maxPageSize);
    const cursor = decodePageToken("page_token", query.pageToken, "sessions", isCursor);
    if (query.agentProfileId !== "") checkProfileId(query.agentProfileId);
    const page = await this.store.listSessions({
      tenantId,
      limit,
      ...(query.agentProfileId ? { agentProfileId: query.agentProfileId } : {}),
      ...(query.state ? { state: query.state } : {}),
      ...(cursor ? { after: { lastActivityTime: new Date(cursor.t), id: cursor.id } } : {}),
    });
    const next = page.next as SessionCursor | undefined;
    return {
      sessions: page.items.map((record) => ({
        record,
        runtime: this.manager.runtimeOf(record.id),
      })),
      nextPageToken: next
        ? encodePageToken("sessions", { t: next.lastActivityTime.getTime(), id: next.id })
        : "",
    };
  }

  async update(
    tenantId: string,
    id: string,
    patch: SessionPatch,
    mask: string[],
  ): Promise<SessionView> {
    const current = await this.load(tenantId, id);
    const paths = mask.length === 0 ? ["name", "metadata", "options"] : mask;
    const updates: Partial<SessionRecord> = {};
    paths.forEach((path, i) => {
      switch (path) {
        case "name":
          checkLength("session.name", patch.name, LIMITS.maxNameLength);
          updates.name = patch.name;
          break;
        case "metadata":
          checkMetadata("session.metadata", patch.metadata);
          updates.metadata = patch.metadata;
          break;
        case "options":
        case "options.model":
          checkModel("session.options.model", patch.options.model);
          updates.options = { ...current.options, model: patch.options.model };
          break;
        default:
          throw invalidField(
            `update_mask.paths[${i}]`,
            `unknown or read-only field ${JSON.stringify(path)}; updatable: ${SESSION_UPDATE_FIELDS.join(", ")}`,
          );
      }
    });
    const now = new Date();
    updates.updateTime = now;
    updates.lastActivityTime = now;
    await this.manager.updateRecord(id, updates);
    return { record: { ...current, ...updates }, runtime: this.manager.runtimeOf(id) };
  }

  async delete(tenantId: string, id: string): Promise<void> {
    await this.load(tenantId, id);
    await this.manager.destroySession(id);
    await this.store.deleteSession(id);
  }

  // --- workspace ---

  async listFiles(
    tenantId: string,
    query: { sessionId: string; prefix: string; pageSize: number; pageToken: string },
  ): Promise<{ files: FileInfo[]; nextPageToken: string }> {
    await this.load(tenantId, query.sessionId);
    const limit = pageSize(
      "page_size",
      query.pageSize,
      LIMITS.defaultFilePageSize,
      LIMITS.maxFilePageSize,
    );
    const prefix = query.prefix === "" ? "" : `${normalizeWorkspacePath(query.prefix, "prefix")}/`;
    const after = decodePageToken("page_token", query.pageToken, "files", isPath);
    const all = await this.manager.listFiles(query.sessionId);
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
    await this.load(tenantId, sessionId);
    const normalized = normalizeWorkspacePath(path);
    const file = await this.manager.readFile(sessionId, normalized);
    if (!file) throw notFound("file", normalized);
    return file;
  }

  async writeFile(
    tenantId: string,
    sessionId: string,
    path: string,
    content: Uint8Array,
  ): Promise<FileInfo> {
    await this.load(tenantId, sessionId);
    const normalized = normalizeWorkspacePath(path);
    if (content.byteLength > LIMITS.maxFileBytes) {
      throw new AppError(
        "invalid_argument",
        "FILE_TOO_LARGE",
        `content: must be at most ${LIMITS.maxFileBytes} bytes`,
        "content",
        { limit: String(LIMITS.maxFileBytes) },
      );
    }
    return this.manager.writeFile(sessionId, normalized, content);
  }

  async deleteFile(tenantId: string, sessionId: string, path: string): Promise<void> {
    await this.load(tenantId, sessionId);
    const normalized = normalizeWorkspacePath(path);
    const deleted = await this.manager.deleteFile(sessionId, normalized);
    if (!deleted) throw notFound("file", normalized);
  }
}
