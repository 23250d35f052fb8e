// The library: what a host embeds. The standalone server (src/main.ts) is built on it.

export { AnthropicModelProvider } from "./adapters/anthropic/model.js";
export { DemoModelProvider } from "./adapters/demo-model/model.js";
export { MemoryPersistence } from "./adapters/memory/persistence.js";
export { MongoPersistence } from "./adapters/mongodb/persistence.js";
export { createLogger, type Logger, silentLogger } from "./app/logger.js";
export type { LoadedSession, SessionManager } from "./app/session-manager.js";
export { AppError } from "./domain/errors.js";
export { LIMITS } from "./domain/limits.js";
export type * from "./domain/types.js";
export type * from "./ports/model.js";
export type * from "./ports/persistence.js";
export type * from "./ports/sandbox.js";
export {
  type AgentRuntime,
  type AgentRuntimeOptions,
  createAgentRuntime,
  demoProfile,
} from "./runtime.js";
export { type ListeningServer, listen } from "./server.js";
