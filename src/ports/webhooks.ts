import type { Webhook, WebhookDelivery } from "../domain/webhooks.js";

/** Where a page of an endpoint's deliveries starts: after this one (newest first). */
export interface DeliveryCursor {
  createTime: Date;
  id: string;
}

/**
 * The tenants' webhook endpoints and their deliveries. Writes are idempotent, like the
 * persistence adapter's; a store that cannot be reached throws STORE_UNAVAILABLE.
 *
 * Implementations: `MemoryWebhooks` (development, tests) and `MongoWebhooks` (production); both
 * pass the suite in test/webhook-store.test.ts.
 */
export interface WebhookStore {
  /** Stores a new endpoint (a retried create of the same id stores it again). */
  createWebhook(webhook: Webhook): Promise<void>;
  /** The tenant's endpoints, oldest first, with their secrets. */
  listWebhooks(tenantId: string): Promise<Webhook[]>;
  loadWebhook(webhookId: string): Promise<Webhook | null>;
  /** Removes the endpoint and its deliveries; whether it existed. */
  deleteWebhook(webhookId: string): Promise<boolean>;
  /** Stores a new delivery; one with the same id already stored is kept as it is. */
  addDelivery(delivery: WebhookDelivery): Promise<void>;
  /** Replaces a stored delivery (an attempt's result); a no-op for an unknown id. */
  updateDelivery(delivery: WebhookDelivery): Promise<void>;
  /** An endpoint's deliveries, newest first (createTime, then id), after `after`, at most `limit`. */
  listDeliveries(
    webhookId: string,
    after: DeliveryCursor | undefined,
    limit: number,
  ): Promise<WebhookDelivery[]>;
  /** Pending deliveries whose next attempt is at `now` or before, soonest first, at most `limit`. */
  dueDeliveries(now: Date, limit: number): Promise<WebhookDelivery[]>;
}
