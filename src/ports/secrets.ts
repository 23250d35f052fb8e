import type { Secret } from "../domain/types.js";

/**
 * A tenant's named secrets. Values leave the store only through `resolve`, for the sandbox's
 * environment and MCP server headers; nothing else returns them.
 *
 * Implementations: `MemorySecrets` (development, tests) and `MongoSecrets` (production).
 */
export interface SecretStore {
  /** Creates or replaces; returns the secret as stored. */
  setSecret(secret: Secret): Promise<Secret>;
  /** The tenant's secrets in name order, values blanked. */
  listSecrets(tenantId: string): Promise<Omit<Secret, "value">[]>;
  /** Whether it existed. */
  deleteSecret(tenantId: string, name: string): Promise<boolean>;
  /** The values of the named secrets that exist (missing names are absent from the result). */
  resolve(tenantId: string, names: string[]): Promise<Record<string, string>>;
}
