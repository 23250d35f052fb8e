import type { Collection, Db } from "mongodb";
import type {
  Webhook,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEventType,
} from "../../domain/webhooks.js";
import type { DeliveryCursor, WebhookStore } from "../../ports/webhooks.js";
import { type MongoPersistenceOptions, resilienceSettings } from "./client.js";
import { runOperation } from "./resilience.js";

interface WebhookDoc {
  _id: string;
  tenantId: string;
  url: string;
  secret: string;
  eventTypes: WebhookEventType[];
  description: string;
  createTime: Date;
}

interface DeliveryDoc {
  _id: string;
  webhookId: string;
  tenantId: string;
  eventType: WebhookEventType;
  sessionId: string;
  turnId?: string | null;
  sequence: number;
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  createTime: Date;
  nextAttemptTime?: Date | null;
  lastAttemptTime?: Date | null;
  lastStatusCode?: number | null;
  lastError?: string | null;
}

/**
 * Webhook endpoints and deliveries in MongoDB (`<prefix>webhooks`, `<prefix>webhook_deliveries`
 * of the persistence adapter's database), with the same deadlines and retries (resilience.ts).
 * Every write is idempotent: an upsert or a replace by id.
 */
export class MongoWebhooks implements WebhookStore {
  private readonly hooks: Collection<WebhookDoc>;
  private readonly deliveries: Collection<DeliveryDoc>;
  private readonly settings: ReturnType<typeof resilienceSettings>;

  constructor(db: Db, options: MongoPersistenceOptions = {}) {
    const prefix = options.collectionPrefix ?? "ar_";
    this.hooks = db.collection<WebhookDoc>(`${prefix}webhooks`);
    this.deliveries = db.collection<DeliveryDoc>(`${prefix}webhook_deliveries`);
    this.settings = resilienceSettings(options);
  }

  private run<T>(operation: string, attempt: () => Promise<T>): Promise<T> {
    return runOperation(this.settings, operation, attempt);
  }

  /** The indexes the queries use: by tenant; by endpoint, newest first; pending by due time. */
  async ensureIndexes(): Promise<void> {
    await runOperation(
      this.settings,
      "ensureIndexes",
      async () => {
        // One index per command: FerretDB v1.24 drops the connection when one createIndexes
        // command names several indexes that exist (every start after the first).
        await this.hooks.createIndexes([{ key: { tenantId: 1, createTime: 1 }, name: "tenant" }]);
        await this.deliveries.createIndexes([
          { key: { webhookId: 1, createTime: -1, _id: -1 }, name: "webhook_newest" },
        ]);
        await this.deliveries.createIndexes([
          { key: { status: 1, nextAttemptTime: 1 }, name: "due" },
        ]);
      },
      this.settings.indexTimeoutMs,
    );
  }

  async createWebhook(w: Webhook): Promise<void> {
    const { id, ...rest } = w;
    await this.run("createWebhook", () =>
      this.hooks.replaceOne(
        { _id: id },
        { ...rest, eventTypes: [...w.eventTypes] },
        { upsert: true },
      ),
    );
  }

  async listWebhooks(tenantId: string): Promise<Webhook[]> {
    const docs = await this.run("listWebhooks", () =>
      this.hooks.find({ tenantId }).sort({ createTime: 1, _id: 1 }).toArray(),
    );
    return docs.map(hookOf);
  }

  async loadWebhook(webhookId: string): Promise<Webhook | null> {
    const doc = await this.run("loadWebhook", () => this.hooks.findOne({ _id: webhookId }));
    return doc ? hookOf(doc) : null;
  }

  async deleteWebhook(webhookId: string): Promise<boolean> {
    // Deliveries first: a retry after a failure between the two finds the endpoint still there.
    await this.run("deleteWebhookDeliveries", () => this.deliveries.deleteMany({ webhookId }));
    const r = await this.run("deleteWebhook", () => this.hooks.deleteOne({ _id: webhookId }));
    return r.deletedCount > 0;
  }

  async addDelivery(d: WebhookDelivery): Promise<void> {
    const { _id, ...doc } = docOf(d);
    await this.run("addDelivery", () =>
      this.deliveries.updateOne({ _id }, { $setOnInsert: doc }, { upsert: true }),
    );
  }

  async updateDelivery(d: WebhookDelivery): Promise<void> {
    const { _id, ...doc } = docOf(d);
    await this.run("updateDelivery", () => this.deliveries.replaceOne({ _id }, doc));
  }

  async listDeliveries(
    webhookId: string,
    after: DeliveryCursor | undefined,
    limit: number,
  ): Promise<WebhookDelivery[]> {
    const filter = after
      ? {
          webhookId,
          $or: [
            { createTime: { $lt: after.createTime } },
            { createTime: after.createTime, _id: { $lt: after.id } },
          ],
        }
      : { webhookId };
    const docs = await this.run("listDeliveries", () =>
      this.deliveries.find(filter).sort({ createTime: -1, _id: -1 }).limit(limit).toArray(),
    );
    return docs.map(deliveryOf);
  }

  async dueDeliveries(now: Date, limit: number): Promise<WebhookDelivery[]> {
    const docs = await this.run("dueDeliveries", () =>
      this.deliveries
        .find({ status: "pending", nextAttemptTime: { $lte: now } })
        .sort({ nextAttemptTime: 1, _id: 1 })
        .limit(limit)
        .toArray(),
    );
    return docs.map(deliveryOf);
  }
}

function hookOf(d: WebhookDoc): Webhook {
  return {
    id: d._id,
    tenantId: d.tenantId,
    url: d.url,
    secret: d.secret,
    eventTypes: [...d.eventTypes],
    description: d.description ?? "",
    createTime: d.createTime,
  };
}

function docOf(d: WebhookDelivery): DeliveryDoc {
  const { id, ...rest } = d;
  const doc: Record<string, unknown> = { _id: id };
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) doc[k] = v;
  return doc as unknown as DeliveryDoc;
}

function deliveryOf(d: DeliveryDoc): WebhookDelivery {
  return {
    id: d._id,
    webhookId: d.webhookId,
    tenantId: d.tenantId,
    eventType: d.eventType,
    sessionId: d.sessionId,
    ...(d.turnId ? { turnId: d.turnId } : {}),
    sequence: d.sequence,
    payload: d.payload,
    status: d.status,
    attempts: d.attempts,
    createTime: d.createTime,
    ...(d.nextAttemptTime ? { nextAttemptTime: d.nextAttemptTime } : {}),
    ...(d.lastAttemptTime ? { lastAttemptTime: d.lastAttemptTime } : {}),
    ...(typeof d.lastStatusCode === "number" ? { lastStatusCode: d.lastStatusCode } : {}),
    ...(d.lastError ? { lastError: d.lastError } : {}),
  };
}
