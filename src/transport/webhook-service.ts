import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  type Webhook,
  type WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEventType,
  type WebhookService,
} from "#gen/webhook_service_pb.js";
import type { WebhookInfo, Webhooks } from "../app/webhooks/webhooks.js";
import { invalidField } from "../domain/errors.js";
import type {
  WebhookDeliveryStatus as DeliveryStatus,
  WebhookDelivery as DomainDelivery,
  WebhookEventType as EventType,
} from "../domain/webhooks.js";
import { principalOf } from "./auth.js";

const tenant = (ctx: HandlerContext) => principalOf(ctx).tenantId;

const EVENT_TYPES: Record<EventType, WebhookEventType> = {
  "turn.completed": WebhookEventType.TURN_COMPLETED,
  "turn.failed": WebhookEventType.TURN_FAILED,
  "approval.requested": WebhookEventType.APPROVAL_REQUESTED,
  "session.idle": WebhookEventType.SESSION_IDLE,
  "budget.reached": WebhookEventType.BUDGET_REACHED,
};
const FROM_PROTO = new Map(
  Object.entries(EVENT_TYPES).map(([k, v]) => [v, k as EventType] as const),
);
const STATUSES: Record<DeliveryStatus, WebhookDeliveryStatus> = {
  pending: WebhookDeliveryStatus.PENDING,
  delivered: WebhookDeliveryStatus.DELIVERED,
  failed: WebhookDeliveryStatus.FAILED,
};

function eventTypesFromProto(types: WebhookEventType[]): EventType[] {
  return types.map((t) => {
    const name = FROM_PROTO.get(t);
    if (!name) throw invalidField("event_types", `unknown or unspecified event type ${t}`);
    return name;
  });
}

function webhookToProto(w: WebhookInfo): Omit<Webhook, "$typeName"> {
  return {
    id: w.id,
    url: w.url,
    eventTypes: w.eventTypes.map((t) => EVENT_TYPES[t]),
    description: w.description,
    createTime: timestampFromDate(w.createTime),
  };
}

function deliveryToProto(d: DomainDelivery): Omit<WebhookDelivery, "$typeName"> {
  return {
    id: d.id,
    webhookId: d.webhookId,
    eventType: EVENT_TYPES[d.eventType],
    sessionId: d.sessionId,
    turnId: d.turnId ?? "",
    sequence: BigInt(d.sequence),
    status: STATUSES[d.status],
    attempts: d.attempts,
    createTime: timestampFromDate(d.createTime),
    ...(d.nextAttemptTime ? { nextAttemptTime: timestampFromDate(d.nextAttemptTime) } : {}),
    ...(d.lastAttemptTime ? { lastAttemptTime: timestampFromDate(d.lastAttemptTime) } : {}),
    lastStatusCode: d.lastStatusCode ?? 0,
    lastError: d.lastError ?? "",
    payload: d.payload,
  };
}

/** WebhookService: the secret goes out in CreateWebhook's response only. */
export function webhookService(webhooks: Webhooks): ServiceImpl<typeof WebhookService> {
  return {
    async createWebhook(req, ctx) {
      const { webhook, secret } = await webhooks.create(tenant(ctx), {
        url: req.url,
        eventTypes: eventTypesFromProto(req.eventTypes),
        description: req.description,
        secret: req.secret,
      });
      return { webhook: webhookToProto(webhook), secret };
    },
    async listWebhooks(_req, ctx) {
      return { webhooks: (await webhooks.list(tenant(ctx))).map(webhookToProto) };
    },
    async deleteWebhook(req, ctx) {
      await webhooks.delete(tenant(ctx), req.webhookId);
      return {};
    },
    async listWebhookDeliveries(req, ctx) {
      const page = await webhooks.deliveries(
        tenant(ctx),
        req.webhookId,
        req.pageSize,
        req.pageToken,
      );
      return {
        deliveries: page.deliveries.map(deliveryToProto),
        nextPageToken: page.nextPageToken,
      };
    },
  };
}
