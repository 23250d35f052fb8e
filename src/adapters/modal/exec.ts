// Commands in a Modal sandbox: each under a wrapper that can kill it and everything it started
// (see provider.ts for why), its output streamed and bounded, and the image's lack of bash told
// clearly.

import { randomBytes } from "node:crypto";
import { AppError } from "../../domain/errors.js";
import { normalizeWorkspacePath } from "../../domain/paths.js";
import type { Logger as FullLogger } from "../../ports/logger.js";
import type { ExecOptions, ExecResult } from "../../ports/sandbox.js";
import type { ModalSandboxLike, ModalStreamLike } from "./client.js";
import { abs } from "./files.js";
import { MODAL_SANDBOX_LIMITS } from "./limits.js";

export type Logger = Pick<FullLogger, "warn">;

/** The environment variable that marks every process of one command. */
export const EXEC_MARKER = "AGENT_RUNTIME_EXEC_ID";
/** The wrapper's exit status when the image has no bash (confirmed before it is believed). */
export const NO_BASH_EXIT = 199;
/** What a command in an image without bash fails with. */
export const NO_BASH_MESSAGE =
  "this sandbox image has no bash; the Bash tool runs commands with bash. Use an image that " +
  "has it (Debian, Ubuntu and the official language images do), or add it to the image " +
  "(e.g. `apk add bash` on Alpine)";

/**
 * Kills command `$1`'s process group, then every process carrying its marker, until none is left
 * (one grep over all environments per round; the sweep itself carries no marker).
 */
export const SWEEP =
  `f=/tmp/.agent-runtime-exec-$1; ` +
  `p=$(cat "$f" 2>/dev/null); [ -n "$p" ] && kill -9 -"$p" 2>/dev/null; ` +
  `for i in 1 2 3 4 5; do ` +
  `m=$(grep -l "${EXEC_MARKER}=$1" /proc/[0-9]*/environ 2>/dev/null); [ -z "$m" ] && break; ` +
  `for e in $m; do q=\${e#/proc/}; kill -9 "\${q%/environ}" 2>/dev/null; done; done; ` +
  `rm -f "$f"`;

/**
 * Runs `$2` under bash in a session of its own, marked with id `$1`; waits for it, sweeps what it
 * left behind and exits with its status. The wrapper itself (plain sh) carries no marker.
 */
const WRAPPER =
  `id=$1; f=/tmp/.agent-runtime-exec-$id; ` +
  `command -v bash >/dev/null 2>&1 || exit ${NO_BASH_EXIT}; ` +
  `if command -v setsid >/dev/null 2>&1; then ` +
  `${EXEC_MARKER}=$id setsid bash -c "$2" & ` +
  `else ${EXEC_MARKER}=$id bash -c "$2" & fi; ` +
  `echo $! > "$f"; wait $!; c=$?; ` +
  `sweep() { ${SWEEP}; }; sweep "$id"; exit $c`;

/** Reads a stream to its end, text chunk by text chunk; `stop()` abandons it. */
export function pump(stream: ModalStreamLike, onChunk: (text: string) => void) {
  const reader = stream.getReader();
  const done = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        if (value) onChunk(value);
      }
    } catch {
      // the stream broke off (the process was killed, or abandoned below)
    } finally {
      try {
        reader.releaseLock();
      } catch {
        // a read was still pending
      }
    }
  })();
  return { done, stop: () => reader.cancel().catch(() => {}) };
}

const noBashError = () => new AppError("failed_precondition", "SANDBOX_NO_BASH", NO_BASH_MESSAGE);

/** Runs commands in one Modal sandbox. */
export class ModalCommands {
  /** Set once the image is known to have no bash. */
  private noBash = false;

  constructor(
    private readonly sb: ModalSandboxLike,
    /** The sandbox's environment, for every command. */
    private readonly env: Record<string, string>,
    private readonly logger: Logger,
  ) {}

  async run(options: ExecOptions): Promise<ExecResult> {
    const l = MODAL_SANDBOX_LIMITS;
    const timeoutMs =
      options.timeoutMs !== undefined && options.timeoutMs > 0
        ? Math.min(options.timeoutMs, l.maxTimeoutMs)
        : l.defaultTimeoutMs;
    const cwd = options.cwd ? normalizeWorkspacePath(options.cwd, "cwd") : "";
    const started = Date.now();
    const result = (over: Partial<ExecResult>): ExecResult => ({
      exitCode: null,
      stdout: "",
      stderr: "",
      timedOut: false,
      cancelled: false,
      truncated: false,
      durationMs: Date.now() - started,
      ...over,
    });
    if (options.signal?.aborted) return result({ cancelled: true });
    if (this.noBash) throw noBashError();
    const id = randomBytes(8).toString("hex");
    const proc = await this.sb.exec(["sh", "-c", WRAPPER, "sh", id, options.command], {
      workdir: abs(cwd),
      // Modal's own kill, behind ours.
      timeoutMs: timeoutMs + l.killGraceMs,
      env: { ...this.env, ...options.env },
    });
    const out = { stdout: "", stderr: "" };
    let timedOut = false;
    let cancelled = false;
    let truncated = false;
    let callbackError: unknown;
    let killed: Promise<void> | undefined;
    const kill = () => {
      killed ??= this.sb
        .exec(["sh", "-c", `sweep() { ${SWEEP}; }; sweep "$1"`, "sh", id])
        .then((p) => p.wait())
        .then(
          () => {},
          (err: unknown) => this.logger.warn("modal: killing a command failed", { id, err }),
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
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const take = (stream: "stdout" | "stderr") => {
      let bytes = 0;
      return (chunk: string) => {
        if (truncated && bytes >= l.maxOutputBytes) return;
        let text = chunk;
        const size = Buffer.byteLength(text);
        if (bytes + size > l.maxOutputBytes) {
          text = Buffer.from(text)
            .subarray(0, l.maxOutputBytes - bytes)
            .toString("utf8")
            .replace(/\uFFFD$/, "");
          truncated = true;
          kill();
        }
        bytes += Buffer.byteLength(text);
        if (text === "") return;
        out[stream] += text;
        try {
          (stream === "stdout" ? options.onStdout : options.onStderr)?.(text);
        } catch (err) {
          callbackError ??= err;
          kill();
        }
      };
    };
    const pumps = [pump(proc.stdout, take("stdout")), pump(proc.stderr, take("stderr"))];
    let code: number | null = null;
    try {
      const finished = Promise.all([proc.wait(), ...pumps.map((p) => p.done)]).then(
        ([exit]) => exit,
      );
      code = await finished.catch(() => null);
      if (killed) {
        // After a kill, give the command its grace period to report its end, then move on.
        let grace: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          finished.catch(() => null),
          new Promise((r) => {
            grace = setTimeout(r, l.killGraceMs);
          }),
        ]);
        clearTimeout(grace);
        await killed;
      }
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      for (const p of pumps) void p.stop();
    }
    if (callbackError !== undefined) throw callbackError;
    const wasKilled = timedOut || cancelled || truncated;
    if (code === NO_BASH_EXIT && !wasKilled && out.stdout === "" && out.stderr === "") {
      // The wrapper's word, or a command that exited so: ask the image.
      if (!(await this.hasBash())) {
        this.noBash = true;
        throw noBashError();
      }
    }
    return result({
      exitCode: wasKilled ? null : code,
      stdout: out.stdout,
      stderr: out.stderr,
      timedOut,
      cancelled,
      truncated,
    });
  }

  /** Whether the image has bash on its PATH. */
  private async hasBash(): Promise<boolean> {
    try {
      const p = await this.sb.exec(["sh", "-c", "command -v bash"]);
      const drain = (s: ModalStreamLike) => pump(s, () => {}).done;
      const [code] = await Promise.all([p.wait(), drain(p.stdout), drain(p.stderr)]);
      return code === 0;
    } catch {
      return true; // cannot tell: do not claim it is missing
    }
  }
}
