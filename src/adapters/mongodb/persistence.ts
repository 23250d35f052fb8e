import { type Db, MongoClient } from "mongodb";
import { AppError } from "../../domain/errors.js";
import type {
  AgentProfile,
  Block,
  FileInfo,
  Lease,
  SessionEvent,
  SessionRecord,
  ToolDecision,
  Usage,
} from "../../domain/types.js";
import type { SessionCommand, StoreChange } from "../../ports/coordination.js";
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
import { toBson } from "./bson.js";
import {
  dbNameFromUri,
  type MongoConnectOptions,
  type MongoPersistenceOptions,
  mongoClientOptions,
  resilienceSettings,
} from "./client.js";
import { type Collections, collectionsOf, ensureIndexes, type Run } from "./collections.js";
import { MongoCoordination } from "./coordination.js";
import { MongoDecisions } from "./decisions.js";
import type { EventDoc } from "./documents.js";
import { MongoFeed } from "./feed.js";
import { MongoProfiles } from "./profiles.js";
import {
  type ResilienceSettings,
  runOperation,
  STORE_UNAVAILABLE,
  storeUnavailable,
} from "./resilience.js";
import { MongoSessions } from "./sessions.js";
import { MongoTenantUsage } from "./tenant-usage.js";
import { MongoTranscripts } from "./transcripts.js";
import { MongoWorkspace } from "./workspace.js";

export { type MongoConnectOptions, type MongoPersistenceOptions, mongoClientOptions };

// Persistence in MongoDB, written for what MongoDB and FerretDB v1 (over SQLite or PostgreSQL)
// both do: every write is one single-document atomic operation; no transactions, change
// streams, TTL indexes, $lookup or partial indexes.
//
// Faults: every method is one operation with a deadline (operationTimeoutMs), in which transient
// errors (network, server selection, failover and write-conflict codes, retryable labels, a busy
// SQLite or PostgreSQL behind FerretDB) are retried with backoff; see resilience.ts. Every write
// is idempotent, so an attempt whose acknowledgement was lost can be sent again:
// - creates insert; a duplicate key then finds the record by request key, or by id when the
//   stored record is the one being created, and returns it (writes.ts);
// - appendEvents inserts unordered; events whose sequence is already stored with the same
//   content count as stored;
// - updates are $set/$unset or replacements of whole documents, saves are upserts, deletes are
//   deletes; a transcript save upserts its entries, then removes the old tail (transcripts.ts).
//
// Layout: the adapter hands each method to the part that stores its records: sessions.ts,
// profiles.ts, workspace.ts (files), transcripts.ts, feed.ts (events and blocks). Storage forms
// are in documents.ts and bson.ts, the indexes in indexes.ts (with the queries each serves),
// the settings and driver options in client.ts.

export class MongoPersistence implements PersistenceAdapter {
  private readonly db: Db;
  private readonly collections: Collections;
  private readonly settings: ResilienceSettings;
  private readonly sessionStore: MongoSessions;
  private readonly profileStore: MongoProfiles;
  private readonly workspaceStore: MongoWorkspace;
  private readonly transcriptStore: MongoTranscripts;
  private readonly feedStore: MongoFeed;
  private readonly usageStore: MongoTenantUsage;
  private readonly decisionStore: MongoDecisions;
  private readonly coordination: MongoCoordination;
  private readonly run: Run;
  /** Set by connect(): the client this adapter owns and closes. */
  private client: MongoClient | undefined;

  /**
   * Uses `db` as is; call ensureIndexes() once before relying on idempotent creates. Give the
   * client of `db` bounded timeouts (mongoClientOptions()), or let connect() make it.
   */
  constructor(db: Db, options: MongoPersistenceOptions = {}) {
    this.db = db;
    this.collections = collectionsOf(db, options.collectionPrefix ?? "ar_");
    this.settings = resilienceSettings(options);
    const run = <T>(operation: string, attempt: () => Promise<T>) =>
      runOperation(this.settings, operation, attempt);
    this.run = run;
    this.coordination = new MongoCoordination(this.collections, run);
    this.sessionStore = new MongoSessions(this.collections, run);
    this.profileStore = new MongoProfiles(this.collections, run);
    this.workspaceStore = new MongoWorkspace(this.collections, run);
    this.transcriptStore = new MongoTranscripts(this.collections, run);
    this.feedStore = new MongoFeed(this.collections, run);
    this.usageStore = new MongoTenantUsage(this.collections, run);
    this.decisionStore = new MongoDecisions(this.collections, run);
  }

  /**
   * Connects to `uri`, ensures the indexes and returns an adapter that owns the client: close()
   * closes it. `dbName` defaults to the database named in the URI (else "agent_runtime"). A
   * store that cannot be reached fails with STORE_UNAVAILABLE after the operation timeout.
   */
  static async connect(
    uri: string,
    dbName?: string,
    options: MongoConnectOptions = {},
  ): Promise<MongoPersistence> {
    const name = dbName || dbNameFromUri(uri) || "agent_runtime";
    const { client: _, maxPoolSize: __, connectTimeoutMs: ___, ...adapterOptions } = options;
    const client = new MongoClient(uri, mongoClientOptions(options));
    const adapter = new MongoPersistence(client.db(name), adapterOptions);
    adapter.client = client;
    // Index builds through a client of their own whose sockets have no idle timeout: a build
    // on a large collection answers only when done.
    const indexClient = new MongoClient(uri, {
      ...mongoClientOptions(options),
      maxPoolSize: 1,
      socketTimeoutMS: 0,
    });
    try {
      // A store that answers: a ping reaches the storage behind FerretDB too, so a wedged one
      // fails here in the operation timeout, not in the index budget.
      await runOperation(adapter.settings, "connect", async () => {
        await client.connect();
        await adapter.db.command({ ping: 1 });
      });
      await new MongoPersistence(indexClient.db(name), adapterOptions).ensureIndexes();
      return adapter;
    } catch (err) {
      await adapter.close().catch(() => undefined);
      throw err;
    } finally {
      await indexClient.close().catch(() => undefined);
    }
  }

  /** The database, for stores that share it (MongoSecrets). */
  get database(): Db {
    return this.db;
  }

  /** Creates the indexes in indexes.ts and drops retired ones; safe to call again. */
  ensureIndexes(): Promise<void> {
    return ensureIndexes(this.collections, this.settings);
  }

  // --- sessions (sessions.ts) ---

  listAllSessions(filter?: SessionFilter): Promise<SessionRecord[]> {
    return this.sessionStore.listAllSessions(filter);
  }

  loadSession(sessionId: string): Promise<SessionRecord | null> {
    return this.sessionStore.loadSession(sessionId);
  }

  createSessionRecord(session: SessionRecord): Promise<SessionRecord> {
    return this.sessionStore.createSessionRecord(session);
  }

  updateSessionRecord(sessionId: string, updates: SessionUpdate, fence?: number): Promise<void> {
    return this.sessionStore.updateSessionRecord(sessionId, updates, fence);
  }

  listSessions(query: SessionQuery): Promise<Page<SessionRecord, SessionCursor>> {
    return this.sessionStore.listSessions(query);
  }

  async deleteSession(sessionId: string): Promise<void> {
    this.transcriptStore.forget(sessionId);
    await this.run("deleteSession", () => this.coordination.forget(sessionId));
    await this.sessionStore.deleteSession(sessionId);
    this.transcriptStore.forget(sessionId);
  }

  // --- transcript (transcripts.ts) ---

  addTenantUsage(tenantId: string, month: string, sessionId: string, usage: Usage) {
    return this.usageStore.addTenantUsage(tenantId, month, sessionId, usage);
  }

  tenantUsage(tenantId: string, month: string): Promise<Usage> {
    return this.usageStore.tenantUsage(tenantId, month);
  }

  // --- the decision log (decisions.ts) ---

  appendToolDecision(sessionId: string, decision: ToolDecision): Promise<void> {
    return this.decisionStore.appendToolDecision(sessionId, decision);
  }

  listToolDecisions(sessionId: string, after: DecisionCursor | undefined, limit: number) {
    return this.decisionStore.listToolDecisions(sessionId, after, limit);
  }

  saveTranscript(sessionId: string, change: TranscriptChange): Promise<void> {
    return this.transcriptStore.saveTranscript(sessionId, change);
  }

  loadTranscript(sessionId: string): Promise<string[]> {
    return this.transcriptStore.loadTranscript(sessionId);
  }

  // --- workspace (workspace.ts) ---

  saveWorkspaceFile(sessionId: string, file: StoredFile): Promise<void> {
    return this.workspaceStore.saveWorkspaceFile(sessionId, file);
  }

  deleteSessionFile(sessionId: string, path: string): Promise<void> {
    return this.workspaceStore.deleteSessionFile(sessionId, path);
  }

  listWorkspaceFiles(sessionId: string): Promise<FileInfo[]> {
    return this.workspaceStore.listWorkspaceFiles(sessionId);
  }

  readWorkspaceFile(sessionId: string, path: string): Promise<StoredFile | null> {
    return this.workspaceStore.readWorkspaceFile(sessionId, path);
  }

  workspaceUsage(sessionId: string): Promise<WorkspaceUsage> {
    return this.workspaceStore.workspaceUsage(sessionId);
  }

  // --- agent profiles (profiles.ts) ---

  listAgentProfiles(query: ProfileQuery): Promise<Page<AgentProfile, string>> {
    return this.profileStore.listAgentProfiles(query);
  }

  loadAgentProfile(agentProfileId: string): Promise<AgentProfile | null> {
    return this.profileStore.loadAgentProfile(agentProfileId);
  }

  createAgentProfile(profile: AgentProfile): Promise<AgentProfile> {
    return this.profileStore.createAgentProfile(profile);
  }

  updateAgentProfile(profile: AgentProfile): Promise<void> {
    return this.profileStore.updateAgentProfile(profile);
  }

  deleteAgentProfile(agentProfileId: string): Promise<void> {
    return this.profileStore.deleteAgentProfile(agentProfileId);
  }

  profileInUse(agentProfileId: string): Promise<boolean> {
    return this.profileStore.profileInUse(agentProfileId);
  }

  // --- events and blocks (feed.ts) ---

  async appendEvents(sessionId: string, events: SessionEvent[], fence?: number): Promise<void> {
    if (fence === undefined) return this.feedStore.appendEvents(sessionId, events);
    if (events.length === 0) return;
    const docs = events.map((e) => toBson<EventDoc>({ ...e, sessionId }));
    await this.coordination.claimBatches(sessionId, docs, fence, (part) =>
      this.feedStore.insertEvents(sessionId, part),
    );
  }

  readEvents(sessionId: string, afterSequence: number, limit: number): Promise<SessionEvent[]> {
    return this.feedStore.readEvents(sessionId, afterSequence, limit);
  }

  saveBlock(sessionId: string, block: Block): Promise<void> {
    return this.feedStore.saveBlock(sessionId, block);
  }

  listBlocks(sessionId: string, afterSequence: number, limit: number): Promise<Block[]> {
    return this.feedStore.listBlocks(sessionId, afterSequence, limit);
  }

  // --- coordination (coordination.ts) ---

  acquireLease(sessionId: string, owner: string, now: Date, expiresAt: Date) {
    return this.coordination.acquireLease(sessionId, owner, now, expiresAt);
  }

  renewLeases(leases: { sessionId: string; lease: Lease }[], expiresAt: Date) {
    return this.coordination.renewLeases(leases, expiresAt);
  }

  releaseLease(sessionId: string, lease: Lease): Promise<void> {
    return this.coordination.releaseLease(sessionId, lease);
  }

  claimFeed(sessionId: string, fence: number): Promise<SessionEvent[]> {
    return this.coordination.claimFeed(sessionId, fence);
  }

  feedHeads(sessionIds: string[]): Promise<Map<string, number>> {
    return this.coordination.feedHeads(sessionIds);
  }

  enqueueCommand(command: SessionCommand): Promise<void> {
    return this.coordination.enqueueCommand(command);
  }

  pendingCommands(owner: string, limit: number): Promise<SessionCommand[]> {
    return this.coordination.pendingCommands(owner, limit);
  }

  takeCommand(commandId: string, by: string): Promise<boolean> {
    return this.coordination.takeCommand(commandId, by);
  }

  finishCommand(commandId: string, outcome: string): Promise<void> {
    return this.coordination.finishCommand(commandId, outcome);
  }

  loadCommand(commandId: string): Promise<SessionCommand | null> {
    return this.coordination.loadCommand(commandId);
  }

  deleteCommand(commandId: string): Promise<void> {
    return this.coordination.deleteCommand(commandId);
  }

  watchChanges(changed: (change: StoreChange) => void): Promise<(() => void) | undefined> {
    return this.coordination.watchChanges(changed);
  }

  // --- health ---

  /** Throws STORE_UNAVAILABLE unless the server answers a ping within pingTimeoutMs. */
  async ping(): Promise<void> {
    try {
      await runOperation(
        this.settings,
        "ping",
        () => this.db.command({ ping: 1 }),
        this.settings.pingTimeoutMs,
      );
    } catch (err) {
      if (err instanceof AppError && err.reason === STORE_UNAVAILABLE) throw err;
      throw storeUnavailable("ping", "no valid answer", err);
    }
  }

  /** Closes the client when this adapter owns it (made by connect()). */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }
}
