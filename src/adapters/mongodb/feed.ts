import { isDeepStrictEqual } from "node:util";
import type { Block, SessionEvent } from "../../domain/types.js";
import { fromBson, toBson } from "./bson.js";
import type { Collections, Run } from "./collections.js";
import type { BlockDoc, EventDoc } from "./documents.js";
import { duplicateIndexes, retryOnDuplicate } from "./writes.js";

/** A session's feed, its events and blocks: MongoPersistence's methods for them. */
export class MongoFeed {
  constructor(
    private readonly collections: Collections,
    private readonly run: Run,
  ) {}

  /**
   * Inserts unordered, so one stored event does not hold back the others. A duplicate sequence
   * is then compared with what is stored: the same event is a retried write and counts as
   * stored; another one is a clash, thrown after the rest of the batch is stored.
   */
  async appendEvents(sessionId: string, events: SessionEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.insertEvents(
      sessionId,
      events.map((e) => toBson<EventDoc>({ ...e, sessionId })),
    );
  }

  /** Inserts stored forms of events (appendEvents; claimed batches, coordination.ts). */
  async insertEvents(sessionId: string, docs: EventDoc[]): Promise<void> {
    await this.run("appendEvents", async () => {
      let duplicates: number[] = [];
      try {
        // Copies: the driver adds an _id to each document it is given.
        await this.collections.events.insertMany(
          docs.map((d) => ({ ...d })),
          { ordered: false },
        );
        return;
      } catch (err) {
        duplicates = duplicateIndexes(err);
        if (duplicates.length === 0) throw err;
      }
      const sequences = duplicates.map((i) => docs[i]!.sequence);
      const stored = await this.collections.events
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
      this.collections.events
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
        this.collections.blocks.replaceOne({ sessionId, id: block.id }, doc, { upsert: true }),
      ),
    );
  }

  async listBlocks(sessionId: string, afterSequence: number, limit: number): Promise<Block[]> {
    if (limit <= 0) return [];
    const docs = await this.run("listBlocks", () =>
      this.collections.blocks
        .find({ sessionId, sequence: { $gt: afterSequence } }, { projection: { _id: 0 } })
        .sort({ sequence: 1, id: 1 })
        .limit(limit)
        .toArray(),
    );
    return docs.map(({ sessionId: _, ...block }) => fromBson<Block>(block));
  }
}
