import type { Filter } from "mongodb";
import { leaseLost } from "../../domain/errors.js";
import type { Lease, SessionEvent } from "../../domain/types.js";
import type { LeaseResult, SessionCommand, StoreChange } from "../../ports/coordination.js";
import { fromBson } from "./bson.js";
import type { Collections, Run } from "./collections.js";
import type { CommandDoc, EventDoc, SessionDoc } from "./documents.js";
import { isDuplicateKey } from "./writes.js";

/** Leases renewed in one write. */
const RENEW_BATCH = 500;
/** Events claimed in one write of a feed's head: its document stays well under 16 MB. */
const CLAIM_BYTES = 4 * 1024 * 1024;

/**
 * Leases, feed claims and commands (MongoPersistence's CoordinationStore). FerretDB v1 applies
 * an update as read, modify, write, so a conditional update is not a compare-and-set there;
 * what must be won by exactly one caller (a lease token, a command) is an insert under a unique
 * `_id` in the `claims` collection, which every MongoDB-wire store enforces.
 */
export class MongoCoordination {
  constructor(
    private readonly c: Collections,
    private readonly run: Run,
  ) {}

  async acquireLease(
    sessionId: string,
    owner: string,
    now: Date,
    expiresAt: Date,
  ): Promise<LeaseResult> {
    return this.run("acquireLease", async () => {
      const doc = await this.c.sessions.findOne({ _id: sessionId }, { projection: { lease: 1 } });
      if (!doc) return { missing: true } as const;
      const held = doc.lease;
      if (held && held.owner !== owner && held.expiresAt > now) return { heldBy: held };
      const token = (held?.token ?? 0) + 1;
      const claimId = `lease/${sessionId}/${token}`;
      try {
        await this.c.claims.insertOne({ _id: claimId, sessionId, by: owner, token });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        const claim = await this.c.claims.findOne({ _id: claimId });
        // Ours: a retry after a lost acknowledgement. Else another replica won this token.
        if (claim?.by !== owner) {
          return { heldBy: { owner: claim?.by ?? "", token, expiresAt } };
        }
      }
      const lease: Lease = { owner, token, expiresAt };
      const filter: Filter<SessionDoc> = held
        ? { _id: sessionId, "lease.token": held.token }
        : { _id: sessionId, lease: { $exists: false } };
      const { matchedCount } = await this.c.sessions.updateOne(filter, { $set: { lease } });
      if (matchedCount === 0) {
        const now2 = await this.c.sessions.findOne(
          { _id: sessionId },
          { projection: { lease: 1 } },
        );
        if (!now2) return { missing: true } as const;
        if (now2.lease?.token !== token) return { heldBy: now2.lease ?? lease };
      }
      return { lease };
    });
  }

  /**
   * One update per 500 sessions of the owner's; only when it matched fewer than it asked for,
   * a read finds which leases are gone (another owner, or given back).
   */
  async renewLeases(
    leases: { sessionId: string; lease: Lease }[],
    expiresAt: Date,
  ): Promise<string[]> {
    const lost: string[] = [];
    for (let i = 0; i < leases.length; i += RENEW_BATCH) {
      const part = leases.slice(i, i + RENEW_BATCH);
      const owner = part[0]!.lease.owner;
      const ids = part.map((l) => l.sessionId);
      const { matchedCount } = await this.run("renewLeases", () =>
        this.c.sessions.updateMany(
          { _id: { $in: ids }, "lease.owner": owner, "lease.expiresAt": { $gt: new Date(0) } },
          { $set: { "lease.expiresAt": expiresAt } },
        ),
      );
      if (matchedCount === part.length) continue;
      const docs = await this.run("renewLeases", () =>
        this.c.sessions.find({ _id: { $in: ids } }, { projection: { lease: 1 } }).toArray(),
      );
      const held = new Map(docs.map((d) => [d._id, d.lease]));
      for (const { sessionId, lease } of part) {
        const now = held.get(sessionId);
        if (now?.owner !== lease.owner || now.expiresAt.getTime() <= 0) lost.push(sessionId);
      }
    }
    return lost;
  }

  async releaseLease(sessionId: string, lease: Lease): Promise<void> {
    await this.run("releaseLease", () =>
      this.c.sessions.updateOne(
        { _id: sessionId, "lease.token": lease.token, "lease.owner": lease.owner },
        { $set: { "lease.expiresAt": new Date(0) } },
      ),
    );
  }

  async claimFeed(sessionId: string, fence: number): Promise<SessionEvent[]> {
    return this.run("claimFeed", async () => {
      try {
        const before = await this.c.feed_heads.findOneAndUpdate(
          { _id: sessionId, token: { $lte: fence } },
          { $set: { token: fence } },
          { upsert: true, returnDocument: "before" },
        );
        return (before?.tail ?? []).map((e) => fromBson<SessionEvent>(e));
      } catch (err) {
        if (isDuplicateKey(err)) throw leaseLost(sessionId, fence);
        throw err;
      }
    });
  }

  /** Claims a batch for `fence` before it is inserted; yields the batch in claimable parts. */
  async claimBatches(
    sessionId: string,
    docs: EventDoc[],
    fence: number,
    insert: (part: EventDoc[]) => Promise<void>,
  ): Promise<void> {
    for (const part of parts(docs)) {
      await this.run("appendEvents", async () => {
        try {
          await this.c.feed_heads.updateOne(
            { _id: sessionId, token: { $lte: fence } },
            { $set: { token: fence, last: part.at(-1)!.sequence, tail: part } },
            { upsert: true },
          );
        } catch (err) {
          if (isDuplicateKey(err)) throw leaseLost(sessionId, fence);
          throw err;
        }
      });
      await insert(part);
    }
  }

  async feedHeads(sessionIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (sessionIds.length === 0) return out;
    const docs = await this.run("feedHeads", () =>
      this.c.feed_heads.find({ _id: { $in: sessionIds } }, { projection: { last: 1 } }).toArray(),
    );
    for (const d of docs) if (d.last !== undefined) out.set(d._id, d.last);
    return out;
  }

  async enqueueCommand(command: SessionCommand): Promise<void> {
    const { id, outcome: _, ...rest } = command;
    await this.run("enqueueCommand", async () => {
      try {
        await this.c.commands.insertOne({ _id: id, ...rest });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err; // stored by an attempt whose answer was lost
      }
    });
  }

  async pendingCommands(owner: string, limit: number): Promise<SessionCommand[]> {
    if (limit <= 0) return [];
    const docs = await this.run("pendingCommands", () =>
      this.c.commands
        .find({ owner, takenBy: { $exists: false } })
        .sort({ createTime: 1, _id: 1 })
        .limit(limit)
        .toArray(),
    );
    return docs.map(commandFromDoc);
  }

  async takeCommand(commandId: string, by: string): Promise<boolean> {
    return this.run("takeCommand", async () => {
      const command = await this.c.commands.findOne({ _id: commandId });
      if (!command) return false;
      const claimId = `command/${commandId}`;
      try {
        await this.c.claims.insertOne({ _id: claimId, sessionId: command.sessionId, by });
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        const claim = await this.c.claims.findOne({ _id: claimId });
        if (claim?.by !== by) return false;
      }
      await this.c.commands.updateOne({ _id: commandId }, { $set: { takenBy: by } });
      return true;
    });
  }

  async finishCommand(commandId: string, outcome: string): Promise<void> {
    await this.run("finishCommand", () =>
      this.c.commands.updateOne({ _id: commandId }, { $set: { outcome } }),
    );
  }

  async loadCommand(commandId: string): Promise<SessionCommand | null> {
    const doc = await this.run("loadCommand", () => this.c.commands.findOne({ _id: commandId }));
    return doc ? commandFromDoc(doc) : null;
  }

  async deleteCommand(commandId: string): Promise<void> {
    await this.run("deleteCommand", async () => {
      await this.c.commands.deleteOne({ _id: commandId });
      await this.c.claims.deleteOne({ _id: `command/${commandId}` });
    });
  }

  /**
   * Change streams on the feeds' heads and the commands, where the deployment has them (a
   * replica set; not a standalone server, not FerretDB v1): undefined otherwise. A stream that
   * fails later is dropped; polling still finds everything.
   */
  async watchChanges(changed: (change: StoreChange) => void): Promise<(() => void) | undefined> {
    const hello = await this.c.sessions.db.command({ hello: 1 }).catch(() => undefined);
    if (!hello?.setName || hello.ferretdbVersion !== undefined) return undefined;
    const heads = this.c.feed_heads.watch([], { fullDocument: "default" });
    const commands = this.c.commands.watch([{ $match: { operationType: "insert" } }]);
    heads.on("change", (e) => {
      if ("documentKey" in e) changed({ feed: String(e.documentKey._id) });
    });
    commands.on("change", (e) => {
      if (e.operationType === "insert") changed({ commandFor: e.fullDocument.owner });
    });
    for (const stream of [heads, commands]) stream.on("error", () => void stream.close());
    return () => {
      void heads.close();
      void commands.close();
    };
  }

  /** Removes a deleted session's coordination records. */
  async forget(sessionId: string): Promise<void> {
    await Promise.all([
      this.c.feed_heads.deleteOne({ _id: sessionId }),
      this.c.claims.deleteMany({ sessionId }),
      this.c.commands.deleteMany({ sessionId }),
    ]);
  }
}

function commandFromDoc(doc: CommandDoc): SessionCommand {
  const { _id, takenBy: _, ...rest } = doc;
  return { id: _id, ...rest };
}

/** A batch cut into parts of at most CLAIM_BYTES (by their JSON size), each one at least one. */
function parts(docs: EventDoc[]): EventDoc[][] {
  const out: EventDoc[][] = [];
  let part: EventDoc[] = [];
  let bytes = 0;
  for (const doc of docs) {
    const size = JSON.stringify(doc).length;
    if (part.length > 0 && bytes + size > CLAIM_BYTES) {
      out.push(part);
      part = [];
      bytes = 0;
    }
    part.push(doc);
    bytes += size;
  }
  if (part.length > 0) out.push(part);
  return out;
}
