import { type Filter, MongoServerError } from "mongodb";
import type { ToolDecision } from "../../domain/types.js";
import type { DecisionCursor } from "../../ports/persistence.js";
import type { Collections, Run } from "./collections.js";
import type { DecisionDoc } from "./documents.js";

const DUPLICATE_KEY = 11000;

function fromDoc(doc: DecisionDoc): ToolDecision {
  const { _id: _, sessionId: __, ...decision } = doc;
  return decision;
}

/** The decision log (ListToolDecisions): MongoPersistence's decision methods. */
export class MongoDecisions {
  constructor(
    private readonly collections: Collections,
    private readonly run: Run,
  ) {}

  /**
   * Inserts the decision; a duplicate key means the call's decision is stored already (this
   * append retried after a lost acknowledgement, or appended before): it is kept as it is.
   */
  async appendToolDecision(sessionId: string, decision: ToolDecision): Promise<void> {
    const doc: DecisionDoc = { ...decision, _id: `${sessionId}/${decision.toolUseId}`, sessionId };
    await this.run("appendToolDecision", async () => {
      try {
        await this.collections.tool_decisions.insertOne({ ...doc });
      } catch (err) {
        if (!(err instanceof MongoServerError && err.code === DUPLICATE_KEY)) throw err;
      }
    });
  }

  async listToolDecisions(
    sessionId: string,
    after: DecisionCursor | undefined,
    limit: number,
  ): Promise<ToolDecision[]> {
    if (limit <= 0) return [];
    const filter: Filter<DecisionDoc> = { sessionId };
    if (after) {
      filter.$or = [
        { decideTime: { $gt: after.decideTime } },
        { decideTime: after.decideTime, toolUseId: { $gt: after.toolUseId } },
      ];
    }
    const docs = await this.run("listToolDecisions", () =>
      this.collections.tool_decisions
        .find(filter)
        .sort({ decideTime: 1, toolUseId: 1 })
        .limit(limit)
        .toArray(),
    );
    return docs.map(fromDoc);
  }
}
