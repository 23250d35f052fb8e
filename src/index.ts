// The library: what a host embeds. The standalone server (src/main.ts) is built on it. Everything
// exported here is the public surface; the rest of src/ may change between releases.

export { AnthropicModelProvider } from "./adapters/anthropic/model.js";
export { DemoModelProvider } from "./adapters/demo-model/model.js";
export { LocalSandboxProvider } from "./adapters/local-sandbox/provider.js";
export { MemoryPersistence } from "./adapters/memory/persistence.js";
export { MemorySecrets } from "./adapters/memory/secrets.js";
export { MemoryWebhooks } from "./adapters/memory/webhooks.js";
export { createModalProvider } from "./adapters/modal/provider.js";
export { MongoPersistence } from "./adapters/mongodb/persistence.js";
export { MongoSecrets, type MongoSecretsOptions } from "./adapters/mongodb/secrets.js";
export { MongoWebhooks } from "./adapters/mongodb/webhooks.js";
export { startTracing, type Tracing } from "./adapters/observe/tracing.js";
// `runtime.sessionManager` and what its getSession returns: the seed library's
// getLoadedSessions(), getSession(id).getState() and unloadSession(id) are their public part.
export type { LoadedSession, SessionRuntime } from "./app/sessions/loaded-session.js";
export type { SessionManager } from "./app/sessions/session-manager.js";
export { createLogger, silentLogger } from "./app/shared/logger.js";
export { AppError } from "./domain/errors.js";
export { LIMITS } from "./domain/limits.js";
export type * from "./domain/types.js";
export type * from "./domain/webhooks.js";
export type { Logger } from "./ports/logger.js";
export type * from "./ports/model.js";
export type * from "./ports/persistence.js";
export type * from "./ports/sandbox.js";
export type * from "./ports/secrets.js";
export type * from "./ports/webhooks.js";
export {
  type AgentRuntime,
  type AgentRuntimeOptions,
  createAgentRuntime,
  demoProfile,
} from "./runtime.js";
export { type ListeningServer, listen } from "./server.js";
