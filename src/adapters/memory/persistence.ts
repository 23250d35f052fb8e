import { isDeepStrictEqual } from "node:util";
import {
  type AgentProfile,
  addUsage,
  type Block,
  emptyUsage,
  type FileInfo,
  type SessionEvent,
  type SessionRecord,
  type ToolDecision,
  type Usage,
} from "../../domain/types.js";
import type {
  DecisionCursor,
  Page,
  PersistenceAdapter,
  ProfileQuery,
  SessionCursor,
  SessionFilter,
  SessionQuery,
  SessionUpdate,
  StoredFile,
  TranscriptChange,
  WorkspaceUsage,
} from "../../ports/persistence.js";
import { MemoryCoordination } from "./coordination.js";

/**
 * Persistence in process memory, for development and tests. Everything goes in and comes out as a
 * deep copy, so a caller can never change stored state by mutating an object it passed or got.
 * Every method runs to completion without awaiting, so each one is atomic.
 */
export class MemoryPersistence extends MemoryCoordination implements PersistenceAdapter {
  private readonly profiles = new Map<string, AgentProfile>();
  /**
   * sessionId -> transcript entries in order. Nothing here outlives the process, so there is no
   * earlier version's form (one string per session) to read.
   */
  private readonly transcripts = new Map<string, string[]>();
  /** Usage per `tenantId/month`. */
  private readonly tenantMonths = new Map<string, Usage>();
  /** sessionId -> path -> file */
  private readonly files = new Map<string, Map<string, StoredFile>>();
  /** sessionId -> events ascending by sequence */
  private readonly events = new Map<string, SessionEvent[]>();
  /** sessionId -> blockId -> block */
  private readonly blocks = new Map<string, Map<string, Block>>();
  /** sessionId -> toolUseId -> decision */
  private readonly decisions = new Map<string, Map<string, ToolDecision>>();

  // --- sessions ---

  async listAllSessions(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const s of this.sessions.values()) {
      if (filter.state !== undefined && s.state !== filter.state) continue;
      if (filter.fileEventsPending && !s.fileEventsPending) continue;
      out.push(copy(s));
    }
    return out;
  }

  async loadSession(sessionId: string): Promise<SessionRecord | null> {
    const s = this.sessions.get(sessionId);
    return s ? copy(s) : null;
  }

  async createSessionRecord(session: SessionRecord): Promise<SessionRecord> {
    return createOnce(this.sessions, session, "session");
  }

  async updateSessionRecord(
    sessionId: string,
    updates: SessionUpdate,
    fence?: number,
  ): Promise<void> {
    this.checkFence(sessionId, fence);
    const s = this.sessions.get(sessionId);
    if (!s) return;
    const target = s as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(updates)) {
      // id and tenantId are not updatable (callers may pass a whole Partial<SessionRecord>).
      if (key === "id" || key === "tenantId" || key === "lease") continue;
      if (value === undefined) delete target[key];
      else target[key] = copy(value);
    }
  }

  async listSessions(query: SessionQuery): Promise<Page<SessionRecord, SessionCursor>> {
    const { after } = query;
    const matching = [...this.sessions.values()]
      .filter(
        (s) =>
          s.tenantId === query.tenantId &&
          (query.agentProfileId === undefined || s.agentProfileId === query.agentProfileId) &&
          (query.state === undefined || s.state === query.state) &&
          (after === undefined || compareSessions(s, after) > 0),
      )
      .sort(compareSessions);
    const items = matching.slice(0, Math.max(0, query.limit));
    const last = items[items.length - 1];
    const page: Page<SessionRecord, SessionCursor> = { items: items.map(copy) };
    if (last && matching.length > items.length) {
      page.next = { lastActivityTime: new Date(last.lastActivityTime), id: last.id };
    }
    return page;
  }

  async deleteSession(sessionId: string): Promise<void> {
    this.sessions.delete(sessionId);
    this.transcripts.delete(sessionId);
    this.files.delete(sessionId);
    this.events.delete(sessionId);
    this.blocks.delete(sessionId);
    this.decisions.delete(sessionId);
    this.forget(sessionId);
  }

  // --- tenant usage ---

  async addTenantUsage(
    tenantId: string,
    month: string,
    _sessionId: string,
    usage: Usage,
  ): Promise<Usage> {
    const key = `${tenantId}/${month}`;
    const total = addUsage(this.tenantMonths.get(key) ?? emptyUsage(), usage);
    this.tenantMonths.set(key, total);
    return { ...total };
  }

  async tenantUsage(tenantId: string, month: string): Promise<Usage> {
    return { ...(this.tenantMonths.get(`${tenantId}/${month}`) ?? emptyUsage()) };
  }

  // --- transcript and workspace ---

  async saveTranscript(sessionId: string, change: TranscriptChange): Promise<void> {
    const stored = this.transcripts.get(sessionId) ?? [];
    const { from, entries } = change;
    if (!Number.isSafeInteger(from) || from < 0 || from > stored.length) {
      throw new Error(
        `cannot change the transcript of session ${sessionId} from entry ${from}: it has ${stored.length}`,
      );
    }
    const next = [...stored.slice(0, from), ...entries];
    if (next.length === 0) this.transcripts.delete(sessionId);
    else this.transcripts.set(sessionId, next);
  }

  async loadTranscript(sessionId: string): Promise<string[]> {
    return [...(this.transcripts.get(sessionId) ?? [])];
  }

  async saveWorkspaceFile(sessionId: string, file: StoredFile): Promise<void> {
    const files = entry(this.files, sessionId, () => new Map());
    const stored: StoredFile = { info: copy(file.info), content: new Uint8Array(file.content) };
    files.set(stored.info.path, stored);
  }

  async deleteSessionFile(sessionId: string, path: string): Promise<void> {
    this.files.get(sessionId)?.delete(path);
  }

  async listWorkspaceFiles(sessionId: string): Promise<FileInfo[]> {
    const files = this.files.get(sessionId);
    if (!files) return [];
    return [...files.values()]
      .map((f) => copy(f.info))
      .sort((a, b) => compareStrings(a.path, b.path));
  }

  async readWorkspaceFile(sessionId: string, path: string): Promise<StoredFile | null> {
    const f = this.files.get(sessionId)?.get(path);
    return f ? { info: copy(f.info), content: new Uint8Array(f.content) } : null;
  }

  async workspaceUsage(sessionId: string): Promise<WorkspaceUsage> {
    const usage: WorkspaceUsage = { files: 0, bytes: 0 };
    for (const f of this.files.get(sessionId)?.values() ?? []) {
      usage.files++;
      usage.bytes += f.info.size;
    }
    return usage;
  }

  // --- agent profiles ---

  async listAgentProfiles(query: ProfileQuery): Promise<Page<AgentProfile, string>> {
    const { afterId } = query;
    const matching = [...this.profiles.values()]
      .filter(
        (p) =>
          p.tenantId === query.tenantId &&
          (afterId === undefined || compareStrings(p.id, afterId) > 0),
      )
      .sort((a, b) => compareStrings(a.id, b.id));
    const items = matching.slice(0, Math.max(0, query.limit));
    const last = items[items.length - 1];
    const page: Page<AgentProfile, string> = { items: items.map(copy) };
    if (last && matching.length > items.length) page.next = last.id;
    return page;
  }

  async loadAgentProfile(agentProfileId: string): Promise<AgentProfile | null> {
    const p = this.profiles.get(agentProfileId);
    return p ? copy(p) : null;
  }

  async createAgentProfile(profile: AgentProfile): Promise<AgentProfile> {
    return createOnce(this.profiles, profile, "agent profile");
  }

  async updateAgentProfile(profile: AgentProfile): Promise<void> {
    if (!this.profiles.has(profile.id)) return;
    this.profiles.set(profile.id, copy(profile));
  }

  async deleteAgentProfile(agentProfileId: string): Promise<void> {
    this.profiles.delete(agentProfileId);
  }

  async profileInUse(agentProfileId: string): Promise<boolean> {
    for (const s of this.sessions.values()) if (s.agentProfileId === agentProfileId) return true;
    return false;
  }

  // --- events and blocks ---

  async appendEvents(sessionId: string, events: SessionEvent[], fence?: number): Promise<void> {
    if (events.length === 0) return;
    if (fence !== undefined) this.claimBatch(sessionId, events, fence);
    const log = entry(this.events, sessionId, () => []);
    const clashes: number[] = [];
    for (const e of events) {
      const i = findSequence(log, e.sequence);
      if (i >= 0) {
        // Stored before with the same content: a retried batch, already done.
        if (!same(log[i]!, e)) clashes.push(e.sequence);
        continue;
      }
      const stored = copy(e);
      const last = log[log.length - 1];
      if (!last || last.sequence < stored.sequence) log.push(stored);
      else log.splice(firstAfter(log, stored.sequence), 0, stored);
    }
    if (clashes.length > 0) {
      throw new Error(
        `session ${sessionId} already has other events with sequence ${clashes.join(", ")}`,
      );
    }
  }

  async readEvents(
    sessionId: string,
    afterSequence: number,
    limit: number,
  ): Promise<SessionEvent[]> {
    const log = this.events.get(sessionId);
    if (!log || limit <= 0) return [];
    const start = firstAfter(log, afterSequence);
    return log.slice(start, start + limit).map(copy);
  }

  async saveBlock(sessionId: string, block: Block): Promise<void> {
    entry(this.blocks, sessionId, () => new Map()).set(block.id, copy(block));
  }

  async listBlocks(sessionId: string, afterSequence: number, limit: number): Promise<Block[]> {
    const blocks = this.blocks.get(sessionId);
    if (!blocks || limit <= 0) return [];
    return [...blocks.values()]
      .filter((b) => b.sequence > afterSequence)
      .sort((a, b) => a.sequence - b.sequence || compareStrings(a.id, b.id))
      .slice(0, limit)
      .map(copy);
  }

  // --- decisions ---

  async appendToolDecision(sessionId: string, decision: ToolDecision): Promise<void> {
    const log = entry(this.decisions, sessionId, () => new Map());
    if (!log.has(decision.toolUseId)) log.set(decision.toolUseId, copy(decision));
  }

  async listToolDecisions(
    sessionId: string,
    after: DecisionCursor | undefined,
    limit: number,
  ): Promise<ToolDecision[]> {
    const log = this.decisions.get(sessionId);
    if (!log || limit <= 0) return [];
    const order = (a: DecisionCursor, b: DecisionCursor) =>
      a.decideTime.getTime() - b.decideTime.getTime() || compareStrings(a.toolUseId, b.toolUseId);
    return [...log.values()]
      .filter((d) => !after || order(d, after) > 0)
      .sort(order)
      .slice(0, limit)
      .map(copy);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}

/**
 * Stores a new record and returns a copy. A record created before with the same tenant and
 * request id is returned instead, and so is the same record again (a retried create); another
 * record with its id is a clash.
 */
function createOnce<R extends { id: string; tenantId: string; requestId?: string }>(
  records: Map<string, R>,
  record: R,
  kind: string,
): R {
  if (record.requestId !== undefined) {
    for (const r of records.values()) {
      if (r.tenantId === record.tenantId && r.requestId === record.requestId) return copy(r);
    }
  }
  const existing = records.get(record.id);
  if (existing) {
    if (same(existing, record)) return copy(existing);
    throw new Error(`${kind} ${record.id} already exists`);
  }
  const stored = copy(record);
  records.set(stored.id, stored);
  return copy(stored);
}

/** The value of `key`, first set to make() when there is none. */
function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/** Whether two records hold the same data (absent and undefined alike; bytes by value). */
function same(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(copy(a), copy(b));
}

/** A deep copy without keys whose value is undefined, so absent optional fields stay absent. */
function copy<T>(value: T): T {
  return structuredClone(dropUndefined(value));
}

function dropUndefined<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map(dropUndefined) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    // defineProperty: a key such as "__proto__" (free-form metadata) stays an own property.
    if (v !== undefined) {
      Object.defineProperty(out, k, {
        value: dropUndefined(v),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return out as T;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Newest activity first, then id descending; negative when `a` comes first. */
function compareSessions(a: SessionCursor, b: SessionCursor): number {
  return b.lastActivityTime.getTime() - a.lastActivityTime.getTime() || compareStrings(b.id, a.id);
}

/** Index of the first event with a sequence greater than `sequence`. */
function firstAfter(log: SessionEvent[], sequence: number): number {
  let lo = 0;
  let hi = log.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (log[mid]!.sequence <= sequence) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function findSequence(log: SessionEvent[], sequence: number): number {
  const i = firstAfter(log, sequence) - 1;
  return i >= 0 && log[i]!.sequence === sequence ? i : -1;
}
