import type { Filter } from "mongodb";
import { leaseLost } from "../../domain/errors.js";
import type { SessionRecord } from "../../domain/types.js";
import type {
  Page,
  SessionCursor,
  SessionFilter,
  SessionQuery,
  SessionUpdate,
} from "../../ports/persistence.js";
import { toBson, toPairs } from "./bson.js";
import type { Collections, Run } from "./collections.js";
import { pageOf, type SessionDoc, sessionFromDoc, sessionToDoc } from "./documents.js";
import { insertIdempotent } from "./writes.js";

/** Session records: MongoPersistence's session methods. */
export class MongoSessions {
  constructor(
    private readonly collections: Collections,
    private readonly run: Run,
  ) {}

  async listAllSessions(filter: SessionFilter = {}): Promise<SessionRecord[]> {
    const query: Filter<SessionDoc> = {};
    if (filter.state !== undefined) query.state = filter.state;
    if (filter.fileEventsPending) query.fileEventsPending = true;
    const docs = await this.run("listAllSessions", () =>
      this.collections.sessions.find(query).toArray(),
    );
    return docs.map(sessionFromDoc);
  }

  async loadSession(sessionId: string): Promise<SessionRecord | null> {
    const doc = await this.run("loadSession", () =>
      this.collections.sessions.findOne({ _id: sessionId }),
    );
    return doc ? sessionFromDoc(doc) : null;
  }

  async createSessionRecord(session: SessionRecord): Promise<SessionRecord> {
    const doc = sessionToDoc(session);
    const stored = await this.run("createSessionRecord", () =>
      insertIdempotent(this.collections.sessions, doc, sessionFromDoc),
    );
    return sessionFromDoc(stored);
  }

  /** With `fence`: refused (LEASE_LOST) unless the session's lease still has that token. */
  async updateSessionRecord(
    sessionId: string,
    updates: SessionUpdate,
    fence?: number,
  ): Promise<void> {
    const set: Record<string, unknown> = {};
    const unset: Record<string, ""> = {};
    for (const [key, value] of Object.entries(updates)) {
      // id and tenantId are not updatable (callers may pass a whole Partial<SessionRecord>).
      if (key === "id" || key === "tenantId" || key === "_id" || key === "lease") continue;
      if (value === undefined) unset[key] = "";
      else if (key === "metadata") set[key] = toPairs(value as Record<string, string>);
      else set[key] = toBson(value);
    }
    const update: { $set?: Record<string, unknown>; $unset?: Record<string, ""> } = {};
    if (Object.keys(set).length > 0) update.$set = set;
    if (Object.keys(unset).length > 0) update.$unset = unset;
    if (update.$set === undefined && update.$unset === undefined) return;
    // Setting the same values again is harmless: a retry after a lost acknowledgement is safe.
    const filter =
      fence === undefined ? { _id: sessionId } : { _id: sessionId, "lease.token": fence };
    const { matchedCount } = await this.run("updateSessionRecord", () =>
      this.collections.sessions.updateOne(filter, update),
    );
    if (fence !== undefined && matchedCount === 0) throw leaseLost(sessionId, fence);
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
      this.collections.sessions
        .find(filter)
        .sort({ lastActivityTime: -1, _id: -1 })
        .limit(query.limit + 1)
        .toArray(),
    );
    return pageOf(docs, query.limit, sessionFromDoc, (last) => ({
      lastActivityTime: last.lastActivityTime,
      id: last.id,
    }));
  }

  /**
   * Deletes what belongs to the session first and the session record last, so an interrupted
   * delete leaves a session that a retried delete finishes removing.
   */
  async deleteSession(sessionId: string): Promise<void> {
    const { sessions, files, events, blocks, transcripts, legacyTranscripts, tool_decisions } =
      this.collections;
    await this.run("deleteSession", async () => {
      await Promise.all([
        files.deleteMany({ sessionId }),
        events.deleteMany({ sessionId }),
        blocks.deleteMany({ sessionId }),
        transcripts.deleteMany({ sessionId }),
        legacyTranscripts.deleteOne({ _id: sessionId }),
        tool_decisions.deleteMany({ sessionId }),
      ]);
      await sessions.deleteOne({ _id: sessionId });
    });
  }
}
