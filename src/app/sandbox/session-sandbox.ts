import { createHash } from "node:crypto";
import { AppError } from "../../domain/errors.js";
import { LIMITS } from "../../domain/limits.js";
import { profileExtras } from "../../domain/profile-extras.js";
import type {
  AgentProfile,
  EventPayload,
  SandboxStatus,
  SessionState,
} from "../../domain/types.js";
import type { Logger } from "../../ports/logger.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import { type Sandbox, SandboxFileError, type SandboxProvider } from "../../ports/sandbox.js";
import type { SecretStore } from "../../ports/secrets.js";
import type { EmitContext } from "../feed/event-feed.js";
import { inSpan } from "../observe/tracing.js";
import type { KeyedLock } from "../shared/keyed-lock.js";
import { writeSkills } from "./skills.js";
import { sandboxDependencies, secretEnvironment } from "./start-inputs.js";
import {
  type FileChange,
  restoreWorkspace,
  type SavedFiles,
  syncWorkspace,
} from "./workspace-sync.js";

export interface SandboxProviders {
  /** The provider for profiles that name none. */
  defaultProvider: string;
  providers: ReadonlyMap<string, SandboxProvider>;
}

export interface SessionSandboxDeps {
  sessionId: string;
  store: PersistenceAdapter;
  logger: Logger;
  /** Resolves the profile's `sandbox.secret_env`; without it, a profile that has any fails. */
  secrets?: SecretStore | undefined;
  providers: SandboxProviders | undefined;
  /** The workspace lock, shared with the file API: one workspace operation at a time. */
  locks: KeyedLock;
  syncIntervalMs: number;
  emit(payload: EventPayload, context?: EmitContext): void;
  /** The session's state, for status events. */
  state(): SessionState;
  /** Stores where the sandbox is, so a restarted server finds it again. */
  remember(where: { provider: string; sandboxId: string } | undefined): Promise<void>;
  /**
   * Brackets saving files and storing their events: `true` before the first file is saved,
   * `false` once their events are stored (see SessionRecord.fileEventsPending).
   */
  filesPending(pending: boolean): Promise<void>;
  /** Resolves when the feed's events so far are stored. */
  flush(): Promise<void>;
}

/** Picks the profile's sandbox provider, or fails with a clear reason. */
export function providerFor(providers: SandboxProviders | undefined, profile: AgentProfile) {
  if (!providers) {
    throw new AppError(
      "failed_precondition",
      "NO_SANDBOX_PROVIDER",
      "this server runs no sandbox provider",
    );
  }
  const name =
    profile.sandbox.provider === "default" ? providers.defaultProvider : profile.sandbox.provider;
  const provider = providers.providers.get(name);
  if (!provider) {
    throw new AppError(
      "failed_precondition",
      "SANDBOX_PROVIDER_UNAVAILABLE",
      `the profile asks for the ${name} sandbox provider, which this server does not run`,
    );
  }
  return provider;
}

/**
 * A loaded session's sandbox: started lazily (once, even when calls race) with the workspace
 * restored, synced periodically and after every tool call, stopped with a final sync. Every
 * operation holds the session's workspace lock, so a file written through the API and a
 * sandbox start or sync never interleave.
 */
export class SessionSandbox {
  private sandbox: Sandbox | undefined;
  private current: SandboxStatus = "none";
  private saved: SavedFiles = new Map();
  private starting: Promise<Sandbox> | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private stopHooks: Array<() => Promise<void>> = [];

  constructor(private readonly d: SessionSandboxDeps) {}

  get status(): SandboxStatus {
    return this.current;
  }

  get id(): string {
    return this.sandbox?.id ?? "";
  }

  /** The running sandbox, if any. Use under the workspace lock (`withLock`). */
  get live(): Sandbox | undefined {
    return this.sandbox;
  }

  /** What the last sync saw, path -> info; kept in step by the file API. */
  get savedFiles(): SavedFiles {
    return this.saved;
  }

  withLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.d.locks.run(this.d.sessionId, fn);
  }

  private setStatus(status: SandboxStatus, message: string, context?: EmitContext): void {
    this.current = status;
    this.d.emit(
      { type: "status_changed", state: this.d.state(), sandboxStatus: status, message },
      context,
    );
  }

  /** The session's sandbox, created and restored on first use; one start at a time. */
  ensure(profile: AgentProfile, context: EmitContext = {}): Promise<Sandbox> {
    this.starting ??= this.withLock(() => this.start(profile, context)).finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async start(profile: AgentProfile, context: EmitContext): Promise<Sandbox> {
    if (this.sandbox) {
      if (await this.sandbox.isAlive().catch(() => false)) {
        // The skills are the profile's: put back any the agent removed.
        await writeSkills(this.sandbox, profileExtras(profile).skills, true).catch((err: unknown) =>
          this.d.logger.warn("restoring skills failed", { sessionId: this.d.sessionId, err }),
        );
        return this.sandbox;
      }
      this.d.logger.warn("sandbox died", { sessionId: this.d.sessionId, sandboxId: this.id });
      this.sandbox = undefined;
      this.stopTimer();
      this.setStatus("terminated", "the sandbox stopped unexpectedly; starting a new one", context);
    }
    let sandbox: Sandbox | undefined;
    try {
      const provider = providerFor(this.d.providers, profile);
      const secretEnv = await secretEnvironment(this.d.secrets, profile);
      this.setStatus("starting", `creating a ${provider.name} sandbox`, context);
      sandbox = await provider.create({
        sessionId: this.d.sessionId,
        settings: profile.sandbox,
        ...(Object.keys(secretEnv).length > 0 ? { secretEnv } : {}),
        ...sandboxDependencies(profile),
        onProgress: (message) => this.setStatus("starting", message, context),
      });
      this.setStatus("starting", "restoring the workspace", context);
      this.saved = await restoreWorkspace(this.d.sessionId, sandbox, this.d.store);
      await writeSkills(sandbox, profileExtras(profile).skills);
      await this.d.remember({ provider: provider.name, sandboxId: sandbox.id });
      this.sandbox = sandbox;
      this.setStatus("ready", `sandbox ${sandbox.id} is ready`, context);
      this.startTimer();
      return sandbox;
    } catch (err) {
      this.sandbox = undefined;
      if (sandbox) await sandbox.terminate().catch(() => {});
      const reason = err instanceof Error ? err.message : String(err);
      this.d.logger.error("sandbox start failed", { sessionId: this.d.sessionId, err });
      this.setStatus("failed", reason, context);
      if (err instanceof AppError) throw err;
      throw new AppError(
        "unavailable",
        "SANDBOX_START_FAILED",
        `the sandbox could not start: ${reason}`,
      );
    }
  }

  /**
   * Takes over a sandbox that outlived a previous run of the server: the stored workspace is
   * what was saved, and a sync saves what changed since.
   */
  adopt(sandbox: Sandbox): Promise<void> {
    return this.withLock(async () => {
      this.sandbox = sandbox;
      this.saved = new Map(
        (await this.d.store.listWorkspaceFiles(this.d.sessionId)).map((f) => [f.path, f]),
      );
      this.current = "ready";
      await this.syncLocked();
      this.startTimer();
    });
  }

  /** Saves what changed in the sandbox's workspace and emits file events. */
  sync(context: EmitContext = {}): Promise<FileChange[]> {
    return this.withLock(() => this.syncLocked(context));
  }

  /** `sync` for a caller that holds the workspace lock. */
  async syncLocked(context: EmitContext = {}): Promise<FileChange[]> {
    const sandbox = this.sandbox;
    if (!sandbox) return [];
    const { changes, skipped } = await inSpan("workspace sync", {}, () =>
      syncWorkspace(this.d.sessionId, sandbox, this.d.store, this.saved, () =>
        this.d.filesPending(true),
      ),
    );
    for (const change of changes) this.d.emit(change, context);
    if (changes.length > 0) {
      await this.d.flush();
      await this.d.filesPending(false);
    }
    if (skipped.length > 0) {
      this.d.logger.warn("files over the size limit were not saved", {
        sessionId: this.d.sessionId,
        paths: skipped.slice(0, 20),
      });
    }
    return changes;
  }

  /** Runs `fn` once at the next `stop` (what lives as long as the sandbox: MCP servers). */
  onStop(fn: () => Promise<void>): void {
    this.stopHooks.push(fn);
  }

  /** A workspace file: from the running sandbox, else as stored; null when there is none. */
  readUserFile(path: string): Promise<Uint8Array | null> {
    return this.withLock(async () => {
      const stored = async () =>
        (await this.d.store.readWorkspaceFile(this.d.sessionId, path))?.content ?? null;
      if (!this.sandbox) return stored();
      try {
        return await this.sandbox.readFile(path);
      } catch (err) {
        if (err instanceof SandboxFileError && err.kind === "not_found") return null;
        // A sandbox that died or cannot read: what was saved of it last.
        this.d.logger.warn("reading from the sandbox failed; using the stored file", {
          sessionId: this.d.sessionId,
          path,
          err,
        });
        return stored();
      }
    });
  }

  /**
   * Creates a user file (stored, with its file_created event) unless the workspace has one at
   * `path`. Returns whether it wrote it.
   */
  createUserFile(path: string, content: Uint8Array, context: EmitContext = {}): Promise<boolean> {
    return this.withLock(async () => {
      if (this.sandbox) {
        if (await this.sandbox.stat(path)) return false;
        try {
          await this.sandbox.writeFile(path, content);
        } catch (err) {
          if (!(err instanceof SandboxFileError && err.kind === "no_space")) throw err;
          this.d.logger.warn("the workspace is full; a profile file was not written", {
            sessionId: this.d.sessionId,
            path,
          });
          return false;
        }
        await this.syncLocked(context);
        return true;
      }
      const files = await this.d.store.listWorkspaceFiles(this.d.sessionId);
      if (files.some((f) => f.path === path)) return false;
      const bytes = files.reduce((n, f) => n + f.size, 0) + content.byteLength;
      if (files.length >= LIMITS.maxWorkspaceFiles || bytes > LIMITS.maxWorkspaceBytes) {
        this.d.logger.warn("the workspace is full; a profile file was not written", {
          sessionId: this.d.sessionId,
          path,
        });
        return false;
      }
      const sha256 = createHash("sha256").update(content).digest("hex");
      const info = { path, size: content.byteLength, sha256, modifyTime: new Date() };
      await this.d.filesPending(true);
      await this.d.store.saveWorkspaceFile(this.d.sessionId, { info, content });
      this.d.emit({ type: "file_created", file: info }, context);
      await this.d.flush();
      await this.d.filesPending(false);
      return true;
    });
  }

  /** Syncs (unless `sync` is false), terminates the sandbox and says so in the feed. */
  stop(why: string, options: { sync?: boolean } = {}): Promise<void> {
    this.stopTimer();
    const hooks = this.stopHooks.splice(0);
    return this.withLock(async () => {
      await Promise.all(hooks.map((fn) => fn().catch(() => {})));
      const sandbox = this.sandbox;
      if (!sandbox) return;
      if (options.sync !== false) {
        await this.syncLocked().catch((err: unknown) =>
          this.d.logger.error("final sync failed", { sessionId: this.d.sessionId, err }),
        );
      }
      await sandbox
        .terminate()
        .catch((err: unknown) =>
          this.d.logger.warn("terminate failed", { sessionId: this.d.sessionId, err }),
        );
      this.sandbox = undefined;
      this.setStatus("terminated", why);
    });
  }

  private startTimer(): void {
    this.stopTimer();
    this.syncTimer = setInterval(() => {
      this.sync().catch((err: unknown) =>
        this.d.logger.warn("periodic sync failed", { sessionId: this.d.sessionId, err }),
      );
    }, this.d.syncIntervalMs);
    this.syncTimer.unref();
  }

  private stopTimer(): void {
    clearInterval(this.syncTimer);
    this.syncTimer = undefined;
  }
}
