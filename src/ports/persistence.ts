import type {
  AgentProfile,
  Block,
  FileInfo,
  SessionEvent,
  SessionRecord,
  SessionState,
} from "../domain/types.js";

/** One page of a list; `next` is absent on the last page. */
export interface Page<T, C> {
  items: T[];
  next?: C;
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
 * (`currentTurn`, `sandbox`) may also be set to `undefined`, which removes them (clearing the turn
 * when it ends); with exactOptionalPropertyTypes a plain `Partial` cannot express that.
 */
export type SessionUpdate = Partial<
  Omit<SessionRecord, "id" | "tenantId" | "currentTurn" | "sandbox">
> & {
  currentTurn?: SessionRecord["currentTurn"] | undefined;
  sandbox?: SessionRecord["sandbox"] | undefined;
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

/**
 * The storage the runtime writes through. The first nine methods are the original library's
 * integration point; the rest are what the v1 API needs on top. Every method is keyed by id:
 * tenancy is checked by the runtime against the `tenantId` stored on each record.
 *
 * Implementations: `MemoryPersistence` (development, tests) and `MongoPersistence` (production).
 * Both pass the same behaviour suite in test/persistence.suite.ts.
 */
export interface PersistenceAdapter {
  // --- sessions ---
  /** Every session, for recovery at start (interrupted turns, re-attaching sandboxes). */
  listAllSessions(filter?: { state?: SessionState }): Promise<SessionRecord[]>;
  loadSession(sessionId: string): Promise<SessionRecord | null>;
  /**
   * Stores a new session. When `session.requestId` is set and a session of the same tenant was
   * created with it before, stores nothing and returns that session instead.
   */
  createSessionRecord(session: SessionRecord): Promise<SessionRecord>;
  /** Applies a partial update (see SessionUpdate); a no-op for an unknown id. */
  updateSessionRecord(sessionId: string, updates: SessionUpdate): Promise<void>;

  // --- storage ---
  /** The model provider's own form of the conversation (JSON text), replaced on every save. */
  saveTranscript(sessionId: string, rawTranscript: string): Promise<void>;
  /** Creates or replaces a workspace file. */
  saveWorkspaceFile(sessionId: string, file: StoredFile): Promise<void>;
  /** A no-op when the file does not exist. */
  deleteSessionFile(sessionId: string, path: string): Promise<void>;

  // --- agent profiles ---
  listAgentProfiles(query: ProfileQuery): Promise<Page<AgentProfile, string>>;
  loadAgentProfile(agentProfileId: string): Promise<AgentProfile | null>;

  // --- added by the v1 API ---
  listSessions(query: SessionQuery): Promise<Page<SessionRecord, SessionCursor>>;
  /** Removes the session and everything stored for it (files, blocks, events, transcript). */
  deleteSession(sessionId: string): Promise<void>;
  loadTranscript(sessionId: string): Promise<string | null>;
  /** Every workspace file's metadata, sorted by path. */
  listWorkspaceFiles(sessionId: string): Promise<FileInfo[]>;
  readWorkspaceFile(sessionId: string, path: string): Promise<StoredFile | null>;
  /** Like createSessionRecord: idempotent by `(tenantId, requestId)`. */
  createAgentProfile(profile: AgentProfile): Promise<AgentProfile>;
  /** Replaces the stored profile with the same id. */
  updateAgentProfile(profile: AgentProfile): Promise<void>;
  deleteAgentProfile(agentProfileId: string): Promise<void>;
  /** Whether any session uses the profile. */
  profileInUse(agentProfileId: string): Promise<boolean>;

  // --- event feed and conversation ---
  /** Appends events; sequences are assigned by the runtime and unique per session. */
  appendEvents(sessionId: string, events: SessionEvent[]): Promise<void>;
  /** Events with sequence > afterSequence, ascending, at most `limit`. */
  readEvents(sessionId: string, afterSequence: number, limit: number): Promise<SessionEvent[]>;
  /** Creates or replaces a block by id. */
  saveBlock(sessionId: string, block: Block): Promise<void>;
  /** Blocks with sequence > afterSequence, ascending by sequence, at most `limit`. */
  listBlocks(sessionId: string, afterSequence: number, limit: number): Promise<Block[]>;

  /** Releases connections. */
  close?(): Promise<void>;
}
