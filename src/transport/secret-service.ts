import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { Secret, SecretService } from "#gen/secret_service_pb.js";
import type { SecretInfo, Secrets } from "../app/secrets/secrets.js";
import { principalOf } from "./auth.js";
import { ts } from "./mapping.js";

const tenant = (ctx: HandlerContext) => principalOf(ctx).tenantId;

/** A secret as the API shows it: name and times, never the value. */
function secretToProto(s: SecretInfo): Omit<Secret, "$typeName"> {
  return { name: s.name, createTime: ts(s.createTime), updateTime: ts(s.updateTime) };
}

/** SecretService: values go in through SetSecret and no RPC returns them. */
export function secretService(secrets: Secrets): ServiceImpl<typeof SecretService> {
  return {
    async setSecret(req, ctx) {
      return { secret: secretToProto(await secrets.set(tenant(ctx), req.name, req.value)) };
    },
    async listSecrets(_req, ctx) {
      return { secrets: (await secrets.list(tenant(ctx))).map(secretToProto) };
    },
    async deleteSecret(req, ctx) {
      await secrets.delete(tenant(ctx), req.name);
      return {};
    },
  };
}
