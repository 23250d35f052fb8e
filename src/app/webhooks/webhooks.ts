import { AppError, invalidField, notFound } from "../../domain/errors.js";
import { isId, newId } from "../../domain/ids.js";
import { LIMITS } from "../../domain/limits.js";
import {
  WEBHOOK_EVENT_TYPES,
  type Webhook,
  type WebhookDelivery,
  type WebhookEventType,
} from "../../domain/webhooks.js";
import type { DeliveryCursor, WebhookStore } from "../../ports/webhooks.js";
import { decodePageToken, encodePageToken, pageSize } from "../shared/validate.js";
import { checkSecret, generateSecret } from "./signing.js";

/** An endpoint as the API shows it: never its secret. */
export type WebhookInfo = Omit<Webhook, "secret">;

export interface NewWebhook {
  url: string;
  eventTypes: WebhookEventType[];
  description: string;
  /** Empty: the server makes one. */
  secret: string;
}

const hide = ({ secret: _secret, ...info }: Webhook): WebhookInfo => info;

const isCursor = (p: unknown): p is { t: number; id: string } =>
  typeof p === "object" &&
  p !== null &&
  typeof (p as { t?: unknown }).t === "number" &&
  typeof (p as { id?: unknown }).id === "string";

/**
 * The webhook use cases: register, list and delete a tenant's endpoints, and read their
 * deliveries. Every call is scoped to a tenant; an endpoint of another tenant is NOT_FOUND.
 */
export class Webhooks {
  constructor(private readonly store: WebhookStore) {}

  /** Registers an endpoint; the secret is returned here only. */
  async create(
    tenantId: string,
    req: NewWebhook,
  ): Promise<{ webhook: WebhookInfo; secret: string }> {
    checkUrl("url", req.url);
    if (req.eventTypes.length === 0)
      throw invalidField("event_types", "name at least one event type");
    for (const t of req.eventTypes)
      if (!WEBHOOK_EVENT_TYPES.includes(t))
        throw invalidField("event_types", `unknown event type ${JSON.stringify(t)}`);
    if (req.description.length > LIMITS.maxDescriptionLength)
      throw invalidField(
        "description",
        `must be at most ${LIMITS.maxDescriptionLength} characters`,
      );
    if (req.secret !== "") checkSecret("secret", req.secret);
    const existing = await this.store.listWebhooks(tenantId);
    if (existing.length >= LIMITS.maxWebhooksPerTenant) {
      throw new AppError(
        "resource_exhausted",
        "TOO_MANY_WEBHOOKS",
        `a tenant may have at most ${LIMITS.maxWebhooksPerTenant} webhooks: delete one first`,
        undefined,
        { limit: String(LIMITS.maxWebhooksPerTenant) },
      );
    }
    const webhook: Webhook = {
      id: newId("whk"),
      tenantId,
      url: req.url,
      secret: req.secret || generateSecret(),
      eventTypes: [...new Set(req.eventTypes)],
      description: req.description,
      createTime: new Date(),
    };
    await this.store.createWebhook(webhook);
    return { webhook: hide(webhook), secret: webhook.secret };
  }

  async list(tenantId: string): Promise<WebhookInfo[]> {
    return (await this.store.listWebhooks(tenantId)).map(hide);
  }

  async delete(tenantId: string, webhookId: string): Promise<void> {
    await this.owned(tenantId, webhookId);
    await this.store.deleteWebhook(webhookId);
  }

  /** The endpoint's deliveries, newest first. */
  async deliveries(
    tenantId: string,
    webhookId: string,
    size: number,
    token: string,
  ): Promise<{ deliveries: WebhookDelivery[]; nextPageToken: string }> {
    const limit = pageSize("page_size", size, LIMITS.defaultPageSize, LIMITS.maxPageSize);
    const at = decodePageToken("page_token", token, `deliveries:${webhookId}`, isCursor);
    await this.owned(tenantId, webhookId);
    const after: DeliveryCursor | undefined = at
      ? { createTime: new Date(at.t), id: at.id }
      : undefined;
    const page = await this.store.listDeliveries(webhookId, after, limit + 1);
    const deliveries = page.slice(0, limit);
    const last = deliveries.at(-1);
    const nextPageToken =
      page.length > limit && last
        ? encodePageToken(`deliveries:${webhookId}`, { t: last.createTime.getTime(), id: last.id })
        : "";
    return { deliveries, nextPageToken };
  }

  private async owned(tenantId: string, webhookId: string): Promise<Webhook> {
    if (!isId("whk", webhookId)) throw invalidField("webhook_id", "is not a webhook id (whk_...)");
    const hook = await this.store.loadWebhook(webhookId);
    if (!hook || hook.tenantId !== tenantId) throw notFound("webhook", webhookId, "webhook_id");
    return hook;
  }
}

/** An absolute http or https URL with a host, no fragment, at most maxWebhookUrlLength. */
function checkUrl(field: string, value: string): void {
  if (value === "") throw invalidField(field, "is required");
  if (value.length > LIMITS.maxWebhookUrlLength)
    throw invalidField(field, `must be at most ${LIMITS.maxWebhookUrlLength} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidField(field, "must be an absolute URL (https://host/path)");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw invalidField(field, "must be an http or https URL");
  if (url.hostname === "") throw invalidField(field, "must name a host");
  if (url.hash !== "") throw invalidField(field, "must not have a fragment (#...)");
}
