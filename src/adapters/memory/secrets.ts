import type { Secret } from "../../domain/types.js";
import type { SecretStore } from "../../ports/secrets.js";

/** Secrets in process memory: for development and tests. */
export class MemorySecrets implements SecretStore {
  private readonly secrets = new Map<string, Secret>();

  private key(tenantId: string, name: string): string {
    return `${tenantId}\u0000${name}`;
  }

  async setSecret(secret: Secret): Promise<Secret> {
    const before = this.secrets.get(this.key(secret.tenantId, secret.name));
    const stored = { ...secret, createTime: before?.createTime ?? secret.createTime };
    this.secrets.set(this.key(secret.tenantId, secret.name), stored);
    return { ...stored };
  }

  async listSecrets(tenantId: string): Promise<Omit<Secret, "value">[]> {
    return [...this.secrets.values()]
      .filter((s) => s.tenantId === tenantId)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(({ value: _value, ...rest }) => rest);
  }

  async deleteSecret(tenantId: string, name: string): Promise<boolean> {
    return this.secrets.delete(this.key(tenantId, name));
  }

  async resolve(tenantId: string, names: string[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const name of names) {
      const s = this.secrets.get(this.key(tenantId, name));
      if (s) out[name] = s.value;
    }
    return out;
  }
}
