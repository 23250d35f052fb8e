import type { ExecResult } from "../../ports/sandbox.js";
import {
  abortReason,
  defineTool,
  optionalInteger,
  optionalString,
  requiredString,
  sandboxOf,
  ToolInputError,
  WORKSPACE_ROOT,
} from "./paths.js";

export const BASH_DEFAULT_TIMEOUT_MS = 120_000;
export const BASH_MAX_TIMEOUT_MS = 600_000;
/** Characters of output that go back to the model; longer output keeps its head and tail. */
export const BASH_MAX_OUTPUT_CHARS = 30_000;

/**
 * Keeps the first and the last `max / 2` characters of a stream of chunks and counts the rest, so
 * a command that prints megabytes costs bounded memory.
 */
export class HeadTailBuffer {
  private head = "";
  private tail = "";
  private total = 0;
  private readonly half: number;

  constructor(private readonly max: number) {
    this.half = Math.floor(max / 2);
  }

  get length(): number {
    return this.total;
  }

  push(chunk: string): void {
    this.total += chunk.length;
    if (this.head.length < this.half) {
      const room = this.half - this.head.length;
      this.head += chunk.slice(0, room);
      chunk = chunk.slice(room);
    }
    if (chunk === "") return;
    this.tail += chunk;
    // Trim lazily so appending stays amortized O(1).
    if (this.tail.length > 2 * this.max) this.tail = this.tail.slice(-this.max);
  }

  /** Everything when it fits in `max`, else the head, a marker, and the tail. */
  toString(): string {
    if (this.total <= this.max) return this.head + this.tail;
    const tail = this.tail.slice(-(this.max - this.half));
    const omitted = this.total - this.head.length - tail.length;
    return `${this.head}\n\n... [${omitted} characters of output omitted] ...\n\n${tail}`;
  }
}

export const bashTool = defineTool({
  name: "Bash",
  description: [
    "Runs a command with `bash -c` in the session's sandbox and returns its output " +
      `(stdout and stderr together). The working directory is the workspace root, ` +
      `${WORKSPACE_ROOT}; each call starts a fresh shell, so \`cd\` and variables do not carry ` +
      "over: use absolute paths or `cd dir && ...`.",
    "- Quote paths that contain spaces. Chain dependent commands with `&&`; make independent " +
      "calls in parallel instead.",
    `- timeout is in milliseconds (default ${BASH_DEFAULT_TIMEOUT_MS}, max ` +
      `${BASH_MAX_TIMEOUT_MS}); the command and its children are killed when it passes.`,
    `- Output past ${BASH_MAX_OUTPUT_CHARS} characters is cut in the middle: the start and end ` +
      "are kept. Redirect long output to a file and read it in parts when you need all of it.",
    "- Prefer the Read, Edit, Write, Glob and Grep tools over cat, sed, echo >, find and grep " +
      "for working with files.",
    "- Commands must not wait for input: pass non-interactive flags (e.g. `-y`).",
  ].join("\n"),
  inputSchema: {
    type: "object",
    properties: {
      command: { type: "string", description: "The command to run" },
      description: {
        type: "string",
        description: "What the command does, in 5-10 words (e.g. 'List files in src')",
      },
      timeout: {
        type: "integer",
        minimum: 1,
        maximum: BASH_MAX_TIMEOUT_MS,
        description: `Timeout in milliseconds (default ${BASH_DEFAULT_TIMEOUT_MS}, max ${BASH_MAX_TIMEOUT_MS})`,
      },
    },
    required: ["command"],
    additionalProperties: false,
  },
  async run(input, context) {
    const command = requiredString(input, "command");
    optionalString(input, "description");
    const timeoutMs =
      optionalInteger(input, "timeout", 1, BASH_MAX_TIMEOUT_MS) ?? BASH_DEFAULT_TIMEOUT_MS;
    if (command.trim() === "") throw new ToolInputError("command must not be empty");

    const sandbox = await sandboxOf(context);
    const output = new HeadTailBuffer(BASH_MAX_OUTPUT_CHARS);
    const onChunk = (chunk: string) => {
      output.push(chunk);
      context.onOutput?.(chunk);
    };
    let result: ExecResult;
    try {
      result = await sandbox.exec({
        command,
        timeoutMs,
        signal: context.signal,
        onStdout: onChunk,
        onStderr: onChunk,
      });
    } catch (error) {
      // Whether the command ran at all is unknown: leave it to the caller to say so.
      if (context.signal.aborted) throw abortReason(context.signal);
      throw error;
    }
    if (output.length === 0) {
      // A provider that hands the output back only at the end.
      output.push(result.stdout);
      if (result.stdout !== "" && result.stderr !== "" && !result.stdout.endsWith("\n")) {
        output.push("\n");
      }
      output.push(result.stderr);
    }

    const seconds = `${(result.durationMs / 1000).toFixed(1)} s`;
    const notes: string[] = [];
    if (result.exitCode !== null && result.exitCode !== 0) {
      notes.push(`Exit code ${result.exitCode}`);
    }
    if (result.timedOut) notes.push(`Command timed out after ${timeoutMs} ms and was killed.`);
    if (result.truncated) {
      notes.push("Command was killed: it printed more output than the sandbox keeps.");
    }
    if (result.oomKilled) {
      notes.push("A process of the command was killed for going over the sandbox's memory limit.");
    }
    if (result.exitCode === null && !result.timedOut && !result.truncated) {
      notes.push(
        result.cancelled
          ? `Command was killed after ${seconds}: the turn was cancelled.`
          : "Command was killed by a signal.",
      );
    } else if (context.signal.aborted) {
      notes.push(`The turn was cancelled as the command ended (after ${seconds}).`);
    }
    if (output.length > BASH_MAX_OUTPUT_CHARS) {
      notes.push(
        `Output was ${output.length} characters; only the first and last ` +
          `${Math.floor(BASH_MAX_OUTPUT_CHARS / 2)} are shown.`,
      );
    }
    const cancelled = context.signal.aborted;
    const isError = result.exitCode !== 0 || result.timedOut || result.truncated || cancelled;

    const text = output.toString();
    const parts = [text === "" && notes.length === 0 ? "(no output)" : text.replace(/\n$/, "")];
    if (notes.length > 0) parts.push(notes.join("\n"));
    const shown = parts.filter((p) => p !== "").join("\n\n");
    // After a cancel the model is told what really happened: the command ran, and was killed.
    return cancelled ? { output: shown, isError, cancelled } : { output: shown, isError };
  },
});
