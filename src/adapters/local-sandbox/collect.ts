// A started command's life on the host: its output collected within the limits, its process
// group killed on timeout, cancel or overflow, and waiting for it to be gone.

import type { ChildProcess } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import type { ExecOptions, ExecResult } from "../../ports/sandbox.js";

/** Kills the command's whole process group (it runs detached, as the group's leader). */
export function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

/** Runs one started command to its end within the limits. */
export function collect(
  child: ChildProcess,
  options: ExecOptions,
  timeoutMs: number,
  maxOutputBytes: number,
  started: number,
  killOnExit: boolean,
): Promise<ExecResult> {
  return new Promise((resolvePromise, reject) => {
    const out = { stdout: "", stderr: "" };
    let timedOut = false;
    let cancelled = false;
    let truncated = false;
    let callbackError: unknown;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    const onAbort = () => {
      cancelled = true;
      killGroup(child);
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
    const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
    const emit = (stream: "stdout" | "stderr", text: string) => {
      if (text === "") return;
      out[stream] += text;
      try {
        (stream === "stdout" ? options.onStdout : options.onStderr)?.(text);
      } catch (err) {
        callbackError ??= err;
        killGroup(child);
      }
    };
    for (const stream of ["stdout", "stderr"] as const) {
      let bytes = 0;
      child[stream]?.on("data", (chunk: Buffer) => {
        let data = chunk;
        if (bytes + data.length > maxOutputBytes) {
          // Exactly at the limit is fine; a byte past it ends the command.
          data = data.subarray(0, maxOutputBytes - bytes);
          if (!truncated) killGroup(child);
          truncated = true;
          if (data.length === 0) return;
        }
        bytes += data.length;
        emit(stream, decoders[stream].write(data));
      });
    }
    let spawnError: Error | undefined;
    child.on("error", (err) => {
      spawnError = err;
    });
    // Without bubblewrap nothing ends the command's background processes with it: do it here.
    if (killOnExit) child.on("exit", () => killGroup(child));
    child.on("close", (code) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      emit("stdout", decoders.stdout.end());
      emit("stderr", decoders.stderr.end());
      if (callbackError !== undefined) return reject(callbackError);
      if (spawnError && child.pid === undefined) return reject(spawnError);
      const killed = timedOut || cancelled || truncated;
      resolvePromise({
        exitCode: killed ? null : code,
        stdout: out.stdout,
        stderr: out.stderr,
        timedOut,
        cancelled,
        truncated,
        durationMs: Date.now() - started,
      });
    });
  });
}

/** Resolves when a child has exited (at once if it has), or after a bound. */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const timer = setTimeout(resolvePromise, 5_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolvePromise();
    });
  });
}
