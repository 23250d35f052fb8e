// Webhook endpoints and their deliveries (WebhookService; src/app/webhooks/).

import { createHash } from "node:crypto";

export const WEBHOOK_EVENT_TYPES = [
  "turn.completed",
  "turn.failed",
  "approval.requested",
  "session.idle",
  "budget.reached",
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A tenant's endpoint, as stored (with its secret). */
export interface Webhook {
  id: string;
  tenantId: string;
  url: string;
  /** `whsec_` + base64 of the signing key. */
  secret: string;
  eventTypes: WebhookEventType[];
  description: string;
  createTime: Date;
}

export type WebhookDeliveryStatus = "pending" | "delivered" | "failed";

/** One message to one endpoint: its body is fixed, attempts change the rest. */
export interface WebhookDelivery {
  id: string;
  webhookId: string;
  tenantId: string;
  eventType: WebhookEventType;
  sessionId: string;
  turnId?: string;
  sequence: number;
  /** The JSON body, the same on every attempt. */
  payload: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  createTime: Date;
  nextAttemptTime?: Date;
  lastAttemptTime?: Date;
  lastStatusCode?: number;
  lastError?: string;
}

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

/**
 * The delivery of a session event to an endpoint has one id, whoever makes it and however often
 * (a batch of events stored again after a lost acknowledgement makes no second delivery).
 */
export function deliveryIdFor(webhookId: string, sessionId: string, sequence: number): string {
  const digest = createHash("sha256").update(`${webhookId}:${sessionId}:${sequence}`).digest();
  let out = "";
  for (let i = 0; i < 26; i++) out += ALPHABET[digest[i]! % 32];
  return `whd_${out}`;
}
