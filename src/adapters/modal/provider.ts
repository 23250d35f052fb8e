// Sandboxes on Modal (modal@0.11.1): one per session, tagged with the session id so a restarted
// server finds it again (`fromId`) or lists it (`list({appId, tags})`) and ends orphans.
//
// Nothing runs in the sandbox between commands: no watcher, no agent. Modal keeps a sandbox alive
// while any exec runs, so anything long-lived would defeat idleTimeoutMs.
//
// Commands run under `bash -c` (the Bash tool's commands are bash). An image without bash gets a
// clear SANDBOX_NO_BASH error instead of a shell's "not found".
//
// Killing a command: 0.11.1's ContainerProcess has no kill (only wait/poll and an internal
// abortable wait), so every command runs under a small sh wrapper that starts it in a session of
// its own (setsid, when the image has it) with a per-command marker in its environment, and writes
// the session's id to /tmp. On cancel, timeout or output overflow a second exec kills that process
// group and every process whose environment carries the marker (which setsid, nohup and double
// forks all keep). The wrapper does the same when the command ends, so no background process
// outlives its command (as with the local provider's pid namespace). A process that both leaves
// the group and clears its environment (`setsid env -i ...`) escapes that sweep; it still ends with
// the sandbox (terminate, idle or lifetime timeout).
//
// Dependencies (npm and pip specs of the profile and its skills) are an image layer installing
// them, built before the sandbox starts (dependencies.ts).
//
// The parts: client.ts (the SDK surface used, and the real client), exec.ts (commands), files.ts
// (workspace files), sandbox.ts (one sandbox), limits.ts; this file finds and ends sandboxes.

import type { App, Image } from "modal";
import { AppError } from "../../domain/errors.js";
import type { CreateSandboxOptions, Sandbox, SandboxProvider } from "../../ports/sandbox.js";
import {
  type AnyModalImage,
  createModalClient,
  type ModalClientOptions,
  type ModalImageLike,
  type ModalLike,
  type ModalSandboxLike,
} from "./client.js";
import { dependencyLayer } from "./dependencies.js";
import type { Logger } from "./exec.js";
import {
  MODAL_DEFAULT_IMAGE,
  MODAL_DEPS_FAILURE_CHARS,
  MODAL_SANDBOX_IDLE_TIMEOUT_MS,
  MODAL_SANDBOX_TIMEOUT_MS,
  MODAL_WORKDIR,
} from "./limits.js";
import { ModalSandbox } from "./sandbox.js";

export type {
  AnyModalImage,
  ModalCreateParams,
  ModalFileInfoLike,
  ModalImageLike,
  ModalLike,
  ModalProcessLike,
  ModalSandboxLike,
  ModalStreamLike,
} from "./client.js";
export { MODAL_DEPS_DIR } from "./dependencies.js";
export { EXEC_MARKER, type Logger, NO_BASH_EXIT, NO_BASH_MESSAGE } from "./exec.js";
export {
  MODAL_DEFAULT_IMAGE,
  MODAL_DEFAULT_TIMEOUT_MS,
  MODAL_KILL_GRACE_MS,
  MODAL_MAX_OUTPUT_BYTES,
  MODAL_MAX_TIMEOUT_MS,
  MODAL_SANDBOX_IDLE_TIMEOUT_MS,
  MODAL_SANDBOX_LIMITS,
  MODAL_SANDBOX_TIMEOUT_MS,
  MODAL_WORKDIR,
} from "./limits.js";

/** The tag that ties a Modal sandbox to its session. */
export const SESSION_TAG = "agent-runtime.session-id";

export interface ModalProviderOptions<A extends { appId: string }, I extends ModalImageLike<A, I>> {
  client: ModalLike<A, I>;
  /** The Modal app sandboxes run in; created when missing. */
  appName: string;
  /** Image for profiles that name none; default MODAL_DEFAULT_IMAGE. */
  defaultImage?: string;
  /** Default: warnings on the console. */
  logger?: Logger;
}

const consoleLogger: Logger = { warn: (msg, fields) => console.warn(msg, fields ?? {}) };

/** Sandboxes on Modal, one per session. */
export class ModalSandboxProvider<
  A extends { appId: string } = { appId: string },
  I extends ModalImageLike<A, I> = AnyModalImage,
> implements SandboxProvider
{
  readonly name = "modal";
  private app: Promise<A> | undefined;
  private readonly logger: Logger;

  constructor(private readonly o: ModalProviderOptions<A, I>) {
    this.logger = o.logger ?? consoleLogger;
  }

  private appRef(): Promise<A> {
    if (!this.app) {
      const app = this.o.client.apps.fromName(this.o.appName, { createIfMissing: true });
      this.app = app;
      app.catch(() => {
        if (this.app === app) this.app = undefined;
      });
    }
    return this.app;
  }

  async create(options: CreateSandboxOptions): Promise<Sandbox> {
    options.signal?.throwIfAborted();
    const s = options.settings;
    const env = { ...s.env, ...options.secretEnv };
    const tag = s.image || this.o.defaultImage || MODAL_DEFAULT_IMAGE;
    options.onProgress?.(`starting a Modal sandbox from ${tag}`);
    const app = await this.appRef();
    const image = await this.image(app, tag, options);
    const sb = await this.o.client.sandboxes.create(app, image, {
      timeoutMs: MODAL_SANDBOX_TIMEOUT_MS,
      idleTimeoutMs: MODAL_SANDBOX_IDLE_TIMEOUT_MS,
      workdir: MODAL_WORKDIR,
      env,
      blockNetwork: !s.networkAllowed,
      ...(s.cpu > 0 ? { cpu: s.cpu } : {}),
      ...(s.memoryMib > 0 ? { memoryMiB: s.memoryMib } : {}),
      tags: { [SESSION_TAG]: options.sessionId },
    });
    const sandbox = new ModalSandbox(sb, options.sessionId, env, this.logger);
    if (options.signal?.aborted) {
      await sandbox.terminate();
      options.signal.throwIfAborted();
    }
    return sandbox;
  }

  /**
   * The registry image, with a layer installing the dependencies when there are any: built here
   * (or found built: Modal caches it by definition), so a failing install fails the start with
   * the builder's message. An abort stops the wait, not the build (its result is cached).
   */
  private async image(app: A, tag: string, options: CreateSandboxOptions): Promise<I> {
    const base = this.o.client.images.fromRegistry(tag);
    const deps = options.dependencies;
    if (!deps || deps.npm.length + deps.pip.length === 0) return base;
    options.onProgress?.(
      `building the image's dependency layer (${[...deps.pip, ...deps.npm].join(", ")})`,
    );
    const build = base.dockerfileCommands(dependencyLayer(deps)).build(app);
    try {
      return await abortable(build, options.signal);
    } catch (err) {
      options.signal?.throwIfAborted();
      const message = (err instanceof Error ? err.message : String(err)).trim();
      throw new AppError(
        "unavailable",
        "SANDBOX_START_FAILED",
        "the sandbox could not start: installing its dependencies into the image failed:\n" +
          message.slice(-MODAL_DEPS_FAILURE_CHARS),
      );
    }
  }

  async attach(sandboxId: string, sessionId: string): Promise<Sandbox | null> {
    let sb: ModalSandboxLike;
    try {
      sb = await this.o.client.sandboxes.fromId(sandboxId);
      if ((await sb.poll()) !== null) return null;
      if ((await sb.getTags())[SESSION_TAG] !== sessionId) return null;
    } catch {
      return null; // not found, or not ours to see
    }
    // The sandbox's own env (set at create) still applies to every exec.
    return new ModalSandbox(sb, sessionId, {}, this.logger);
  }

  /** Running sandboxes of this provider's app that carry a session tag. */
  async listLive(): Promise<Array<{ sandboxId: string; sessionId: string }>> {
    const { appId } = await this.appRef();
    const out: Array<{ sandboxId: string; sessionId: string }> = [];
    for await (const sb of this.o.client.sandboxes.list({ appId })) {
      const tags = await sb.getTags().catch(() => ({}) as Record<string, string>);
      const sessionId = tags[SESSION_TAG];
      if (!sessionId) continue;
      if ((await sb.poll().catch(() => 0)) === null) {
        out.push({ sandboxId: sb.sandboxId, sessionId });
      }
    }
    return out;
  }

  /** Terminates every sandbox of a deleted session (Modal keeps no workspace beyond them). */
  async destroy(sessionId: string): Promise<void> {
    const { appId } = await this.appRef();
    const tags = { [SESSION_TAG]: sessionId };
    for await (const sb of this.o.client.sandboxes.list({ appId, tags })) {
      await new ModalSandbox(sb, sessionId, {}, this.logger).terminate();
    }
  }
}

/** `p`, or a rejection as soon as `signal` aborts (`p` goes on; its failure is ignored). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  p.catch(() => {});
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

export interface CreateModalProviderOptions extends ModalClientOptions {
  appName: string;
  defaultImage?: string;
  logger?: Logger;
}

/** The provider over the real Modal SDK. */
export function createModalProvider(
  options: CreateModalProviderOptions,
): ModalSandboxProvider<App, Image> {
  return new ModalSandboxProvider({
    client: createModalClient(options),
    appName: options.appName,
    ...(options.defaultImage ? { defaultImage: options.defaultImage } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
