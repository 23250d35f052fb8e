// One Modal sandbox: its commands, its workspace files, and its end.

import { AppError } from "../../domain/errors.js";
import type {
  ExecOptions,
  ExecResult,
  Sandbox,
  SandboxFileStat,
  SandboxProcess,
  SpawnOptions,
} from "../../ports/sandbox.js";
import type { ModalSandboxLike } from "./client.js";
import { type Logger, ModalCommands } from "./exec.js";
import { ModalFiles } from "./files.js";
import { spawnModalProcess } from "./process.js";

export class ModalSandbox implements Sandbox {
  private readonly commands: ModalCommands;
  private readonly files: ModalFiles;

  constructor(
    private readonly sb: ModalSandboxLike,
    readonly sessionId: string,
    private readonly env: Record<string, string>,
    private readonly logger: Logger,
  ) {
    this.commands = new ModalCommands(sb, env, logger);
    this.files = new ModalFiles(sb);
  }

  get id(): string {
    return this.sb.sandboxId;
  }

  exec(options: ExecOptions): Promise<ExecResult> {
    if (options.allowNetwork) {
      // A Modal sandbox's network is set when it is created, for all its commands.
      return Promise.reject(
        new AppError(
          "failed_precondition",
          "SANDBOX_NETWORK_FIXED",
          "a modal sandbox cannot open the network for one command",
        ),
      );
    }
    return this.commands.run(options);
  }

  spawn(options: SpawnOptions): Promise<SandboxProcess> {
    return spawnModalProcess(this.sb, this.env, options, this.logger);
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.files.read(path);
  }

  writeFile(path: string, content: Uint8Array): Promise<void> {
    return this.files.write(path, content);
  }

  listFiles(dir?: string): Promise<SandboxFileStat[]> {
    return this.files.list(dir);
  }

  stat(path: string): Promise<SandboxFileStat | null> {
    return this.files.stat(path);
  }

  remove(path: string): Promise<void> {
    return this.files.remove(path);
  }

  async isAlive(): Promise<boolean> {
    try {
      return (await this.sb.poll()) === null;
    } catch {
      return false;
    }
  }

  async terminate(): Promise<void> {
    try {
      await this.sb.terminate();
    } catch (err) {
      // Already gone is fine; anything else is worth a line (Modal ends it at its timeouts).
      if (!(await this.isAlive())) return;
      this.logger.warn("modal: terminating a sandbox failed", { sandboxId: this.id, err });
    }
  }
}
