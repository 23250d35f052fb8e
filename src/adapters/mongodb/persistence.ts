import { isDeepStrictEqual } from "node:util";
import {
  Binary,
  type Collection,
  type Db,
  type Document,
  type Filter,
  MongoBulkWriteError,
  MongoClient,
  type MongoClientOptions,
  MongoServerError,
} from "mongodb";
import { AppError } from "../../domain/errors.js";
import type {
  AgentProfile,
  Block,
  FileInfo,
  SandboxSettings,
  SessionEvent,
  SessionRecord,
  SessionState,
} from "../../domain/types.js";
import type {
  Page,
  PersistenceAdapter,
  ProfileQuery,
  SessionCursor,
  SessionFilter,
  SessionQuery,
  SessionUpdate,
  StoredFile,
  WorkspaceUsage,
} from "../../ports/persistence.js";
import { type CollectionName, INDEXES, RETIRED_INDEXES } from "./indexes.js";
import {
  MONGO_DEFAULTS,
  type ResilienceSettings,
  type RetryEvent,
  runOperation,
  STORE_UNAVAILABLE,
  storeUnavailable,
} from "./resilience.js";

// Persistence in MongoDB, written for what MongoDB and FerretDB v1 (over SQLite or PostgreSQL)
// both do: every write is one single-document atomic operation; no transactions, change
// streams, TTL indexes, $lookup or partial indexes.
//
// Faults: every method is one operation with a deadline (operationTimeoutMs), in which transient
// errors (network, server selection, failover and write-conflict codes, retryable labels, a busy
// SQLite or PostgreSQL behind FerretDB) are retried with backoff; see resilience.ts. Every write
// is idempotent, so an attempt whose acknowledgement was lost can be sent again:
// - creates insert; a duplicate key then finds the record by request key, or by id when the
//   stored record is the one being created, and returns it;
// - appendEvents inserts unordered; events whose sequence is already stored with the same
//   content count as stored;
// - updates are $set/$unset or replacements of whole documents, saves are upserts, deletes are
//   deletes.
//
// Storage forms:
// - Records keep the domain field names; the id is `_id`. Dates are BSON dates, byte arrays BSON
//   binary (read back as plain Uint8Array). Optional fields that are absent are not stored.
// - Free-form string maps (session metadata, sandbox env and provider options) are stored as
//   arrays of {k, v}: their keys may contain "." or start with "$", which field names may not.
// - Idempotent creates: a record created with a request id also stores
//   `requestKey = JSON.stringify([tenantId, requestId])` under a unique sparse index.
// - Indexes: indexes.ts lists them with the queries each serves.

/** A free-form map as stored. */
interface Pair {
  k: string;
  v: string;
}

type SessionDoc = Omit<SessionRecord, "id" | "metadata"> & {
  _id: string;
  metadata: Pair[];
  requestKey?: string;
};

type SandboxDoc = Omit<SandboxSettings, "env" | "providerOptions"> & {
  env: Pair[];
  providerOptions: Pair[];
};

type ProfileDoc = Omit<AgentProfile, "id" | "sandbox"> & {
  _id: string;
  sandbox: SandboxDoc;
  requestKey?: string;
};

interface FileDoc {
  sessionId: string;
  path: string;
  size: number;
  sha256: string;
  modifyTime: Date;
  content: Uint8Array;
}

type EventDoc = SessionEvent;

type BlockDoc = Block & { sessionId: string };

interface TranscriptDoc {
  _id: string;
  transcript: string;
  updateTime: Date;
}

export interface MongoPersistenceOptions {
  /** Prefix of every collection name; default "ar_". */
  collectionPrefix?: string;
  /** Budget of one call, retries included; default MONGO_DEFAULTS.operationTimeoutMs. */
  operationTimeoutMs?: number;
  /** Budget of ping(); default MONGO_DEFAULTS.pingTimeoutMs. */
  pingTimeoutMs?: number;
  /** Budget of ensureIndexes(); default MONGO_DEFAULTS.indexTimeoutMs. */
  indexTimeoutMs?: number;
  /** Attempts of a call that fails with transient errors; default MONGO_DEFAULTS.retryAttempts. */
  retryAttempts?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Called before each retry, e.g. to log it. */
  onRetry?: (event: RetryEvent) => void;
}

export interface MongoConnectOptions extends MongoPersistenceOptions {
  /** Connections of the driver's pool; default MONGO_DEFAULTS.maxPoolSize (see there). */
  maxPoolSize?: number;
  /** TCP connect and handshake timeout; default MONGO_DEFAULTS.connectTimeoutMs. */
  connectTimeoutMs?: number;
  /** Further driver options; they win over the ones derived from the settings above. */
  client?: MongoClientOptions;
}

const DUPLICATE_KEY = 11000;
const INDEX_NOT_FOUND = 27;
const NAMESPACE_NOT_FOUND = 26;

/**
 * The driver options that bound every wait: server selection and the pool's wait queue end with
 * the operation's budget, a connection attempt sooner, and a socket that stays silent for twice
 * the budget is closed, which frees the connection of an attempt the adapter gave up on.
 */
export function mongoClientOptions(options: MongoConnectOptions = {}): MongoClientOptions {
  const timeout = options.operationTimeoutMs ?? MONGO_DEFAULTS.operationTimeoutMs;
  return {
    ignoreUndefined: true,
    maxPoolSize: options.maxPoolSize ?? MONGO_DEFAULTS.maxPoolSize,
    serverSelectionTimeoutMS: timeout,
    waitQueueTimeoutMS: timeout,
    connectTimeoutMS: Math.min(
      options.connectTimeoutMs ?? MONGO_DEFAULTS.connectTimeoutMs,
      timeout,
    ),
    socketTimeoutMS: 2 * timeout,
    ...options.client,
  };
}

export class MongoPersistence implements PersistenceAdapter {
  private readonly db: Db;
  private readonly sessions: Collection<SessionDoc>;
  private readonly profiles: Collection<ProfileDoc>;
  private readonly files: Collection<FileDoc>;
  private readonly events: Collection<EventDoc>;
  private readonly blocks: Collection<BlockDoc>;
  private readonly transcripts: Collection<TranscriptDoc>;
  private readonly settings: ResilienceSettings;
  /** Set by connect(): the client this adapter owns and closes. */
  private client: MongoClient | undefined;

  /**
   * Uses `db` as is; call ensureIndexes() once before relying on idempotent creates. Give the
   * client of `db` bounded timeouts (mongoClientOptions()), or let connect() make it.
   */
  constructor(db: Db, options: MongoPersistenceOptions = {}) {
    const prefix = options.collectionPrefix ?? "ar_";
    this.db = db;
    this.sessions = db.collection(`${prefix}sessions`);
    this.profiles = db.collection(`${prefix}profiles`);
    this.files = db.collection(`${prefix}files`);
    this.events = db.collection(`${prefix}events`);
    this.blocks = db.collection(`${prefix}blocks`);
    this.transcripts = db.collection(`${prefix}transcripts`);
    this.settings = {
      operationTimeoutMs: options.operationTimeoutMs ?? MONGO_DEFAULTS.operationTimeoutMs,
      pingTimeoutMs: options.pingTimeoutMs ?? MONGO_DEFAULTS.pingTimeoutMs,
      indexTimeoutMs: options.indexTimeoutMs ?? MONGO_DEFAULTS.indexTimeoutMs,
      retryAttempts: Math.max(1, options.retryAttempts ?? MONGO_DEFAULTS.retryAttempts),
      retryBaseDelayMs: options.retryBaseDelayMs ?? MONGO_DEFAULTS.retryBaseDelayMs,
      retryMaxDelayMs: options.retryMaxDelayMs ?? MONGO_DEFAULTS.retryMaxDelayMs,
      onRetry: options.onRetry,
    };
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
      await adapter.run("connect", async () => {
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

  /** One operation: a deadline, bounded retries of transient errors, STORE_UNAVAILABLE. */
  private run<T>(operation: string, attempt: () => Promise<T>): Promise<T> {
    return runOperation(this.settings, operation, attempt);
  }

  private collection(name: CollectionName): Collection<Document> {
    const byName: Record<CollectionName, Collection<Document>> = {
      sessions: this.sessions as unknown as Collection<Document>,
      profiles: this.profiles as unknown as Collection<Document>,
      files: this.files as unknown as Collection<Document>,
      events: this.events as unknown as Collection<Document>,
      blocks: this.blocks as unknown as Collection<Document>,
      transcripts: this.transcripts as unknown as Collection<Document>,
    };
    return byName[name];
  }

  /**
   * Creates the indexes in indexes.ts and drops retired ones; safe to call again. One index per
   * command: FerretDB v1.24 drops the connection when one createIndexes command names several
   * existing indexes.
   */
  async ensureIndexes(): Promise<void> {
    await runOperation(
      this.settings,
      "ensureIndexes",
      async () => {
        await Promise.all(
          Object.entries(INDEXES).map(async ([name, indexes]) => {
            const collection = this.collection(name as CollectionName);
            for (const { serves: _, ...index } of indexes) await collection.createIndexes([index]);
          }),
        );
        for (const [name, index] of RETIRED_INDEXES) {
          await this.collection(name)
            .dropIndex(index)
            .catch((err: unknown) => {
              const gone =
                err instanceof MongoServerError &&
                (err.code === INDEX_NOT_FOUND || err.code === NAMESPACE_NOT_FOUND);
              if (!gone) throw err;
            });
        }
      },
      this.settings.indexTimeoutMs,
    );
  }

  // --- sessions ---

  async listAllSessions(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    const query: Filter<SessionDoc> = {};
    if (filter.state !== undefined) query.state = filter.state;
    if (filter.fileEventsPending) query.fileEventsPending = true;
    const docs = await this.run("listAllSessions", () => this.sessions.find(query).toArray());
    return docs.map(sessionFromDoc);
  }

  async loadSession(sessionId: string): Promise<SessionRecord | null> {
    const doc = await this.run("loadSession", () => this.sessions.findOne({ _id: sessionId }));
    return doc ? sessionFromDoc(doc) : null;
  }

  async createSessionRecord(session: SessionRecord): Promise<SessionRecord> {
    const doc = sessionToDoc(session);
    const stored = await this.run("createSessionRecord", () =>
      insertIdempotent(this.sessions, doc, sessionFromDoc),
    );
    return sessionFromDoc(stored);
  }

  async updateSessionRecord(sessionId: string, updates: SessionUpdate): Promise<void> {
    const set: Record<string, unknown> = {};
    const unset: Record<string, ""> = {};
    for (const [key, value] of Object.entries(updates)) {
      // id and tenantId are not updatable (callers may pass a whole Partial<SessionRecord>).
      if (key === "id" || key === "tenantId" || key === "_id") continue;
      if (value === undefined) unset[key] = "";
      else if (key === "metadata") set[key] = toPairs(value as Record<string, string>);
      else set[key] = toBson(value);
    }
    const update: { $set?: Record<string, unknown>; $unset?: Record<string, ""> } = {};
    if (Object.keys(set).length > 0) update.$set = set;
    if (Object.keys(unset).length > 0) update.$unset = unset;
    if (update.$set === undefined && update.$unset === undefined) return;
    // Setting the same values again is harmless: a retry after a lost acknowledgement is safe.
    await this.run("updateSessionRecord", () =>
      this.sessions.updateOne({ _id: sessionId }, update),
    );
  }

  async listSessions(query: SessionQuery): Promise<Page<SessionRecord, SessionCursor>> {
    if (query.limit <= 0) return { items: [] };
    const filter: Filter<SessionDoc> = { tenantId: query.tenantId };
    if (query.agentProfileId !== undefined) filter.agentProfileId = query.agentProfileId;
    if (query.state !== undefined) filter.state = query.state;
    if (query.after !== undefined) {
      const { lastActivityTime, id } = query.after;
      filter.$or = [
        { lastActivityTime: { $lt: lastActivityTime } },
        { lastActivityTime, _id: { $lt: id } },
      ];
    }
    const docs = await this.run("listSessions", () =>
      this.sessions
        .find(filter)
        .sort({ lastActivityTime: -1, _id: -1 })
        .limit(query.limit + 1)
        .toArray(),
    );
    const items = docs.slice(0, query.limit).map(sessionFromDoc);
    const last = items[items.length - 1];
    const page: Page<SessionRecord, SessionCursor> = { items };
    if (last && docs.length > items.length) {
      page.next = { lastActivityTime: last.lastActivityTime, id: last.id };
    }
    return page;
  }

  /**
   * Deletes what belongs to the session first and the session record last, so an interrupted
   * delete leaves a session that a retried delete finishes removing.
   */
  async deleteSession(sessionId: string): Promise<void> {
    await this.run("deleteSession", async () => {
      await Promise.all([
        this.files.deleteMany({ sessionId }),
        this.events.deleteMany({ sessionId }),
        this.blocks.deleteMany({ sessionId }),
        this.transcripts.deleteOne({ _id: sessionId }),
      ]);
      await this.sessions.deleteOne({ _id: sessionId });
    });
  }

  // --- transcript and workspace ---

  async saveTranscript(sessionId: string, rawTranscript: string): Promise<void> {
    const doc = { transcript: rawTranscript, updateTime: new Date() };
    await this.run("saveTranscript", () =>
      retryOnDuplicate(() =>
        this.transcripts.replaceOne({ _id: sessionId }, doc, { upsert: true }),
      ),
    );
  }

  async loadTranscript(sessionId: string): Promise<string | null> {
    const doc = await this.run("loadTranscript", () =>
      this.transcripts.findOne({ _id: sessionId }),
    );
    return doc ? doc.transcript : null;
  }

  async saveWorkspaceFile(sessionId: string, file: StoredFile): Promise<void> {
    const { path, size, sha256, modifyTime } = file.info;
    const doc = toBson<FileDoc>({
      sessionId,
      path,
      size,
      sha256,
      modifyTime,
      content: file.content,
    });
    await this.run("saveWorkspaceFile", () =>
      retryOnDuplicate(() => this.files.replaceOne({ sessionId, path }, doc, { upsert: true })),
    );
  }

  async deleteSessionFile(sessionId: string, path: string): Promise<void> {
    await this.run("deleteSessionFile", () => this.files.deleteOne({ sessionId, path }));
  }

  async listWorkspaceFiles(sessionId: string): Promise<FileInfo[]> {
    const docs = await this.run("listWorkspaceFiles", () =>
      this.files.find({ sessionId }, { projection: { _id: 0, content: 0 } }).toArray(),
    );
    // Sorted here rather than by the server so the order is JavaScript's string order, the
    // same as every other adapter's (servers may compare by UTF-8 bytes).
    return docs
      .map((d) => ({ path: d.path, size: d.size, sha256: d.sha256, modifyTime: d.modifyTime }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async readWorkspaceFile(sessionId: string, path: string): Promise<StoredFile | null> {
    const doc = await this.run("readWorkspaceFile", () => this.files.findOne({ sessionId, path }));
    if (!doc) return null;
    return {
      info: { path: doc.path, size: doc.size, sha256: doc.sha256, modifyTime: doc.modifyTime },
      content: bytes(doc.content),
    };
  }

  /**
   * Two indexed aggregations with one accumulator each: FerretDB v1 fills only the first
   * accumulator of a $group (the others come back 0).
   */
  async workspaceUsage(sessionId: string): Promise<WorkspaceUsage> {
    const total = (accumulator: Document) =>
      this.files
        .aggregate<{ n: number }>([
          { $match: { sessionId } },
          { $group: { _id: null, n: accumulator } },
        ])
        .toArray()
        .then(([row]) => row?.n ?? 0);
    const [files, bytes] = await this.run("workspaceUsage", () =>
      Promise.all([total({ $sum: 1 }), total({ $sum: "$size" })]),
    );
    return { files, bytes };
  }

  // --- agent profiles ---

  async listAgentProfiles(query: ProfileQuery): Promise<Page<AgentProfile, string>> {
    if (query.limit <= 0) return { items: [] };
    const filter: Filter<ProfileDoc> = { tenantId: query.tenantId };
    if (query.afterId !== undefined) filter._id = { $gt: query.afterId };
    const docs = await this.run("listAgentProfiles", () =>
      this.profiles
        .find(filter)
        .sort({ _id: 1 })
        .limit(query.limit + 1)
        .toArray(),
    );
    const items = docs.slice(0, query.limit).map(profileFromDoc);
    const last = items[items.length - 1];
    const page: Page<AgentProfile, string> = { items };
    if (last && docs.length > items.length) page.next = last.id;
    return page;
  }

  async loadAgentProfile(agentProfileId: string): Promise<AgentProfile | null> {
    const doc = await this.run("loadAgentProfile", () =>
      this.profiles.findOne({ _id: agentProfileId }),
    );
    return doc ? profileFromDoc(doc) : null;
  }

  async createAgentProfile(profile: AgentProfile): Promise<AgentProfile> {
    const doc = profileToDoc(profile);
    const stored = await this.run("createAgentProfile", () =>
      insertIdempotent(this.profiles, doc, profileFromDoc),
    );
    return profileFromDoc(stored);
  }

  async updateAgentProfile(profile: AgentProfile): Promise<void> {
    const { _id, ...rest } = profileToDoc(profile);
    await this.run("updateAgentProfile", () => this.profiles.replaceOne({ _id }, rest));
  }

  async deleteAgentProfile(agentProfileId: string): Promise<void> {
    await this.run("deleteAgentProfile", () => this.profiles.deleteOne({ _id: agentProfileId }));
  }

  async profileInUse(agentProfileId: string): Promise<boolean> {
    const doc = await this.run("profileInUse", () =>
      this.sessions.findOne({ agentProfileId }, { projection: { _id: 1 } }),
    );
    return doc !== null;
  }

  // --- events and blocks ---

  /**
   * Inserts unordered, so one stored event does not hold back the others. A duplicate sequence
   * is then compared with what is stored: the same event is a retried write and counts as
   * stored; another one is a clash, thrown after the rest of the batch is stored.
   */
  async appendEvents(sessionId: string, events: SessionEvent[]): Promise<void> {
    if (events.length === 0) return;
    const docs = events.map((e) => toBson<EventDoc>({ ...e, sessionId }));
    await this.run("appendEvents", async () => {
      let duplicates: number[] = [];
      try {
        // Copies: the driver adds an _id to each document it is given.
        await this.events.insertMany(
          docs.map((d) => ({ ...d })),
          { ordered: false },
        );
        return;
      } catch (err) {
        duplicates = duplicateIndexes(err);
        if (duplicates.length === 0) throw err;
      }
      const sequences = duplicates.map((i) => docs[i]!.sequence);
      const stored = await this.events
        .find({ sessionId, sequence: { $in: sequences } }, { projection: { _id: 0 } })
        .toArray();
      const bySequence = new Map(stored.map((d) => [d.sequence, fromBson(d)]));
      const clashes = duplicates.filter((i) => {
        const existing = bySequence.get(docs[i]!.sequence);
        return existing === undefined || !isDeepStrictEqual(existing, fromBson(docs[i]!));
      });
      if (clashes.length > 0) {
        const list = clashes.map((i) => docs[i]!.sequence).join(", ");
        throw new Error(`session ${sessionId} already has other events with sequence ${list}`);
      }
    });
  }

  async readEvents(
    sessionId: string,
    afterSequence: number,
    limit: number,
  ): Promise<SessionEvent[]> {
    if (limit <= 0) return [];
    const docs = await this.run("readEvents", () =>
      this.events
        .find({ sessionId, sequence: { $gt: afterSequence } }, { projection: { _id: 0 } })
        .sort({ sequence: 1 })
        .limit(limit)
        .toArray(),
    );
    return docs.map((d) => fromBson(d));
  }

  async saveBlock(sessionId: string, block: Block): Promise<void> {
    const doc = toBson<BlockDoc>({ ...block, sessionId });
    await this.run("saveBlock", () =>
      retryOnDuplicate(() =>
        this.blocks.replaceOne({ sessionId, id: block.id }, doc, { upsert: true }),
      ),
    );
  }

  async listBlocks(sessionId: string, afterSequence: number, limit: number): Promise<Block[]> {
    if (limit <= 0) return [];
    const docs = await this.run("listBlocks", () =>
      this.blocks
        .find({ sessionId, sequence: { $gt: afterSequence } }, { projection: { _id: 0 } })
        .sort({ sequence: 1, id: 1 })
        .limit(limit)
        .toArray(),
    );
    return docs.map(({ sessionId: _, ...block }) => fromBson<Block>(block));
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

/**
 * Inserts `doc`; on a duplicate key finds the record that holds the key: the one created with
 * the same request key, or the one with the same id when it holds the same data (this very
 * insert, retried after its acknowledgement was lost). Anything else is a clash, thrown.
 */
async function insertIdempotent<D extends { _id: string; requestKey?: string }, R>(
  collection: Collection<D>,
  doc: D,
  fromDoc: (doc: D) => R,
): Promise<D> {
  try {
    await collection.insertOne({ ...doc } as Parameters<Collection<D>["insertOne"]>[0]);
    return doc;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    if (doc.requestKey !== undefined) {
      const byRequest = await collection.findOne({ requestKey: doc.requestKey } as Filter<D>);
      if (byRequest) return byRequest as D;
    }
    const byId = await collection.findOne({ _id: doc._id } as Filter<D>);
    if (byId && isDeepStrictEqual(fromDoc(byId as D), fromDoc(doc))) return byId as D;
    throw err;
  }
}

/** Indexes (into the batch) of the duplicate-key failures of an insertMany, when only those. */
function duplicateIndexes(err: unknown): number[] {
  if (!(err instanceof MongoBulkWriteError)) return [];
  const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
  if (writeErrors.length === 0 || writeErrors.some((w) => w.code !== DUPLICATE_KEY)) return [];
  return writeErrors.map((w) => w.index);
}

// --- mapping ---

function sessionToDoc(s: SessionRecord): SessionDoc {
  const { id, metadata, ...rest } = s;
  const doc: SessionDoc = { _id: id, ...toBson(rest), metadata: toPairs(metadata) };
  if (s.requestId !== undefined) doc.requestKey = requestKey(s.tenantId, s.requestId);
  return doc;
}

function sessionFromDoc(doc: SessionDoc): SessionRecord {
  const { _id, metadata, requestKey: _, ...rest } = doc;
  return { id: _id, ...fromBson(rest), metadata: fromPairs(metadata) };
}

function profileToDoc(p: AgentProfile): ProfileDoc {
  const { id, sandbox, ...rest } = p;
  const { env, providerOptions, ...sandboxRest } = sandbox;
  const doc: ProfileDoc = {
    _id: id,
    ...toBson(rest),
    sandbox: {
      ...toBson(sandboxRest),
      env: toPairs(env),
      providerOptions: toPairs(providerOptions),
    },
  };
  if (p.requestId !== undefined) doc.requestKey = requestKey(p.tenantId, p.requestId);
  return doc;
}

function profileFromDoc(doc: ProfileDoc): AgentProfile {
  const { _id, sandbox, requestKey: _, ...rest } = doc;
  const { env, providerOptions, ...sandboxRest } = sandbox;
  return {
    id: _id,
    ...fromBson(rest),
    sandbox: {
      ...fromBson(sandboxRest),
      env: fromPairs(env),
      providerOptions: fromPairs(providerOptions),
    },
  };
}

function requestKey(tenantId: string, requestId: string): string {
  return JSON.stringify([tenantId, requestId]);
}

function toPairs(map: Record<string, string>): Pair[] {
  return Object.entries(map).map(([k, v]) => ({ k, v }));
}

function fromPairs(pairs: Pair[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const { k, v } of pairs) {
    // defineProperty: a key such as "__proto__" stays an own property.
    Object.defineProperty(map, k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return map;
}

/**
 * A copy fit for the driver: keys whose value is undefined left out (so absent stays absent),
 * byte arrays as BSON binary. Field names are the domain's fixed ones (maps go through toPairs).
 */
function toBson<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (value instanceof Uint8Array) return new Binary(new Uint8Array(value)) as T;
  if (Array.isArray(value)) return value.map(toBson) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toBson(v);
  return out as T;
}

/** The reverse of toBson: BSON binary back to plain Uint8Array. */
function fromBson<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date) return value;
  if (value instanceof Binary || value instanceof Uint8Array) return bytes(value) as T;
  if (Array.isArray(value)) return value.map(fromBson) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    if (v !== undefined && v !== null) out[k] = fromBson(v);
  return out as T;
}

/** A plain Uint8Array (not a Buffer) copy of stored bytes. */
function bytes(value: unknown): Uint8Array {
  if (value instanceof Binary) return new Uint8Array(value.buffer.subarray(0, value.position));
  if (value instanceof Uint8Array) return new Uint8Array(value);
  throw new TypeError("stored bytes are neither BSON binary nor Uint8Array");
}

function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}

/** Concurrent upserts of one key may both try to insert; the loser's retry updates instead. */
async function retryOnDuplicate<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    return op();
  }
}

function dbNameFromUri(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri);
  return match?.[1] ? decodeURIComponent(match[1]) : undefined;
}
