// A stand-in for Modal's control plane that really runs commands: each sandbox is a directory
// on this machine mounted (by path translation) at /workspace. It implements the provider's
// narrow ModalLike interface, so the provider's own code (exec wrapping, kill, files, tags)
// runs for real.

import { spawn } from "node:child_process";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type {
  ModalFileInfoLike,
  ModalLike,
  ModalProcessLike,
  ModalSandboxLike,
} from "../../src/adapters/modal/provider.js";

export interface CreateCall {
  app: unknown;
  image: unknown;
  params: Record<string, unknown>;
}

async function* lines(stream: NodeJS.ReadableStream): AsyncIterable<string> {
  stream.setEncoding("utf8");
  for await (const chunk of stream) yield chunk as string;
}

class FakeSandbox implements ModalSandboxLike {
  exitCode: number | null = null;
  constructor(
    readonly sandboxId: string,
    readonly root: string,
    private readonly tags: Record<string, string>,
  ) {}

  private map(path: string): string {
    if (!path.startsWith("/workspace"))
      throw new Error(`fake modal: only /workspace is mapped, not ${path}`);
    return join(this.root, path.slice("/workspace".length));
  }

  async exec(
    command: string[],
    params: { workdir?: string; env?: Record<string, string> } = {},
  ): Promise<ModalProcessLike> {
    if (this.exitCode !== null) throw new Error("sandbox terminated");
    const child = spawn(command[0]!, command.slice(1), {
      cwd: this.map(params.workdir ?? "/workspace"),
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...params.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<number>((resolve) =>
      child.on("close", (code) => resolve(code ?? 137)),
    );
    return { stdout: lines(child.stdout), stderr: lines(child.stderr), wait: () => exited };
  }

  private async info(path: string): Promise<ModalFileInfoLike> {
    const st = await lstat(this.map(path));
    return {
      path,
      type: st.isDirectory() ? "directory" : st.isSymbolicLink() ? "symlink" : "file",
      size: st.size,
      modifiedTime: st.mtimeMs / 1000,
    };
  }

  readonly filesystem = {
    readBytes: async (path: string) => new Uint8Array(await readFile(this.map(path))),
    writeBytes: async (data: Uint8Array, path: string) => {
      await mkdir(dirname(this.map(path)), { recursive: true });
      await writeFile(this.map(path), data);
    },
    listFiles: async (path: string) => {
      const names = await readdir(this.map(path));
      return Promise.all(names.map((n) => this.info(`${path}/${n}`)));
    },
    stat: (path: string) => this.info(path),
    makeDirectory: async (path: string) => {
      await mkdir(this.map(path), { recursive: true });
    },
    remove: async (path: string) => {
      await rm(this.map(path), { recursive: true });
    },
  };

  async getTags() {
    return { ...this.tags };
  }
  async poll() {
    return this.exitCode;
  }
  async terminate() {
    this.exitCode = 0;
  }
}

/** The fake control plane: remembers every sandbox and every create call. */
export class FakeModal implements ModalLike {
  readonly created: CreateCall[] = [];
  readonly all = new Map<string, FakeSandbox>();
  private n = 0;

  constructor(private readonly dir: string) {}

  static async start(): Promise<FakeModal> {
    return new FakeModal(await mkdtemp(join(tmpdir(), "fake-modal-")));
  }

  apps = {
    fromName: async (name: string, params?: { createIfMissing?: boolean }) => ({
      app: name,
      ...params,
    }),
  };
  images = { fromRegistry: (tag: string) => ({ image: tag }) };
  sandboxes = {
    create: async (app: never, image: never, params: Record<string, unknown> = {}) => {
      this.created.push({ app, image, params });
      const id = `sb-fake${++this.n}`;
      const root = join(this.dir, id);
      await mkdir(root, { recursive: true });
      const sb = new FakeSandbox(id, root, (params.tags as Record<string, string>) ?? {});
      this.all.set(id, sb);
      return sb;
    },
    fromId: async (id: string) => {
      const sb = this.all.get(id);
      if (!sb) throw new Error(`no sandbox ${id}`);
      return sb;
    },
    list: (params: { tags?: Record<string, string> } = {}) => {
      const all = [...this.all.values()];
      return (async function* () {
        for (const sb of all) {
          const tags = await sb.getTags();
          if (Object.entries(params.tags ?? {}).every(([k, v]) => tags[k] === v)) yield sb;
        }
      })();
    },
  };

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
