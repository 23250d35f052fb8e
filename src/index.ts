// The library: what a host embeds. The standalone server (src/main.ts) is built on it. Everything
// exported here is the public surface; the rest of src/ may change between releases.

export { AnthropicModelProvider } from "./adapters/anthropic/model.js";
export { DemoModelProvider } from "./adapters/demo-model/model.js";
export { LocalSandboxProvider } from "./adapters/local-sandbox/provider.js";
export { MemoryPersistence } from "./adapters/memory/persistence.js";
export { createModalProvider } from "./adapters/modal/provider.js";
export { MongoPersistence } from "./adapters/mongodb/persistence.js";
export type { SessionRuntime } from "./app/sessions/loaded-session.js";
export { createLogger, silentLogger } from "./app/shared/logger.js";
export { AppError } from "./domain/errors.js";
export { LIMITS } from "./domain/limits.js";
export type * from "./domain/types.js";
export type { Logger } from "./ports/logger.js";
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

/** A loaded session as `sessionManager.getSession(id)` returns it. */
export interface LoadedSessionView {
  readonly id: string;
  getState(): import("./app/sessions/loaded-session.js").SessionRuntime & {
    record: import("./domain/types.js").SessionRecord;
  };
}

/** The loaded sessions, as `runtime.sessionManager` offers them to a host. */
export interface SessionManagerView {
  getLoadedSessions(): LoadedSessionView[];
  getSession(sessionId: string): LoadedSessionView | undefined;
  /** Syncs the workspace, ends the sandbox and unloads the session (a running turn is interrupted). */
  unloadSession(sessionId: string): Promise<void>;
}
