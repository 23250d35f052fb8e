import {
  Binary,
  type Collection,
  type Db,
  type Filter,
  type IndexDescription,
  MongoClient,
  type MongoClientOptions,
  MongoServerError,
} from "mongodb";
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
  SessionQuery,
  SessionUpdate,
  StoredFile,
} from "../../ports/persistence.js";

// Persistence in MongoDB, written for what MongoDB and FerretDB v1 (its SQLite backend, used by
// the tests) both do: every write is one single-document atomic operation; no transactions, change
// streams, TTL indexes, $lookup or partial indexes.
//
// Storage forms:
// - Records keep the domain field names; the id is `_id`. Dates are BSON dates, byte arrays BSON
//   binary (read back as plain Uint8Array). Optional fields that are absent are not stored.
// - Free-form string maps (session metadata, sandbox env and provider options) are stored as
//   arrays of {k, v}: their keys may contain "." or start with "$", which field names may not.
// - Idempotent creates: a record created with a request id also stores
//   `requestKey = JSON.stringify([tenantId, requestId])` under a unique sparse index (FerretDB v1
//   has no partialFilterExpression). A second create with the same key fails with a duplicate-key
//   error (11000) and returns the record that won.

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
}

const DUPLICATE_KEY = 11000;

export class MongoPersistence implements PersistenceAdapter {
  private readonly sessions: Collection<SessionDoc>;
  private readonly profiles: Collection<ProfileDoc>;
  private readonly files: Collection<FileDoc>;
  private readonly events: Collection<EventDoc>;
  private readonly blocks: Collection<BlockDoc>;
  private readonly transcripts: Collection<TranscriptDoc>;
  /** Set by connect(): the client this adapter owns and closes. */
  private client: MongoClient | undefined;

  /** Uses `db` as is; call ensureIndexes() once before relying on idempotent creates. */
  constructor(db: Db, options: MongoPersistenceOptions = {}) {
    const prefix = options.collectionPrefix ?? "ar_";
    this.sessions = db.collection(`${prefix}sessions`);
    this.profiles = db.collection(`${prefix}profiles`);
    this.files = db.collection(`${prefix}files`);
    this.events = db.collection(`${prefix}events`);
    this.blocks = db.collection(`${prefix}blocks`);
    this.transcripts = db.collection(`${prefix}transcripts`);
  }

  /**
   * Connects to `uri`, ensures the indexes and returns an adapter that owns the client: close()
   * closes it. `dbName` defaults to the database named in the URI (else "agent_runtime").
   */
  static async connect(
    uri: string,
    dbName?: string,
    options: MongoPersistenceOptions & { client?: MongoClientOptions } = {},
  ): Promise<MongoPersistence> {
    const client = new MongoClient(uri, { ignoreUndefined: true, ...options.client });
    await client.connect();
    try {
      const db = client.db(dbName || dbNameFromUri(uri) || "agent_runtime");
      const adapter = new MongoPersistence(
        db,
        options.collectionPrefix === undefined
          ? {}
          : { collectionPrefix: options.collectionPrefix },
      );
      await adapter.ensureIndexes();
      adapter.client = client;
      return adapter;
    } catch (err) {
      await client.close();
      throw err;
    }
  }

  /**
   * Creates the indexes this adapter needs; safe to call again. One index per command: FerretDB
   * v1.24 drops the connection when one createIndexes command names several existing indexes.
   */
  async ensureIndexes(): Promise<void> {
    const requestKeyIndex: IndexDescription = {
      key: { requestKey: 1 },
      name: "request_key",
      unique: true,
      sparse: true,
    };
    const plan: [Pick<Collection, "createIndexes">, IndexDescription[]][] = [
      [
        this.sessions,
        [
          requestKeyIndex,
          { key: { tenantId: 1, lastActivityTime: -1, _id: -1 }, name: "tenant_activity" },
          { key: { agentProfileId: 1 }, name: "agent_profile" },
          { key: { state: 1 }, name: "state" },
        ],
      ],
      [this.profiles, [requestKeyIndex, { key: { tenantId: 1, _id: 1 }, name: "tenant_id" }]],
      [this.files, [{ key: { sessionId: 1, path: 1 }, name: "session_path", unique: true }]],
      [
        this.events,
        [{ key: { sessionId: 1, sequence: 1 }, name: "session_sequence", unique: true }],
      ],
      [
        this.blocks,
        [
          { key: { sessionId: 1, id: 1 }, name: "session_block", unique: true },
          { key: { sessionId: 1, sequence: 1 }, name: "session_sequence" },
        ],
      ],
    ];
    await Promise.all(
      plan.map(async ([collection, indexes]) => {
        for (const index of indexes) await collection.createIndexes([index]);
      }),
    );
  }

  // --- sessions ---

  async listAllSessions(filter?: { state?: SessionState }): Promise<SessionRecord[]> {
    const query: Filter<SessionDoc> = filter?.state === undefined ? {} : { state: filter.state };
    const docs = await this.sessions.find(query).toArray();
    return docs.map(sessionFromDoc);
  }

  async loadSession(sessionId: string): Promise<SessionRecord | null> {
    const doc = await this.sessions.findOne({ _id: sessionId });
    return doc ? sessionFromDoc(doc) : null;
  }

  async createSessionRecord(session: SessionRecord): Promise<SessionRecord> {
    try {
      await this.sessions.insertOne(sessionToDoc(session));
      return sessionFromDoc(sessionToDoc(session));
    } catch (err) {
      if (!isDuplicateKey(err) || session.requestId === undefined) throw err;
      const existing = await this.sessions.findOne({
        requestKey: requestKey(session.tenantId, session.requestId),
      });
      if (!existing) throw err;
      return sessionFromDoc(existing);
    }
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
    await this.sessions.updateOne({ _id: sessionId }, update);
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
    const docs = await this.sessions
      .find(filter)
      .sort({ lastActivityTime: -1, _id: -1 })
      .limit(query.limit + 1)
      .toArray();
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
    await Promise.all([
      this.files.deleteMany({ sessionId }),
      this.events.deleteMany({ sessionId }),
      this.blocks.deleteMany({ sessionId }),
      this.transcripts.deleteOne({ _id: sessionId }),
    ]);
    await this.sessions.deleteOne({ _id: sessionId });
  }

  // --- transcript and workspace ---

  async saveTranscript(sessionId: string, rawTranscript: string): Promise<void> {
    await this.transcripts.replaceOne(
      { _id: sessionId },
      { transcript: rawTranscript, updateTime: new Date() },
      { upsert: true },
    );
  }

  async loadTranscript(sessionId: string): Promise<string | null> {
    const doc = await this.transcripts.findOne({ _id: sessionId });
    return doc ? doc.transcript : null;
  }

  async saveWorkspaceFile(sessionId: string, file: StoredFile): Promise<void> {
    const { path, size, sha256, modifyTime } = file.info;
    const doc: FileDoc = { sessionId, path, size, sha256, modifyTime, content: file.content };
    await retryOnDuplicate(() =>
      this.files.replaceOne({ sessionId, path }, toBson(doc), { upsert: true }),
    );
  }

  async deleteSessionFile(sessionId: string, path: string): Promise<void> {
    await this.files.deleteOne({ sessionId, path });
  }

  async listWorkspaceFiles(sessionId: string): Promise<FileInfo[]> {
    const docs = await this.files
      .find({ sessionId }, { projection: { _id: 0, content: 0 } })
      .toArray();
    // Sorted here rather than by the server so the order is JavaScript's string order, the
    // same as every other adapter's (servers may compare by UTF-8 bytes).
    return docs
      .map((d) => ({ path: d.path, size: d.size, sha256: d.sha256, modifyTime: d.modifyTime }))
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  async readWorkspaceFile(sessionId: string, path: string): Promise<StoredFile | null> {
    const doc = await this.files.findOne({ sessionId, path });
    if (!doc) return null;
    return {
      info: { path: doc.path, size: doc.size, sha256: doc.sha256, modifyTime: doc.modifyTime },
      content: bytes(doc.content),
    };
  }

  // --- agent profiles ---

  async listAgentProfiles(query: ProfileQuery): Promise<Page<AgentProfile, string>> {
    if (query.limit <= 0) return { items: [] };
    const filter: Filter<ProfileDoc> = { tenantId: query.tenantId };
    if (query.afterId !== undefined) filter._id = { $gt: query.afterId };
    const docs = await this.profiles
      .find(filter)
      .sort({ _id: 1 })
      .limit(query.limit + 1)
      .toArray();
    const items = docs.slice(0, query.limit).map(profileFromDoc);
    const last = items[items.length - 1];
    const page: Page<AgentProfile, string> = { items };
    if (last && docs.length > items.length) page.next = last.id;
    return page;
  }

  async loadAgentProfile(agentProfileId: string): Promise<AgentProfile | null> {
    const doc = await this.profiles.findOne({ _id: agentProfileId });
    return doc ? profileFromDoc(doc) : null;
  }

  async createAgentProfile(profile: AgentProfile): Promise<AgentProfile> {
    try {
      await this.profiles.insertOne(profileToDoc(profile));
      return profileFromDoc(profileToDoc(profile));
    } catch (err) {
      if (!isDuplicateKey(err) || profile.requestId === undefined) throw err;
      const existing = await this.profiles.findOne({
        requestKey: requestKey(profile.tenantId, profile.requestId),
      });
      if (!existing) throw err;
      return profileFromDoc(existing);
    }
  }

  async updateAgentProfile(profile: AgentProfile): Promise<void> {
    const { _id, ...rest } = profileToDoc(profile);
    await this.profiles.replaceOne({ _id }, rest);
  }

  async deleteAgentProfile(agentProfileId: string): Promise<void> {
    await this.profiles.deleteOne({ _id: agentProfileId });
  }

  async profileInUse(agentProfileId: string): Promise<boolean> {
    const doc = await this.sessions.findOne({ agentProfileId }, { projection: { _id: 1 } });
    return doc !== null;
  }

  // --- events and blocks ---

  /** Throws on a sequence already stored; with several events, those before it stay written. */
  async appendEvents(sessionId: string, events: SessionEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.events.insertMany(
      events.map((e) => toBson({ ...e, sessionId })),
      { ordered: true },
    );
  }

  async readEvents(
    sessionId: string,
    afterSequence: number,
    limit: number,
  ): Promise<SessionEvent[]> {
    if (limit <= 0) return [];
    const docs = await this.events
      .find({ sessionId, sequence: { $gt: afterSequence } }, { projection: { _id: 0 } })
      .sort({ sequence: 1 })
      .limit(limit)
      .toArray();
    return docs.map((d) => fromBson(d));
  }

  async saveBlock(sessionId: string, block: Block): Promise<void> {
    const doc: BlockDoc = { ...block, sessionId };
    await retryOnDuplicate(() =>
      this.blocks.replaceOne({ sessionId, id: block.id }, toBson(doc), { upsert: true }),
    );
  }

  async listBlocks(sessionId: string, afterSequence: number, limit: number): Promise<Block[]> {
    if (limit <= 0) return [];
    const docs = await this.blocks
      .find({ sessionId, sequence: { $gt: afterSequence } }, { projection: { _id: 0 } })
      .sort({ sequence: 1, id: 1 })
      .limit(limit)
      .toArray();
    return docs.map(({ sessionId: _, ...block }) => fromBson<Block>(block));
  }

  /** Closes the client when this adapter owns it (made by connect()). */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }
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
