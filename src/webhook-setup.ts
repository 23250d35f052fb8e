// Part of the composition root: the webhook use cases and the delivery worker, fed with the
// events the store took.

import { MemoryWebhooks } from "./adapters/memory/webhooks.js";
import { postWebhook } from "./adapters/webhooks/http.js";
import { WebhookDeliveries, type WebhookPost } from "./app/webhooks/deliveries.js";
import { Webhooks } from "./app/webhooks/webhooks.js";
import type { Observability } from "./observability.js";
import type { Logger } from "./ports/logger.js";
import type { PersistenceAdapter } from "./ports/persistence.js";
import type { WebhookStore } from "./ports/webhooks.js";

export interface WebhookOptions {
  /** Webhook endpoints and deliveries. Default: in memory (lost at restart). */
  webhookStore?: WebhookStore;
  /** Waits between a delivery's attempts. Default 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h. */
  webhookRetryDelaysMs?: number[];
  /** How long a delivery is retried. Default a day. */
  webhookRetryWindowMs?: number;
  /** How one attempt is sent. Default: an HTTP POST. */
  webhookPost?: WebhookPost;
}

export function setupWebhooks(
  options: WebhookOptions,
  store: PersistenceAdapter,
  observe: Observability,
  logger: Logger,
): { webhooks: Webhooks; deliveries: WebhookDeliveries } {
  const hooks = options.webhookStore ?? new MemoryWebhooks();
  const deliveries = new WebhookDeliveries({
    store: hooks,
    tenantOf: async (sessionId) =>
      observe.tenantOf(sessionId) ?? (await store.loadSession(sessionId))?.tenantId,
    post: options.webhookPost ?? postWebhook,
    logger,
    ...(options.webhookRetryDelaysMs ? { retryDelaysMs: options.webhookRetryDelaysMs } : {}),
    ...(options.webhookRetryWindowMs ? { retryWindowMs: options.webhookRetryWindowMs } : {}),
    onAttempt: (d, result) =>
      observe.metrics?.webhookDeliveries.inc({ event: d.eventType, result }),
  });
  observe.onEventsStored((sessionId, events) => deliveries.eventsStored(sessionId, events));
  return { webhooks: new Webhooks(hooks), deliveries };
}
