// A stand-in for Modal's control plane that really runs commands, implementing the provider's
// narrow ModalLike interface so the provider's own code (the exec wrapper, the kill sweep, files,
// tags, listing) runs for real.
//
// Each sandbox is a directory on this machine standing in for the container's /workspace; its
// commands run as plain host processes (all of one sandbox's execs share the host's process table,
// as they share a container on Modal, which the kill sweep relies on). Like Modal: streams are web
// ReadableStreams of text, exec honours workdir/env/timeoutMs, sandbox env applies to every exec,
// file errors carry the SDK's error names (and messages that name the container path, as the
// SDK's do), list() filters by app and tags, and terminate() kills what still runs. Images named
// in `imagesWithoutBash` get a PATH with sh and the basic tools but no bash.

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type {
  ModalCreateParams,
  ModalFileInfoLike,
  ModalLike,
  ModalProcessLike,
  ModalSandboxLike,
} from "../../src/adapters/modal/provider.js";

import { type FakeApp, FakeImage, ImageBuilder } from "./fake-modal-image.js";

export type { BuiltImage, FakeApp } from "./fake-modal-image.js";
export { FakeImage } from "./fake-modal-image.js";

const CONTAINER_MARKER = "FAKE_MODAL_SANDBOX_ID";

export interface CreateCall {
  app: FakeApp;
  image: FakeImage;
  params: ModalCreateParams;
}

/** An error shaped like the SDK's filesystem errors (matched by name). */
function sdkError(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

function textStream(stream: NodeJS.ReadableStream): ReadableStream<string> {
  return new ReadableStream<string>({
    start(controller) {
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => controller.enqueue(chunk));
      stream.on("end", () => controller.close());
      stream.on("error", (err) => controller.error(err));
    },
  });
}

/** Tools an image without bash still has (what the provider's wrapper and sweep use). */
const NO_BASH_TOOLS = ["sh", "cat", "grep", "rm", "setsid", "sleep", "kill", "echo", "ls", "env"];

/** A bin directory standing in for an image without bash. */
async function binWithoutBash(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const tool of NO_BASH_TOOLS) {
    for (const from of [`/usr/bin/${tool}`, `/bin/${tool}`]) {
      try {
        await lstat(from);
        await symlink(from, join(dir, tool));
        break;
      } catch {
        // not there, or linked already
      }
    }
  }
  return dir;
}

export class FakeSandbox implements ModalSandboxLike {
  exitCode: number | null = null;
  /** Every exec's argv, in order. */
  readonly execs: string[][] = [];
  private readonly children = new Set<ChildProcess>();
  /** The next filesystem call fails with this (an SDK-shaped error), once. */
  nextFilesystemError: Error | undefined;

  constructor(
    readonly sandboxId: string,
    readonly appId: string,
    readonly root: string,
    private readonly params: ModalCreateParams,
    /** PATH inside this "container"; default the host's. */
    private readonly path?: string,
    /** The image's ENV. */
    private readonly imageEnv: Record<string, string> = {},
  ) {}

  private map(path: string): string {
    if (path !== "/workspace" && !path.startsWith("/workspace/")) {
      throw new Error(`fake modal: only /workspace is mapped, not ${path}`);
    }
    return join(this.root, path.slice("/workspace".length));
  }

  async exec(
    command: string[],
    params: { workdir?: string; timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<ModalProcessLike> {
    if (this.exitCode !== null) throw new Error("fake modal: the sandbox has terminated");
    this.execs.push(command);
    const child = spawn(command[0]!, command.slice(1), {
      cwd: this.map(params.workdir ?? this.params.workdir ?? "/workspace"),
      env: {
        PATH: this.path ?? process.env.PATH ?? "/usr/bin:/bin",
        // stdin is a socket (as node pipes it): without this bash would read ~/.bashrc.
        SHLVL: "1",
        ...this.imageEnv,
        ...this.params.env,
        ...params.env,
        // Marks every process of this "container", so terminate() can end them all.
        [CONTAINER_MARKER]: this.sandboxId,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdin.on("error", () => {});
    this.children.add(child);
    const exited = new Promise<number>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code, signal) => {
        this.children.delete(child);
        resolve(code ?? (signal ? 128 + 9 : 1));
      });
    });
    if (params.timeoutMs) {
      const timer = setTimeout(() => child.kill("SIGKILL"), params.timeoutMs);
      void exited.finally(() => clearTimeout(timer)).catch(() => {});
    }
    return {
      stdin: {
        writeText: (text: string) =>
          new Promise<void>((resolve, reject) =>
            child.stdin.write(text, (err) => (err ? reject(err) : resolve())),
          ),
      },
      stdout: textStream(child.stdout),
      stderr: textStream(child.stderr),
      wait: () => exited,
    };
  }

  private async info(path: string): Promise<ModalFileInfoLike> {
    const st = await this.fs(path, () => lstat(this.map(path)));
    return {
      path,
      type: st.isDirectory() ? "directory" : st.isSymbolicLink() ? "symlink" : "file",
      size: st.size,
      modifiedTime: st.mtimeMs / 1000,
    };
  }

  /**
   * Host fs errors as the SDK reports them: a typed error for the kinds it knows, else a plain
   * SandboxFilesystemError carrying the tool's message (errno text and the container path).
   */
  private async fs<T>(path: string, fn: () => Promise<T>): Promise<T> {
    const injected = this.nextFilesystemError;
    if (injected) {
      this.nextFilesystemError = undefined;
      throw injected;
    }
    try {
      return await fn();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const os = (text: string, n: number) => `${text} (os error ${n}): ${path}`;
      if (code === "ENOENT") {
        throw sdkError("SandboxFilesystemNotFoundError", os("No such file or directory", 2));
      }
      if (code === "EISDIR") {
        throw sdkError("SandboxFilesystemIsADirectoryError", os("Is a directory", 21));
      }
      if (code === "ENOTDIR") {
        throw sdkError("SandboxFilesystemNotADirectoryError", os("Not a directory", 20));
      }
      if (code === "EEXIST") {
        throw sdkError("SandboxFilesystemPathAlreadyExistsError", os("File exists", 17));
      }
      if (code === "ENAMETOOLONG") {
        throw sdkError("SandboxFilesystemError", os("File name too long", 36));
      }
      if (code === "ENOSPC") {
        throw sdkError("SandboxFilesystemError", os("No space left on device", 28));
      }
      throw sdkError("SandboxFilesystemError", `Operation on '${path}' failed with exit code 1`);
    }
  }

  readonly filesystem = {
    readBytes: async (path: string) =>
      new Uint8Array(await this.fs(path, () => readFile(this.map(path)))),
    writeBytes: async (data: Uint8Array, path: string) => {
      await this.fs(path, () => writeFile(this.map(path), data));
    },
    listFiles: async (path: string) => {
      const names = await this.fs(path, () => readdir(this.map(path)));
      return Promise.all(names.map((n) => this.info(`${path}/${n}`)));
    },
    stat: (path: string) => this.info(path),
    makeDirectory: async (path: string, options?: { createParents?: boolean }) => {
      await this.fs(path, () => mkdir(this.map(path), { recursive: options?.createParents }));
    },
    remove: async (path: string, options?: { recursive?: boolean }) => {
      await this.info(path); // not found is an error, as in the SDK
      await this.fs(path, () => rm(this.map(path), { recursive: options?.recursive ?? false }));
    },
  };

  async getTags() {
    return { ...this.params.tags };
  }
  async poll() {
    return this.exitCode;
  }
  async terminate() {
    if (this.exitCode !== null) return;
    this.exitCode = 137;
    for (const child of this.children) child.kill("SIGKILL");
    // Like a container going away: every process started in it ends, detached or not.
    for (const pid of await readdir("/proc").catch(() => [] as string[])) {
      if (!/^\d+$/.test(pid)) continue;
      const env = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "");
      if (env.split("\0").includes(`${CONTAINER_MARKER}=${this.sandboxId}`)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // gone already
        }
      }
    }
  }
}

/** The fake control plane: remembers every sandbox and every create call. */
export class FakeModal implements ModalLike<FakeApp, FakeImage> {
  readonly created: CreateCall[] = [];
  readonly all = new Map<string, FakeSandbox>();
  /** Images whose sandboxes have no bash (a PATH without it). */
  readonly imagesWithoutBash = new Set<string>();
  private n = 0;
  /** Ids unique across fakes: terminate() finds processes by them. */
  private readonly prefix = randomBytes(4).toString("hex");

  /** Builds image definitions, each once. */
  readonly builder: ImageBuilder;

  private constructor(private readonly dir: string) {
    this.builder = new ImageBuilder(dir, this.prefix);
  }

  static async start(): Promise<FakeModal> {
    return new FakeModal(await mkdtemp(join(tmpdir(), "fake-modal-")));
  }

  readonly apps = {
    fromName: async (name: string, params?: { createIfMissing?: boolean }): Promise<FakeApp> => {
      if (!params?.createIfMissing) throw sdkError("NotFoundError", `app ${name} not found`);
      return { appId: `ap-${name}`, name };
    },
  };

  readonly images = { fromRegistry: (tag: string): FakeImage => new FakeImage(this.builder, tag) };
  /** Every image definition built (a definition built before is reused, as Modal does). */
  get builds(): string[][][] {
    return this.builder.builds;
  }

  readonly sandboxes = {
    create: async (app: FakeApp, image: FakeImage, params: ModalCreateParams = {}) => {
      await image.build(app); // as the SDK does
      this.created.push({ app, image, params });
      const id = `sb-${this.prefix}${++this.n}`;
      const root = join(this.dir, id);
      await mkdir(root, { recursive: true });
      const path = this.imagesWithoutBash.has(image.image)
        ? await binWithoutBash(join(this.dir, `${id}-bin`))
        : undefined;
      const sb = new FakeSandbox(id, app.appId, root, params, path, image.built?.env);
      this.all.set(id, sb);
      return sb;
    },
    fromId: async (id: string) => {
      const sb = this.all.get(id);
      if (!sb) throw sdkError("NotFoundError", `no sandbox ${id}`);
      return sb;
    },
    list: (params: { appId?: string; tags?: Record<string, string> } = {}) => {
      // Like Modal: running sandboxes only, filtered by app and by every given tag.
      const all = [...this.all.values()].filter(
        (sb) => sb.exitCode === null && (!params.appId || sb.appId === params.appId),
      );
      return (async function* () {
        for (const sb of all) {
          const tags = await sb.getTags();
          if (Object.entries(params.tags ?? {}).every(([k, v]) => tags[k] === v)) yield sb;
        }
      })();
    },
  };

  async cleanup(): Promise<void> {
    for (const sb of this.all.values()) await sb.terminate();
    await rm(this.dir, { recursive: true, force: true });
  }
}
