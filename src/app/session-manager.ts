import type {
  FileInfo,
  QueuedMessage,
  SandboxStatus,
  SessionRecord,
  Turn,
} from "../domain/types.js";
import type { PersistenceAdapter } from "../ports/persistence.js";
import type { Logger } from "./logger.js";
import { fileInfo } from "./sessions.js";

/** What runs for a session right now, as GetSession shows it. */
export interface SessionRuntimeView {
  loaded: boolean;
  sandboxStatus: SandboxStatus;
  sandboxId: string;
  currentTurn?: Turn;
  queuedMessages: QueuedMessage[];
}

/** A session held in memory: it has a sandbox or a turn. */
export interface LoadedSession {
  readonly id: string;
  getState(): SessionRuntimeView & { record: SessionRecord };
}

export interface SessionManagerOptions {
  store: PersistenceAdapter;
  logger: Logger;
}

/**
 * Holds the loaded sessions: their sandboxes, turns and event feeds. Sessions load on the first
 * message that needs them and unload on idle timeout, unloadSession or shutdown.
 */
export class SessionManager {
  private readonly loaded = new Map<string, LoadedSession>();
  private readonly store: PersistenceAdapter;

  constructor(options: SessionManagerOptions) {
    this.store = options.store;
  }

  getLoadedSessions(): LoadedSession[] {
    return [...this.loaded.values()];
  }

  getSession(sessionId: string): LoadedSession | undefined {
    return this.loaded.get(sessionId);
  }

  async unloadSession(sessionId: string): Promise<void> {
    this.loaded.delete(sessionId);
  }

  runtimeOf(sessionId: string): SessionRuntimeView {
    const session = this.loaded.get(sessionId);
    if (session) return session.getState();
    return { loaded: false, sandboxStatus: "none", sandboxId: "", queuedMessages: [] };
  }

  /** Ends the session's sandbox and forgets it; the caller removes the stored data. */
  async destroySession(sessionId: string): Promise<void> {
    await this.unloadSession(sessionId);
  }

  async listFiles(sessionId: string): Promise<FileInfo[]> {
    return this.store.listWorkspaceFiles(sessionId);
  }

  async readFile(
    sessionId: string,
    path: string,
  ): Promise<{ info: FileInfo; content: Uint8Array } | null> {
    return this.store.readWorkspaceFile(sessionId, path);
  }

  async writeFile(sessionId: string, path: string, content: Uint8Array): Promise<FileInfo> {
    const info = fileInfo(path, content);
    await this.store.saveWorkspaceFile(sessionId, { info, content });
    return info;
  }

  /** Returns false when there was no such file. */
  async deleteFile(sessionId: string, path: string): Promise<boolean> {
    const existing = await this.store.readWorkspaceFile(sessionId, path);
    if (!existing) return false;
    await this.store.deleteSessionFile(sessionId, path);
    return true;
  }

  async start(): Promise<void> {}

  async shutdown(): Promise<void> {
    for (const id of [...this.loaded.keys()]) await this.unloadSession(id);
  }
}
