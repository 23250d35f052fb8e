// Standard Webhooks signing (https://www.standardwebhooks.com): the secret is `whsec_` and the
// base64 of the key; the signature is `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`.

import { createHmac, randomBytes } from "node:crypto";
import { invalidField } from "../../domain/errors.js";
import { LIMITS } from "../../domain/limits.js";

const PREFIX = "whsec_";

export function generateSecret(): string {
  return PREFIX + randomBytes(32).toString("base64");
}

/** A secret a client chose: `whsec_` and the base64 of 24 to 64 bytes. */
export function checkSecret(field: string, secret: string): void {
  const body = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : undefined;
  const valid = body !== undefined && /^[A-Za-z0-9+/]+={0,2}$/.test(body) && body.length % 4 === 0;
  const bytes = valid ? Buffer.from(body, "base64").length : 0;
  if (bytes < LIMITS.minWebhookSecretBytes || bytes > LIMITS.maxWebhookSecretBytes) {
    throw invalidField(
      field,
      `must be "whsec_" and the base64 of ${LIMITS.minWebhookSecretBytes} to ${LIMITS.maxWebhookSecretBytes} random bytes, or empty for one the server makes`,
    );
  }
}

/** The `webhook-signature` header's value. */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.slice(PREFIX.length), "base64");
  const mac = createHmac("sha256", key)
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest("base64");
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers of one attempt. */
export function signedHeaders(
  secret: string,
  id: string,
  body: string,
  now: Date,
): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": sign(secret, id, timestamp, body),
  };
}
