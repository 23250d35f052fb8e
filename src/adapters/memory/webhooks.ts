import type { Webhook, WebhookDelivery } from "../../domain/webhooks.js";
import type { DeliveryCursor, WebhookStore } from "../../ports/webhooks.js";

const copyHook = (w: Webhook): Webhook => ({ ...w, eventTypes: [...w.eventTypes] });
const copy = (d: WebhookDelivery): WebhookDelivery => ({ ...d });

/** Newest first: createTime descending, then id descending. */
const newestFirst = (a: WebhookDelivery, b: WebhookDelivery) =>
  b.createTime.getTime() - a.createTime.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** Webhook endpoints and deliveries in process memory: for development and tests. */
export class MemoryWebhooks implements WebhookStore {
  private readonly hooks = new Map<string, Webhook>();
  private readonly deliveries = new Map<string, WebhookDelivery>();

  async createWebhook(webhook: Webhook): Promise<void> {
    this.hooks.set(webhook.id, copyHook(webhook));
  }

  async listWebhooks(tenantId: string): Promise<Webhook[]> {
    return [...this.hooks.values()]
      .filter((w) => w.tenantId === tenantId)
      .sort((a, b) => a.createTime.getTime() - b.createTime.getTime() || (a.id < b.id ? -1 : 1))
      .map(copyHook);
  }

  async loadWebhook(webhookId: string): Promise<Webhook | null> {
    const w = this.hooks.get(webhookId);
    return w ? copyHook(w) : null;
  }

  async deleteWebhook(webhookId: string): Promise<boolean> {
    for (const [id, d] of this.deliveries)
      if (d.webhookId === webhookId) this.deliveries.delete(id);
    return this.hooks.delete(webhookId);
  }

  async addDelivery(delivery: WebhookDelivery): Promise<void> {
    if (!this.deliveries.has(delivery.id)) this.deliveries.set(delivery.id, copy(delivery));
  }

  async updateDelivery(delivery: WebhookDelivery): Promise<void> {
    if (this.deliveries.has(delivery.id)) this.deliveries.set(delivery.id, copy(delivery));
  }

  async listDeliveries(
    webhookId: string,
    after: DeliveryCursor | undefined,
    limit: number,
  ): Promise<WebhookDelivery[]> {
    const all = [...this.deliveries.values()].filter((d) => d.webhookId === webhookId);
    all.sort(newestFirst);
    const from = after
      ? all.filter(
          (d) =>
            d.createTime.getTime() < after.createTime.getTime() ||
            (d.createTime.getTime() === after.createTime.getTime() && d.id < after.id),
        )
      : all;
    return from.slice(0, limit).map(copy);
  }

  async dueDeliveries(now: Date, limit: number): Promise<WebhookDelivery[]> {
    return [...this.deliveries.values()]
      .filter((d) => d.status === "pending" && (d.nextAttemptTime?.getTime() ?? 0) <= now.getTime())
      .sort((a, b) => (a.nextAttemptTime?.getTime() ?? 0) - (b.nextAttemptTime?.getTime() ?? 0))
      .slice(0, limit)
      .map(copy);
  }
}
