import { createHash } from "node:crypto";
import { createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { AppError } from "../domain/errors.js";
import { appErrorToConnect } from "./errors.js";

/** The tenant every request runs as when no API keys are configured. */
export const OPEN_TENANT = "default";

export interface Principal {
  tenantId: string;
  /** The API key's name: a fingerprint of it (absent: the open tenant, no keys configured). */
  keyName?: string;
}

/** A key's name where it is recorded (who answered a tool call): not the key itself. */
export function keyNameOf(key: string): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 12);
}

export const principalKey = createContextKey<Principal | undefined>(undefined, {
  description: "the authenticated caller",
});

export function principalOf(ctx: HandlerContext): Principal {
  const principal = ctx.values.get(principalKey);
  if (!principal) throw new AppError("unauthenticated", "UNAUTHENTICATED", "not authenticated");
  return principal;
}

/** Services anyone may call: health checks and reflection. */
const PUBLIC_SERVICES = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

/**
 * API keys as `Authorization: Bearer <key>`, each bound to a tenant. With no keys configured,
 * every caller is the open tenant.
 */
export function authInterceptor(apiKeys: ReadonlyMap<string, string>): Interceptor {
  return (next) => async (req) => {
    if (PUBLIC_SERVICES.has(req.service.typeName)) return next(req);
    if (apiKeys.size === 0) {
      req.contextValues.set(principalKey, { tenantId: OPEN_TENANT });
      return next(req);
    }
    const header = req.header.get("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    const tenantId = match?.[1] ? apiKeys.get(match[1]) : undefined;
    if (!tenantId) {
      throw appErrorToConnect(
        new AppError(
          "unauthenticated",
          header ? "INVALID_API_KEY" : "MISSING_API_KEY",
          header ? "the API key is not valid" : "send an API key as Authorization: Bearer <key>",
        ),
      );
    }
    req.contextValues.set(principalKey, { tenantId, keyName: keyNameOf(match![1]!) });
    return next(req);
  };
}
