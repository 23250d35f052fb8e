import type { Db } from "mongodb";
import type { Secret } from "../../domain/types.js";
import type { SecretStore } from "../../ports/secrets.js";
import { type MongoPersistenceOptions, resilienceSettings } from "./client.js";
import { type Collections, collectionsOf, type Run } from "./collections.js";
import type { SecretDoc } from "./documents.js";
import { INDEXES } from "./indexes.js";
import { runOperation } from "./resilience.js";
import { SecretCipher, unreadable } from "./secret-cipher.js";
import { retryOnDuplicate } from "./writes.js";

export interface MongoSecretsOptions extends MongoPersistenceOptions {
  /**
   * AES-256-GCM key (32 bytes) values are sealed with before they are stored. Without one they
   * are stored as given. Values stored without a key still read once a key is set.
   */
  key?: Buffer;
}

/**
 * The tenants' secrets in MongoDB, in `<prefix>secrets` of the persistence adapter's database,
 * with the same deadlines and retries (resilience.ts). Every write is idempotent: set is an
 * upsert of the whole value, delete a delete. Values are read only by `resolve`.
 */
export class MongoSecrets implements SecretStore {
  private readonly collection: Collections["secrets"];
  private readonly run: Run;
  private readonly cipher: SecretCipher | undefined;
  private readonly settings: ReturnType<typeof resilienceSettings>;

  constructor(db: Db, options: MongoSecretsOptions = {}) {
    this.collection = collectionsOf(db, options.collectionPrefix ?? "ar_").secrets;
    this.settings = resilienceSettings(options);
    this.run = (operation, attempt) => runOperation(this.settings, operation, attempt);
    this.cipher = options.key ? new SecretCipher(options.key) : undefined;
  }

  /** Creates the collection's indexes (MongoPersistence.ensureIndexes() creates them too). */
  async ensureIndexes(): Promise<void> {
    await runOperation(
      this.settings,
      "ensureIndexes",
      async () => {
        for (const { serves: _, ...index } of INDEXES.secrets)
          await this.collection.createIndexes([index]);
      },
      this.settings.indexTimeoutMs,
    );
  }

  async setSecret(secret: Secret): Promise<Secret> {
    const _id = docId(secret.tenantId, secret.name);
    const stored = this.cipher
      ? { sealed: this.cipher.seal(_id, secret.value) }
      : { value: secret.value };
    const unset = this.cipher ? { value: "" as const } : { sealed: "" as const };
    const doc = await this.run("setSecret", () =>
      retryOnDuplicate(() =>
        this.collection.findOneAndUpdate(
          { _id },
          {
            $set: {
              tenantId: secret.tenantId,
              name: secret.name,
              ...stored,
              updateTime: secret.updateTime,
            },
            $unset: unset,
            $setOnInsert: { createTime: secret.createTime },
          },
          // FerretDB v1 takes no projection here.
          { upsert: true, returnDocument: "after" },
        ),
      ),
    );
    return { ...secret, createTime: doc?.createTime ?? secret.createTime };
  }

  async listSecrets(tenantId: string): Promise<Omit<Secret, "value">[]> {
    const docs = await this.run("listSecrets", () =>
      this.collection
        .find(
          { tenantId },
          { projection: { _id: 0, tenantId: 1, name: 1, createTime: 1, updateTime: 1 } },
        )
        .sort({ name: 1 })
        .toArray(),
    );
    return docs.map((d) => ({
      tenantId: d.tenantId,
      name: d.name,
      createTime: d.createTime,
      updateTime: d.updateTime,
    }));
  }

  async deleteSecret(tenantId: string, name: string): Promise<boolean> {
    const result = await this.run("deleteSecret", () =>
      this.collection.deleteOne({ _id: docId(tenantId, name) }),
    );
    return result.deletedCount > 0;
  }

  async resolve(tenantId: string, names: string[]): Promise<Record<string, string>> {
    if (names.length === 0) return {};
    const docs = await this.run("resolveSecrets", () =>
      this.collection.find({ tenantId, name: { $in: [...new Set(names)] } }).toArray(),
    );
    const out: Record<string, string> = {};
    for (const doc of docs) out[doc.name] = this.valueOf(doc);
    return out;
  }

  private valueOf(doc: SecretDoc): string {
    if (doc.sealed) {
      if (!this.cipher)
        throw unreadable(doc.name, "it is stored encrypted and this server has no SECRETS_KEY");
      return this.cipher.open(doc._id, doc.name, doc.sealed);
    }
    if (typeof doc.value === "string") return doc.value;
    throw unreadable(doc.name, "its stored document holds no value");
  }
}

/** One document per tenant and name (names hold no `/`, so no two pairs share an id). */
function docId(tenantId: string, name: string): string {
  return `${tenantId}/${name}`;
}
