import {
  type Client,
  createClient,
  createRouterTransport,
  type Interceptor,
} from "@connectrpc/connect";
import { AgentProfileService } from "#gen/profile_service_pb.js";
import { SecretService } from "#gen/secret_service_pb.js";
import { SessionService } from "#gen/session_service_pb.js";
import { WebhookService } from "#gen/webhook_service_pb.js";
import { WorkspaceService } from "#gen/workspace_service_pb.js";
import { MemoryPersistence } from "../../src/adapters/memory/persistence.js";
import { silentLogger } from "../../src/app/shared/logger.js";
import type { PersistenceAdapter } from "../../src/ports/persistence.js";
import {
  type AgentRuntime,
  type AgentRuntimeOptions,
  createAgentRuntime,
} from "../../src/runtime.js";

export interface Clients {
  profiles: Client<typeof AgentProfileService>;
  sessions: Client<typeof SessionService>;
  workspace: Client<typeof WorkspaceService>;
  secrets: Client<typeof SecretService>;
  webhooks: Client<typeof WebhookService>;
}

/** A runtime with in-process clients (no sockets), one client set per API key. */
export async function inProcessRuntime(
  options: Partial<AgentRuntimeOptions> & { persistence?: PersistenceAdapter } = {},
): Promise<{ runtime: AgentRuntime; clients: (apiKey?: string) => Clients }> {
  const runtime = await createAgentRuntime({
    persistence: options.persistence ?? new MemoryPersistence(),
    logger: silentLogger,
    ...options,
  });
  await runtime.start();
  await runtime.recovered;
  const clients = (apiKey?: string): Clients => {
    const auth: Interceptor = (next) => (req) => {
      if (apiKey) req.header.set("authorization", `Bearer ${apiKey}`);
      return next(req);
    };
    const transport = createRouterTransport(runtime.routes, {
      router: { interceptors: runtime.interceptors },
      transport: { interceptors: [auth] },
    });
    return {
      profiles: createClient(AgentProfileService, transport),
      sessions: createClient(SessionService, transport),
      workspace: createClient(WorkspaceService, transport),
      secrets: createClient(SecretService, transport),
      webhooks: createClient(WebhookService, transport),
    };
  };
  return { runtime, clients };
}
