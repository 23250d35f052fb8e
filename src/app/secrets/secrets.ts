import { AppError, invalidField, notFound } from "../../domain/errors.js";
import { LIMITS } from "../../domain/limits.js";
import type { Secret } from "../../domain/types.js";
import type { SecretStore } from "../../ports/secrets.js";
import { checkSecretName } from "../profiles/check-profile-extras.js";
import { byteLength } from "../shared/validate.js";

/** A secret as the API shows it: never its value. */
export type SecretInfo = Omit<Secret, "value">;

/**
 * The secret use cases: set, list, delete. Every call is scoped to a tenant. Values go in and
 * never come out: no result, error message or log line holds one.
 */
export class Secrets {
  constructor(private readonly store: SecretStore) {}

  /** Creates the secret or replaces its value. */
  async set(tenantId: string, name: string, value: string): Promise<SecretInfo> {
    checkSecretName("name", name);
    checkSecretValue("value", value);
    const existing = await this.store.listSecrets(tenantId);
    if (!existing.some((s) => s.name === name) && existing.length >= LIMITS.maxSecretsPerTenant) {
      throw new AppError(
        "resource_exhausted",
        "TOO_MANY_SECRETS",
        `a tenant may have at most ${LIMITS.maxSecretsPerTenant} secrets: delete one first`,
        "name",
        { limit: String(LIMITS.maxSecretsPerTenant) },
      );
    }
    const now = new Date();
    const { value: _value, ...info } = await this.store.setSecret({
      tenantId,
      name,
      value,
      createTime: now,
      updateTime: now,
    });
    return info;
  }

  /** The tenant's secrets in name order, without values. */
  async list(tenantId: string): Promise<SecretInfo[]> {
    return this.store.listSecrets(tenantId);
  }

  /** Deletes the secret; NOT_FOUND when the tenant has none by that name (AIP-135). */
  async delete(tenantId: string, name: string): Promise<void> {
    checkSecretName("name", name);
    if (!(await this.store.deleteSecret(tenantId, name))) throw notFound("secret", name, "name");
  }
}

/** At most LIMITS.maxSecretValueBytes of UTF-8; the message never quotes the value. */
export function checkSecretValue(field: string, value: string): void {
  if (value.length === 0) throw invalidField(field, "is required");
  // No environment variable or header can hold a NUL.
  if (value.includes("\0")) throw invalidField(field, "must not contain NUL characters");
  if (byteLength(value) > LIMITS.maxSecretValueBytes)
    throw invalidField(field, `must be at most ${LIMITS.maxSecretValueBytes} bytes (UTF-8)`);
}
