import { createHash } from "node:crypto";
import { invalidField, notFound } from "../../domain/errors.js";
import { isId, newId } from "../../domain/ids.js";
import { LIMITS } from "../../domain/limits.js";
import {
  emptyUsage,
  type FileContent,
  type FileInfo,
  type SessionOptions,
  type SessionRecord,
  type SessionState,
} from "../../domain/types.js";
import type { PersistenceAdapter, SessionCursor, SessionUpdate } from "../../ports/persistence.js";
import { checkFiles, checkModel } from "../profiles/check-profile.js";
import { checkBudget } from "../profiles/check-waiting.js";
import type { Profiles } from "../profiles/profiles.js";
import { applyMask, type MaskFields } from "../shared/field-mask.js";
import {
  checkLength,
  checkMetadata,
  checkRequestId,
  decodePageToken,
  encodePageToken,
  pageSize,
} from "../shared/validate.js";
import type { SessionCommands } from "./commands.js";
import type { SessionRuntime } from "./loaded-session.js";
import type { SessionManager } from "./session-manager.js";

export interface CreateSessionInput {
  agentProfileId: string;
  name: string;
  metadata: Record<string, string>;
  initialFiles: FileContent[];
  options: SessionOptions;
  requestId: string;
}

/** What UpdateSession may change. */
export interface SessionPatch {
  name: string;
  metadata: Record<string, string>;
  options: SessionOptions;
}

/** Update mask paths of a session and where they live. */
export const SESSION_FIELDS: MaskFields = {
  name: ["name"],
  metadata: ["metadata"],
  options: ["options"],
  "options.model": ["options", "model"],
  "options.budget": ["options", "budget"],
};

/** A session as the API shows it: the stored record and what runs for it now. */
export interface SessionView {
  record: SessionRecord;
  runtime: SessionRuntime;
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

/** The session use cases: create, get, list, update, delete. Every call is scoped to a tenant. */
export class Sessions {
  constructor(
    private readonly store: PersistenceAdapter,
    private readonly profiles: Profiles,
    private readonly manager: SessionManager,
    private readonly commands: SessionCommands,
  ) {
    commands.register("update_session", async (session, { change }: { change: SessionUpdate }) => {
      await session.update(() => change);
      // A session waiting for a budget checks it again: a raised limit runs its messages.
      if (session.record.budgetWait) this.manager.kick(session);
    });
    commands.register("delete_session", async (session) => {
      await this.manager.destroySession(session.id);
      await this.store.deleteSession(session.id);
    });
  }

  async create(tenantId: string, input: CreateSessionInput): Promise<SessionView> {
    checkProfileId(input.agentProfileId);
    checkLength("name", input.name, LIMITS.maxNameLength);
    checkMetadata("metadata", input.metadata);
    checkModel("options.model", input.options.model);
    if (input.options.budget) checkBudget("options.budget", input.options.budget);
    checkRequestId("request_id", input.requestId);
    const initialFiles = checkFiles(
      "initial_files",
      input.initialFiles,
      LIMITS.maxInitialFilesBytes,
    );
    const profile = await this.profiles.get(tenantId, input.agentProfileId, "agent_profile_id");

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
    // Files first: a session that exists has all of its files (a retry with the same request
    // id writes them again, which is harmless).
    const files = new Map<string, Uint8Array>();
    for (const f of [...profile.defaultFiles, ...initialFiles]) files.set(f.path, f.content);
    const stored = await this.store.createSessionRecord(record);
    if (stored.id === record.id) {
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
  async load(tenantId: string, id: string, field = "session_id"): Promise<SessionRecord> {
    checkSessionId(id, field);
    const record = await this.store.loadSession(id);
    if (!record || record.tenantId !== tenantId) throw notFound("session", id, field);
    return record;
  }

  async get(tenantId: string, id: string): Promise<SessionView> {
    const record = await this.load(tenantId, id);
    // The record's lastSequence is restated at its own writes; the feed is exact: here, the
    // last sequence given out (a reader after it misses nothing); elsewhere, its head.
    const local = this.manager.getSession(id)?.feed.sequence;
    const head = local ?? (await this.store.feedHeads([id])).get(id) ?? 0;
    const view = this.view(record);
    const lastSequence = Math.max(view.record.lastSequence, head);
    return { ...view, record: { ...view.record, lastSequence } };
  }

  private view(record: SessionRecord): SessionView {
    const loaded = this.manager.getSession(record.id);
    return { record: loaded ? loaded.record : record, runtime: this.manager.runtimeOf(record.id) };
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
      sessions: page.items.map((record) => this.view(record)),
      nextPageToken: next
        ? encodePageToken("sessions", { t: next.lastActivityTime.getTime(), id: next.id })
        : "",
    };
  }

  /** Applies the masked fields of `patch` (AIP-134; the transport fills an absent mask). */
  async update(
    tenantId: string,
    id: string,
    patch: SessionPatch,
    mask: string[],
  ): Promise<SessionView> {
    const current = await this.load(tenantId, id, "session.id");
    const base: SessionPatch = {
      name: current.name,
      metadata: current.metadata,
      options: current.options,
    };
    const next = applyMask(base, patch, mask, SESSION_FIELDS);
    checkLength("session.name", next.name, LIMITS.maxNameLength);
    checkMetadata("session.metadata", next.metadata);
    checkModel("session.options.model", next.options.model);
    if (next.options.budget) checkBudget("session.options.budget", next.options.budget);
    if (mask.length === 0) return this.view(current);
    const now = new Date();
    const change = { ...next, updateTime: now, lastActivityTime: now };
    // Through the loaded session, on the replica that runs it: its record has one writer.
    await this.commands.run(id, "update_session", { change });
    return this.view({ ...current, ...change });
  }

  async delete(tenantId: string, id: string): Promise<void> {
    await this.load(tenantId, id);
    await this.commands.run(id, "delete_session", {});
  }
}
