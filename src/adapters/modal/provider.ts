import { randomBytes } from "node:crypto";
import { ModalClient } from "modal";
import type { Logger } from "../../app/logger.js";
import { normalizeWorkspacePath } from "../../domain/paths.js";
import type { SandboxSettings } from "../../domain/types.js";
import type {
  CreateSandboxOptions,
  ExecOptions,
  ExecResult,
  Sandbox,
  SandboxFileStat,
  SandboxProvider,
} from "../../ports/sandbox.js";

/** The Modal sandbox's limits. */
export const MODAL_SANDBOX_LIMITS = {
  defaultTimeoutMs: 120_000,
  maxTimeoutMs: 600_000,
  /** Output kept per command (stdout and stderr together); past it the command is killed. */
  maxOutputBytes: 1024 * 1024,
  /** A sandbox's whole life, a safety net behind the runtime's own idle shutdown. */
  sandboxTimeoutMs: 24 * 60 * 60 * 1000,
  /** Modal ends a sandbox with no running command after this long, if the runtime did not. */
  sandboxIdleTimeoutMs: 20 * 60 * 1000,
} as const;

export const MODAL_DEFAULT_IMAGE = "debian:bookworm-slim";
export const MODAL_WORKDIR = "/workspace";
/** The tag that ties a Modal sandbox to its session. */
export const SESSION_TAG = "agent-runtime.session-id";

// The narrow part of modal@0.11.1 this provider uses, so it can be tested against its own
// interface. `ModalClient` satisfies it (checked where the real client is built).

export interface ModalFileInfoLike {
  path: string;
  type: "file" | "directory" | "symlink";
  size: number;
  /** Unix epoch seconds. */
  modifiedTime: number;
}

export interface ModalProcessLike {
  stdout: AsyncIterable<string>;
  stderr: AsyncIterable<string>;
  wait(): Promise<number>;
}

export interface ModalSandboxLike {
  readonly sandboxId: string;
  exec(
    command: string[],
    params?: { workdir?: string; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<ModalProcessLike>;
  readonly filesystem: {
    readBytes(path: string): Promise<Uint8Array>;
    writeBytes(data: Uint8Array, path: string): Promise<void>;
    listFiles(path: string): Promise<ModalFileInfoLike[]>;
    stat(path: string): Promise<ModalFileInfoLike>;
    makeDirectory(path: string, options?: { createParents?: boolean }): Promise<void>;
    remove(path: string, options?: { recursive?: boolean }): Promise<void>;
  };
  getTags(): Promise<Record<string, string>>;
  poll(): Promise<number | null>;
  terminate(): Promise<void>;
}

export interface ModalLike {
  apps: { fromName(name: string, params?: { createIfMissing?: boolean }): Promise<unknown> };
  images: { fromRegistry(tag: string): unknown };
  sandboxes: {
    create(app: never, image: never, params?: Record<string, unknown>): Promise<ModalSandboxLike>;
    fromId(sandboxId: string): Promise<ModalSandboxLike>;
    list(params?: { tags?: Record<string, string> }): AsyncIterable<ModalSandboxLike>;
  };
}

export interface ModalProviderOptions {
  client: ModalLike;
  /** The Modal app sandboxes run in; created when missing. */
  appName: string;
  /** Image for profiles that name none. */
  defaultImage?: string;
  logger?: Pick<Logger, "warn">;
}

const abs = (rel: string) => (rel === "" ? MODAL_WORKDIR : `${MODAL_WORKDIR}/${rel}`);
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

class ModalSandbox implements Sandbox {
  constructor(
    private readonly sb: ModalSandboxLike,
    readonly sessionId: string,
    private readonly env: Record<string, string>,
  ) {}

  get id(): string {
    return this.sb.sandboxId;
  }

  async exec(options: ExecOptions): Promise<ExecResult> {
    const l = MODAL_SANDBOX_LIMITS;
    const timeoutMs = Math.min(
      Math.max(options.timeoutMs ?? l.defaultTimeoutMs, 1),
      l.maxTimeoutMs,
    );
    const cwd = options.cwd ? normalizeWorkspacePath(options.cwd, "cwd") : "";
    const started = Date.now();
    // The command runs in a session of its own whose id is written down, so a cancel, timeout
    // or output overflow can kill its whole process group with a second exec.
    const pidFile = `/tmp/.agent-runtime-exec-${randomBytes(6).toString("hex")}`;
    const wrapped =
      `setsid sh -c 'echo $$ > ${pidFile}; exec sh -c "$0"' ${shellQuote(options.command)}; ` +
      `code=$?; rm -f ${pidFile}; exit $code`;
    const proc = await this.sb.exec(["sh", "-c", wrapped], {
      workdir: abs(cwd),
      timeoutMs: timeoutMs + 5_000,
      env: { ...this.env, ...options.env },
    });
    let stdout = "";
    let stderr = "";
    let bytes = 0;
    let timedOut = false;
    let cancelled = false;
    let truncated = false;
    let killing: Promise<void> | undefined;
    const kill = () => {
      killing ??= this.sb
        .exec([
          "sh",
          "-c",
          // The pid file may not be written yet when a cancel comes at once.
          `for i in 1 2 3 4 5 6 7 8 9 10; do [ -s ${pidFile} ] && break; sleep 0.1; done; ` +
            `kill -KILL -$(cat ${pidFile}) 2>/dev/null; kill -KILL $(cat ${pidFile}) 2>/dev/null; rm -f ${pidFile}`,
        ])
        .then((p) => p.wait())
        .then(
          () => {},
          () => {},
        );
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    const onAbort = () => {
      cancelled = true;
      kill();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const pump = async (stream: AsyncIterable<string>, which: "stdout" | "stderr") => {
      for await (const chunk of stream) {
        if (truncated) continue;
        let text = chunk;
        const size = Buffer.byteLength(text);
        if (bytes + size > l.maxOutputBytes) {
          text = Buffer.from(text)
            .subarray(0, l.maxOutputBytes - bytes)
            .toString("utf8");
          truncated = true;
          kill();
        }
        bytes += Buffer.byteLength(text);
        if (which === "stdout") {
          stdout += text;
          options.onStdout?.(text);
        } else {
          stderr += text;
          options.onStderr?.(text);
        }
      }
    };
    let code: number | null = null;
    try {
      const [exit] = await Promise.all([
        proc.wait(),
        pump(proc.stdout, "stdout"),
        pump(proc.stderr, "stderr"),
      ]);
      code = exit;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      await killing;
    }
    return {
      exitCode: timedOut || cancelled || truncated ? null : code,
      stdout,
      stderr,
      timedOut,
      cancelled,
      truncated,
      durationMs: Date.now() - started,
    };
  }

  async readFile(path: string): Promise<Uint8Array> {
    return this.sb.filesystem.readBytes(abs(normalizeWorkspacePath(path)));
  }

  async writeFile(path: string, content: Uint8Array): Promise<void> {
    const rel = normalizeWorkspacePath(path);
    const parent = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
    if (parent) await this.sb.filesystem.makeDirectory(abs(parent), { createParents: true });
    await this.sb.filesystem.writeBytes(content, abs(rel));
  }

  async listFiles(dir = ""): Promise<SandboxFileStat[]> {
    const start = dir === "" ? "" : normalizeWorkspacePath(dir);
    const out: SandboxFileStat[] = [];
    const walk = async (rel: string) => {
      let entries: ModalFileInfoLike[];
      try {
        entries = await this.sb.filesystem.listFiles(abs(rel));
      } catch {
        return;
      }
      for (const e of entries) {
        const name = e.path.split("/").filter(Boolean).at(-1) ?? "";
        const child = rel === "" ? name : `${rel}/${name}`;
        out.push({ path: child, type: e.type, size: e.size, mtimeMs: e.modifiedTime * 1000 });
        if (e.type === "directory") await walk(child);
      }
    };
    await walk(start);
    return out;
  }

  async stat(path: string): Promise<SandboxFileStat | null> {
    const rel = normalizeWorkspacePath(path);
    try {
      const e = await this.sb.filesystem.stat(abs(rel));
      return { path: rel, type: e.type, size: e.size, mtimeMs: e.modifiedTime * 1000 };
    } catch {
      return null;
    }
  }

  async remove(path: string): Promise<void> {
    const rel = normalizeWorkspacePath(path);
    if ((await this.stat(rel)) === null) return;
    await this.sb.filesystem.remove(abs(rel), { recursive: true });
  }

  async isAlive(): Promise<boolean> {
    try {
      return (await this.sb.poll()) === null;
    } catch {
      return false;
    }
  }

  async terminate(): Promise<void> {
    await this.sb.terminate().catch(() => {});
  }
}

/**
 * Sandboxes on Modal: one per session, tagged with the session id so a restarted server finds
 * them again. No process is left running between commands, so Modal's idle timeout works.
 */
export class ModalSandboxProvider implements SandboxProvider {
  readonly name = "modal";
  private app: Promise<unknown> | undefined;

  constructor(private readonly o: ModalProviderOptions) {}

  private appRef(): Promise<unknown> {
    this.app ??= this.o.client.apps.fromName(this.o.appName, { createIfMissing: true });
    this.app.catch(() => {
      this.app = undefined;
    });
    return this.app;
  }

  async create(options: CreateSandboxOptions): Promise<Sandbox> {
    const s: SandboxSettings = options.settings;
    const image = s.image || this.o.defaultImage || MODAL_DEFAULT_IMAGE;
    options.onProgress?.(`starting a Modal sandbox from ${image}`);
    const app = await this.appRef();
    const sb = await this.o.client.sandboxes.create(
      app as never,
      this.o.client.images.fromRegistry(image) as never,
      {
        timeoutMs: MODAL_SANDBOX_LIMITS.sandboxTimeoutMs,
        idleTimeoutMs: MODAL_SANDBOX_LIMITS.sandboxIdleTimeoutMs,
        workdir: MODAL_WORKDIR,
        env: s.env,
        blockNetwork: !s.networkAllowed,
        ...(s.cpu > 0 ? { cpu: s.cpu } : {}),
        ...(s.memoryMib > 0 ? { memoryMiB: s.memoryMib } : {}),
        tags: { [SESSION_TAG]: options.sessionId },
      },
    );
    try {
      await sb.filesystem.makeDirectory(MODAL_WORKDIR, { createParents: true });
    } catch {
      // the image may already have it
    }
    return new ModalSandbox(sb, options.sessionId, s.env);
  }

  async attach(sandboxId: string, sessionId: string): Promise<Sandbox | null> {
    try {
      const sb = await this.o.client.sandboxes.fromId(sandboxId);
      if ((await sb.poll()) !== null) return null;
      const tags = await sb.getTags();
      if (tags[SESSION_TAG] !== sessionId) return null;
      return new ModalSandbox(sb, sessionId, {});
    } catch {
      return null;
    }
  }

  async listLive(): Promise<Array<{ sandboxId: string; sessionId: string }>> {
    const out: Array<{ sandboxId: string; sessionId: string }> = [];
    for await (const sb of this.o.client.sandboxes.list({})) {
      const tags = await sb.getTags().catch(() => ({}) as Record<string, string>);
      const sessionId = tags[SESSION_TAG];
      if (sessionId && (await sb.poll().catch(() => 0)) === null)
        out.push({ sandboxId: sb.sandboxId, sessionId });
    }
    return out;
  }
}

/** The provider over the real Modal SDK; credentials from the arguments or Modal's own config. */
export function createModalProvider(options: {
  tokenId?: string;
  tokenSecret?: string;
  appName: string;
  defaultImage?: string;
  logger?: Pick<Logger, "warn">;
}): ModalSandboxProvider {
  const client = new ModalClient({
    ...(options.tokenId ? { tokenId: options.tokenId } : {}),
    ...(options.tokenSecret ? { tokenSecret: options.tokenSecret } : {}),
  });
  const like: ModalLike = client as unknown as ModalLike;
  return new ModalSandboxProvider({
    client: like,
    appName: options.appName,
    ...(options.defaultImage ? { defaultImage: options.defaultImage } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
}
