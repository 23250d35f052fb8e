// Shared by the built-in tools: workspace paths as the model writes them, input checks that turn
// into error results, and cancellation.

import { posix } from "node:path";
import { AppError } from "../../domain/errors.js";
import { normalizeWorkspacePath, WORKSPACE_ROOT } from "../../domain/paths.js";
import type { Sandbox } from "../../ports/sandbox.js";
import type { Tool, ToolContext, ToolResult } from "./types.js";

export { WORKSPACE_ROOT };

/** A problem with the model's input: becomes `{ isError: true, output: "<tool>: <message>" }`. */
export class ToolInputError extends Error {
  override readonly name = "ToolInputError";
}

/**
 * Converts a path as the model gave it (relative to the workspace root, or absolute under
 * `/workspace`) to a workspace-relative path; `""` is the root itself. `.` and `..` segments are
 * resolved first; the result must then pass the API's rule for workspace paths
 * (normalizeWorkspacePath: no NUL or backslash, length limits). A ToolInputError names `field`.
 */
export function toWorkspacePath(input: string, field: string): string {
  const absolute = posix.normalize(input.startsWith("/") ? input : `${WORKSPACE_ROOT}/${input}`);
  if (absolute === WORKSPACE_ROOT || absolute === `${WORKSPACE_ROOT}/`) return "";
  if (!absolute.startsWith(`${WORKSPACE_ROOT}/`)) {
    throw new ToolInputError(
      `${field} ${quote(input)} is outside the workspace; use a path relative to the ` +
        `workspace root or an absolute path under ${WORKSPACE_ROOT}`,
    );
  }
  try {
    return normalizeWorkspacePath(absolute.slice(WORKSPACE_ROOT.length + 1), field);
  } catch (error) {
    if (error instanceof AppError) throw new ToolInputError(error.message);
    throw error;
  }
}

/** toWorkspacePath for a file: the workspace root is a directory. */
export function toFilePath(input: string, field: string): string {
  const path = toWorkspacePath(input, field);
  if (path === "") throw new ToolInputError(`${WORKSPACE_ROOT} is a directory, not a file`);
  return path;
}

/** `text` as a JSON string, cut when long: for echoing the model's input in messages. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text);
}

/** How a workspace-relative path is shown to the model: absolute under `/workspace`. */
export function displayPath(relative: string): string {
  return relative === "" ? WORKSPACE_ROOT : `${WORKSPACE_ROOT}/${relative}`;
}

// --- input fields ---

export type ToolInput = Record<string, unknown>;

export function inputObject(input: unknown): ToolInput {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ToolInputError("input must be an object");
  }
  return input as ToolInput;
}

export function requiredString(input: ToolInput, field: string): string {
  const value = input[field];
  if (value === undefined || value === null) throw new ToolInputError(`${field} is required`);
  if (typeof value !== "string") throw new ToolInputError(`${field} must be a string`);
  return value;
}

export function optionalString(input: ToolInput, field: string): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new ToolInputError(`${field} must be a string`);
  return value;
}

export function optionalBoolean(input: ToolInput, field: string): boolean | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw new ToolInputError(`${field} must be a boolean`);
  return value;
}

/** A whole number in [min, max]. */
export function optionalInteger(
  input: ToolInput,
  field: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new ToolInputError(`${field} must be an integer`);
  }
  if (value < min || value > max) {
    throw new ToolInputError(
      max === Number.MAX_SAFE_INTEGER
        ? `${field} must be at least ${min}`
        : `${field} must be between ${min} and ${max}`,
    );
  }
  return value;
}

export function optionalEnum<T extends string>(
  input: ToolInput,
  field: string,
  values: readonly T[],
): T | undefined {
  const value = input[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || !(values as readonly string[]).includes(value)) {
    throw new ToolInputError(`${field} must be one of ${values.map((v) => `"${v}"`).join(", ")}`);
  }
  return value as T;
}

// --- results, failures, cancellation ---

export function ok(output: string): ToolResult {
  return { output, isError: false };
}

/** An error result; `tool: ` is prefixed here. */
export function fail(tool: string, message: string): ToolResult {
  return { output: `${tool}: ${message}`, isError: true };
}

/** The signal's reason, or an AbortError when it has none. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted", "AbortError");
}

/** Rejects as soon as `signal` aborts, whether or not `promise` has settled by then. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Builds a Tool whose `run` follows the contract of types.ts: input problems and failures
 * (including errors thrown by the sandbox, such as its own path validation) come back as error
 * results; after a cancel it rejects, unless `run` returned a result marked `cancelled`.
 */
export function defineTool(spec: {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  run(input: ToolInput, context: ToolContext): Promise<ToolResult>;
}): Tool {
  const { name, run } = spec;
  return {
    name,
    description: spec.description,
    inputSchema: spec.inputSchema,
    async run(input: unknown, context: ToolContext): Promise<ToolResult> {
      context.signal.throwIfAborted();
      try {
        const result = await run(inputObject(input), context);
        if (!result.cancelled) context.signal.throwIfAborted();
        return result;
      } catch (error) {
        if (context.signal.aborted) throw abortReason(context.signal);
        return fail(name, error instanceof Error ? error.message : String(error));
      }
    },
  };
}

/** What the tools use of a sandbox. */
export type ToolSandbox = Pick<Sandbox, "exec" | "readFile" | "writeFile" | "listFiles" | "stat">;

/**
 * The sandbox, waited for with the turn's signal (starting one can take a while); its file
 * operations stop waiting when the signal aborts. `exec` takes the signal itself.
 */
export async function sandboxOf(context: ToolContext): Promise<ToolSandbox> {
  const sandbox = await abortable(context.sandbox(), context.signal);
  const { signal } = context;
  return {
    exec: (options) => sandbox.exec(options),
    readFile: (path) => abortable(sandbox.readFile(path), signal),
    writeFile: (path, content) => abortable(sandbox.writeFile(path, content), signal),
    listFiles: (dir) => abortable(sandbox.listFiles(dir), signal),
    stat: (path) => abortable(sandbox.stat(path), signal),
  };
}

/** True when the first 8 KiB hold a NUL byte. */
export function looksBinary(bytes: Uint8Array): boolean {
  const end = Math.min(bytes.length, 8 * 1024);
  for (let i = 0; i < end; i++) if (bytes[i] === 0) return true;
  return false;
}

export const utf8 = {
  decode: (bytes: Uint8Array) => new TextDecoder("utf-8").decode(bytes),
  encode: (text: string) => new TextEncoder().encode(text),
};
