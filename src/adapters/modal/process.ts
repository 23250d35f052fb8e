// A long-running process in a Modal sandbox (an MCP stdio server): exec'd with its stdin open,
// its processes marked so that a kill sweeps them all (the same sweep as a command's).

import { randomBytes } from "node:crypto";
import { normalizeWorkspacePath } from "../../domain/paths.js";
import type { SandboxProcess, SpawnOptions } from "../../ports/sandbox.js";
import type { ModalSandboxLike } from "./client.js";
import { EXEC_MARKER, type Logger, pump, SWEEP } from "./exec.js";
import { abs } from "./files.js";

/** Runs `$2` under bash, marked with id `$1`; exec'd, so stdin reaches it. */
const WRAPPER = `${EXEC_MARKER}=$1 exec bash -c "$2"`;

export async function spawnModalProcess(
  sb: ModalSandboxLike,
  sandboxEnv: Record<string, string>,
  options: SpawnOptions,
  logger: Logger,
): Promise<SandboxProcess> {
  const cwd = options.cwd ? normalizeWorkspacePath(options.cwd, "cwd") : "";
  const id = randomBytes(8).toString("hex");
  const proc = await sb.exec(["sh", "-c", WRAPPER, "sh", id, options.command], {
    workdir: abs(cwd),
    // SHLVL: bash skips ~/.bashrc, which it would read with a socket on its stdin.
    env: { SHLVL: "1", ...sandboxEnv, ...options.env },
  });
  let gone = false;
  let writes: Promise<void> = Promise.resolve();
  let killing = false;
  const kill = () => {
    if (gone || killing) return;
    killing = true;
    void sb
      .exec(["sh", "-c", `sweep() { ${SWEEP}; }; sweep "$1"`, "sh", id])
      .then((p) => p.wait())
      .then(
        () => {},
        (err: unknown) => logger.warn("modal: killing a process failed", { id, err }),
      );
  };
  const pumps = [
    pump(proc.stdout, (t) => options.onStdout?.(t)),
    pump(proc.stderr, (t) => options.onStderr?.(t)),
  ];
  const exited = Promise.all([proc.wait(), ...pumps.map((p) => p.done)])
    .then(([code]) => code as number | null)
    .catch(() => null)
    .finally(() => {
      gone = true;
      options.signal?.removeEventListener("abort", kill);
    });
  if (options.signal?.aborted) kill();
  options.signal?.addEventListener("abort", kill, { once: true });
  return {
    exited,
    kill,
    write(chunk) {
      if (gone) return Promise.reject(new Error("the process is gone"));
      // One write at a time: the stream takes one writer.
      const next = writes.then(() => proc.stdin.writeText(chunk));
      writes = next.catch(() => {});
      return next;
    },
  };
}
