// A long-running process of a local sandbox (an MCP stdio server): its stdin written, its output
// streamed to the caller, its process group killed on request, on abort, or with the sandbox.

import type { ChildProcess } from "node:child_process";
import { StringDecoder } from "node:string_decoder";
import type { SandboxProcess, SpawnOptions } from "../../ports/sandbox.js";
import { killGroup } from "./collect.js";

/** Wraps a started child; `untrack` runs once it is gone. */
export function trackProcess(
  child: ChildProcess,
  options: SpawnOptions,
  untrack: () => void,
): SandboxProcess {
  const decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  child.stdout?.on("data", (b: Buffer) => {
    const text = decoders.stdout.write(b);
    if (text) options.onStdout?.(text);
  });
  child.stderr?.on("data", (b: Buffer) => {
    const text = decoders.stderr.write(b);
    if (text) options.onStderr?.(text);
  });
  child.stdin?.on("error", () => {}); // gone: `exited` tells
  let gone = false;
  const kill = () => {
    if (!gone) killGroup(child);
  };
  const exited = new Promise<number | null>((resolve) => {
    child.once("error", () => {
      gone = true;
      resolve(null);
    });
    child.once("close", (code) => {
      gone = true;
      resolve(code);
    });
  }).finally(() => {
    options.signal?.removeEventListener("abort", kill);
    untrack();
  });
  if (options.signal?.aborted) kill();
  options.signal?.addEventListener("abort", kill, { once: true });
  return {
    exited,
    kill,
    write(chunk: string): Promise<void> {
      const stdin = child.stdin;
      if (gone || !stdin || stdin.destroyed)
        return Promise.reject(new Error("the process is gone"));
      return new Promise((resolve, reject) => {
        stdin.write(chunk, (err) => (err ? reject(err) : resolve()));
      });
    },
  };
}
