import { addUsage, emptyUsage, type Usage } from "../../domain/types.js";
import type { Collections, Run } from "./collections.js";
import { retryOnDuplicate } from "./writes.js";

const FIELDS = [
  "inputTokens",
  "outputTokens",
  "cacheReadInputTokens",
  "cacheCreationInputTokens",
  "costMicroUsd",
  "webSearchRequests",
  "webFetchRequests",
] as const;

function usageOf(doc: Partial<Record<(typeof FIELDS)[number], number>> | undefined): Usage {
  if (!doc) return emptyUsage();
  return {
    inputTokens: doc.inputTokens ?? 0,
    outputTokens: doc.outputTokens ?? 0,
    cacheReadInputTokens: doc.cacheReadInputTokens ?? 0,
    cacheCreationInputTokens: doc.cacheCreationInputTokens ?? 0,
    costMicroUsd: doc.costMicroUsd ?? 0,
    ...(doc.webSearchRequests ? { webSearchRequests: doc.webSearchRequests } : {}),
    ...(doc.webFetchRequests ? { webFetchRequests: doc.webFetchRequests } : {}),
  };
}

/**
 * Tenant usage per month: one document per tenant, month and session, counted with `$inc` (one
 * writer each: FerretDB v1 applies an increment as read-modify-write), summed per tenant-month.
 */
export class MongoTenantUsage {
  constructor(
    private readonly collections: Collections,
    private readonly run: Run,
  ) {}

  async addTenantUsage(
    tenantId: string,
    month: string,
    sessionId: string,
    usage: Usage,
  ): Promise<Usage> {
    const inc = Object.fromEntries(FIELDS.map((f) => [f, usage[f] ?? 0]));
    await this.run("addTenantUsage", () =>
      retryOnDuplicate(() =>
        this.collections.usage.updateOne(
          { _id: `${tenantId}/${month}/${sessionId}` },
          { $inc: inc, $set: { tenantId, month, sessionId, updateTime: new Date() } },
          { upsert: true },
        ),
      ),
    );
    return this.tenantUsage(tenantId, month);
  }

  /** The sum over the month's session records (FerretDB v1's $group summed several fields wrong). */
  async tenantUsage(tenantId: string, month: string): Promise<Usage> {
    const docs = await this.run("tenantUsage", () =>
      this.collections.usage.find({ tenantId, month }).toArray(),
    );
    return docs.map(usageOf).reduce(addUsage, emptyUsage());
  }
}
