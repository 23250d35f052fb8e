import type {
  AgentProfile,
  Block,
  FileInfo,
  SessionEvent,
  SessionRecord,
  SessionState,
  ToolDecision,
  Usage,
} from "../domain/types.js";
import type { CoordinationStore } from "./coordination.js";

/** One page of a list; `next` is absent on the last page. */
export interface Page<T, C> {
  items: T[];
  next?: C;
}

/** What listAllSessions selects: sessions in a state, or with file events still to write. */
export interface SessionFilter {
  state?: SessionState;
  fileEventsPending?: true;
}

/** Sessions list newest activity first; the cursor is the last item of the previous page. */
export interface SessionCursor {
  lastActivityTime: Date;
  id: string;
}

export interface SessionQuery {
  tenantId: string;
  agentProfileId?: string;
  state?: SessionState;
  limit: number;
  after?: SessionCursor;
}

/**
 * A partial session update: an absent key leaves the field as it is. The optional fields
 * (`currentTurn`, `sandbox`, `fileEventsPending`) may also be set to `undefined`, which removes
 * them (clearing the turn when it ends); with exactOptionalPropertyTypes a plain `Partial` cannot
 * express that.
 */
export type SessionUpdate = Partial<
  Omit<
    SessionRecord,
    | "id"
    | "tenantId"
    | "currentTurn"
    | "sandbox"
    | "fileEventsPending"
    | "parked"
    | "budgetWait"
    | "unloggedDecisions"
    | "toolDecisions"
    | "lease"
  >
> & {
  unloggedDecisions?: SessionRecord["unloggedDecisions"] | undefined;
  toolDecisions?: SessionRecord["toolDecisions"] | undefined;
  parked?: SessionRecord["parked"] | undefined;
  budgetWait?: SessionRecord["budgetWait"] | undefined;
  currentTurn?: SessionRecord["currentTurn"] | undefined;
  sandbox?: SessionRecord["sandbox"] | undefined;
  fileEventsPending?: true | undefined;
};

/** Profiles list oldest first (ids sort by creation time). */
export interface ProfileQuery {
  tenantId: string;
  limit: number;
  afterId?: string;
}

export interface StoredFile {
  info: FileInfo;
  content: Uint8Array;
}

/** How much a session's workspace holds in storage. */
export interface WorkspaceUsage {
  files: number;
  /** The sum of the stored files' recorded sizes (`FileInfo.size`). */
  bytes: number;
}

// The port is grouped by concern. Nine method names come from the original library's
// integration point and keep their names: listAllSessions, loadSession, createSessionRecord,
// updateSessionRecord, saveTranscript, saveWorkspaceFile, deleteSessionFile, listAgentProfiles,
// loadAgentProfile. Every method is keyed by id: tenancy is checked by the runtime against the
// `tenantId` stored on each record.
//
// Failures: when the store cannot be reached or is overloaded (after the adapter's own bounded
// retries), a method throws `AppError("unavailable", "STORE_UNAVAILABLE", ..., { retryable:
// "true" })`. Every write is idempotent, so the caller may retry any call that threw.

/** Session records. */
export interface SessionStore {
  /** Every session, for recovery at start (interrupted turns, re-attaching sandboxes). */
  listAllSessions(filter?: SessionFilter): Promise<SessionRecord[]>;
  loadSession(sessionId: string): Promise<SessionRecord | null>;
  /**
   * Stores a new session. When `session.requestId` is set and a session of the same tenant was
   * created with it before, stores nothing and returns that session instead. A session whose id
   * is taken is rejected, unless the stored record is the same (a retried create): then that
   * record is returned.
   */
  createSessionRecord(session: SessionRecord): Promise<SessionRecord>;
  /**
   * Applies a partial update (see SessionUpdate); a no-op for an unknown id. With `fence` (the
   * writer's lease token), refused with LEASE_LOST unless the session's lease still has it.
   */
  updateSessionRecord(sessionId: string, updates: SessionUpdate, fence?: number): Promise<void>;
  /** A tenant's sessions, newest activity first, filtered by profile and state. */
  listSessions(query: SessionQuery): Promise<Page<SessionRecord, SessionCursor>>;
  /** Removes the session and everything stored for it (files, blocks, events, transcript). */
  deleteSession(sessionId: string): Promise<void>;
}

/** Agent profiles. */
export interface ProfileStore {
  listAgentProfiles(query: ProfileQuery): Promise<Page<AgentProfile, string>>;
  loadAgentProfile(agentProfileId: string): Promise<AgentProfile | null>;
  /** Like createSessionRecord: idempotent by `(tenantId, requestId)`, and for the same record. */
  createAgentProfile(profile: AgentProfile): Promise<AgentProfile>;
  /** Replaces the stored profile with the same id; a no-op for an unknown id. */
  updateAgentProfile(profile: AgentProfile): Promise<void>;
  deleteAgentProfile(agentProfileId: string): Promise<void>;
  /** Whether any session uses the profile. */
  profileInUse(agentProfileId: string): Promise<boolean>;
}

/** A session's workspace files. */
export interface WorkspaceStore {
  /** Creates or replaces a workspace file. */
  saveWorkspaceFile(sessionId: string, file: StoredFile): Promise<void>;
  /** A no-op when the file does not exist. */
  deleteSessionFile(sessionId: string, path: string): Promise<void>;
  /** Every workspace file's metadata, sorted by path. */
  listWorkspaceFiles(sessionId: string): Promise<FileInfo[]>;
  readWorkspaceFile(sessionId: string, path: string): Promise<StoredFile | null>;
  /** The number and total size of the session's stored files (zero for an unknown session). */
  workspaceUsage(sessionId: string): Promise<WorkspaceUsage>;
}

/** A session's conversation: the event feed, its blocks and the model's transcript. */
export interface FeedStore {
  /**
   * Appends events; sequences are assigned by the runtime and unique per session. An event
   * whose sequence is already stored with the same content counts as stored (a retried batch).
   * One stored with other content is kept, and the call throws after storing the batch's other
   * events.
   *
   * With `fence` (the writer's lease token): the batch is first claimed in the feed's head
   * (CoordinationStore.claimFeed), refused with LEASE_LOST when a newer holder claimed the feed,
   * then inserted.
   */
  appendEvents(sessionId: string, events: SessionEvent[], fence?: number): Promise<void>;
  /** Events with sequence > afterSequence, ascending, at most `limit`. */
  readEvents(sessionId: string, afterSequence: number, limit: number): Promise<SessionEvent[]>;
  /** Creates or replaces a block by id. */
  saveBlock(sessionId: string, block: Block): Promise<void>;
  /** Blocks with sequence > afterSequence, ascending by sequence (then id), at most `limit`. */
  listBlocks(sessionId: string, afterSequence: number, limit: number): Promise<Block[]>;
  /**
   * The model's transcript: the conversation in the model provider's form, one entry per
   * message (its JSON text), in order; [] when none is stored.
   */
  loadTranscript(sessionId: string): Promise<string[]>;
  /**
   * Applies a change to the transcript (see TranscriptChange); an entry may be of any size.
   *
   * Idempotent: the same change applied again stores the same. Not atomic: while a save runs,
   * and after one failed, loadTranscript returns the transcript before the save or after it, or
   * a prefix of either that keeps at least the entries before `from`; never a mix of old and new
   * entries after `from`. A prefix may end mid-turn (a tool call with no result): the turn did
   * not complete, and settling it closes the conversation (closeConversation). Once the save
   * resolves, loadTranscript returns exactly the new transcript.
   *
   * Rejects a change whose `from` is past the end of the stored transcript.
   */
  saveTranscript(sessionId: string, change: TranscriptChange): Promise<void>;
}

/**
 * A change to a session's transcript: the entries at index `from` and after become `entries`
 * (at from, from + 1, ...), and none is kept after them. `from` = 0 replaces the whole
 * transcript; `entries` = [] cuts it to its first `from` entries.
 */
export interface TranscriptChange {
  /** At most the number of stored entries; the entries before it stay as they are. */
  from: number;
  entries: string[];
}

/** Where a page of a session's decision log starts: after this decision (in log order). */
export interface DecisionCursor {
  decideTime: Date;
  toolUseId: string;
}

/** The log of answers to waiting tool calls, per session (ListToolDecisions). */
export interface DecisionStore {
  /**
   * Stores an answer in the session's log, kept whole. Idempotent by (sessionId, toolUseId): a
   * call is answered once, so a decision already stored for the call is kept as it is (a retried
   * append after a lost acknowledgement stores nothing new).
   */
  appendToolDecision(sessionId: string, decision: ToolDecision): Promise<void>;
  /**
   * The session's decisions ordered by decideTime, then toolUseId; those after `after` when
   * given, at most `limit`. Removed with the session (deleteSession).
   */
  listToolDecisions(
    sessionId: string,
    after: DecisionCursor | undefined,
    limit: number,
  ): Promise<ToolDecision[]>;
}

/** Usage counted per tenant and calendar month (UTC), for the tenant budget. */
export interface UsageStore {
  /**
   * Adds a session's `usage` to its tenant's month (`YYYY-MM`) and returns the tenant's month
   * total. Counted per session and month, so sessions never write the same record; one
   * session's calls must not overlap (the caller orders them), as a store may apply an
   * increment as read-modify-write (FerretDB v1 does). A retry after a lost acknowledgement may
   * count a step twice (over, never under). Deleting a session keeps what it spent.
   */
  addTenantUsage(tenantId: string, month: string, sessionId: string, usage: Usage): Promise<Usage>;
  /** The tenant's usage in the month; all zero when nothing was counted. */
  tenantUsage(tenantId: string, month: string): Promise<Usage>;
}

/** Health and lifecycle. */
export interface StoreHealth {
  /**
   * Resolves when the store answers within a short timeout; otherwise throws STORE_UNAVAILABLE.
   * For health checks.
   */
  ping?(): Promise<void>;
  /** Releases connections. */
  close?(): Promise<void>;
}

/**
 * The storage the runtime writes through.
 *
 * Implementations: `MemoryPersistence` (development, tests) and `MongoPersistence` (production).
 * Both pass the same behaviour suite in test/persistence.suite.ts.
 */
export interface PersistenceAdapter
  extends SessionStore,
    CoordinationStore,
    ProfileStore,
    WorkspaceStore,
    FeedStore,
    UsageStore,
    DecisionStore,
    StoreHealth {}
