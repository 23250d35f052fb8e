import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { AppError } from "../../domain/errors.js";
import type { SealedValue } from "./documents.js";

// Secret values at rest: AES-256-GCM with the server's key (SECRETS_KEY), a fresh 96-bit IV per
// value, and the secret's `tenantId/name` as associated data, so a sealed value copied onto
// another secret's document does not open.

const ALG = "aes-256-gcm";

/** A key's fingerprint (not the key): names which key sealed a value, for clear errors. */
export function keyId(key: Buffer): string {
  return createHash("sha256")
    .update("agent-runtime secrets key")
    .update(key)
    .digest("hex")
    .slice(0, 12);
}

export class SecretCipher {
  readonly kid: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error("a secrets key is 32 bytes (AES-256)");
    this.kid = keyId(key);
  }

  seal(id: string, value: string): SealedValue {
    const iv = randomBytes(12);
    const cipher = createCipheriv(ALG, this.key, iv);
    cipher.setAAD(Buffer.from(id, "utf8"));
    const data = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    return {
      alg: "A256GCM",
      kid: this.kid,
      iv: iv.toString("base64"),
      tag: cipher.getAuthTag().toString("base64"),
      data: data.toString("base64"),
    };
  }

  /** The value, or FAILED_PRECONDITION SECRET_UNREADABLE (wrong key, altered document). */
  open(id: string, name: string, sealed: SealedValue): string {
    if (sealed.kid !== this.kid) {
      throw unreadable(
        name,
        `it was stored with another SECRETS_KEY (key id ${sealed.kid}; this server's is ${this.kid})`,
      );
    }
    try {
      const decipher = createDecipheriv(ALG, this.key, Buffer.from(sealed.iv, "base64"));
      decipher.setAAD(Buffer.from(id, "utf8"));
      decipher.setAuthTag(Buffer.from(sealed.tag, "base64"));
      const data = Buffer.from(sealed.data, "base64");
      return Buffer.concat([decipher.update(data), decipher.final()]).toString("utf8");
    } catch {
      throw unreadable(name, "its stored form does not decrypt with this server's SECRETS_KEY");
    }
  }
}

export function unreadable(name: string, why: string): AppError {
  return new AppError(
    "failed_precondition",
    "SECRET_UNREADABLE",
    `secret ${JSON.stringify(name)} cannot be read: ${why}; set it again`,
    undefined,
    { name },
  );
}
