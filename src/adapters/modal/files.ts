// A Modal sandbox's workspace files, through the SDK's filesystem API, with its errors told as
// SandboxFileErrors about the workspace path alone.

import { AppError } from "../../domain/errors.js";
import { normalizeWorkspacePath } from "../../domain/paths.js";
import {
  SandboxFileError,
  type SandboxFileErrorKind,
  type SandboxFileStat,
} from "../../ports/sandbox.js";
import type { ModalFileInfoLike, ModalSandboxLike } from "./client.js";
import { MODAL_WORKDIR } from "./limits.js";

/** The container's path of a workspace path ("" for the workspace itself). */
export const abs = (rel: string) => (rel === "" ? MODAL_WORKDIR : `${MODAL_WORKDIR}/${rel}`);

const errorName = (err: unknown) => (err as { name?: string } | null)?.name ?? "";
const isNotFound = (err: unknown) =>
  errorName(err) === "SandboxFilesystemNotFoundError" ||
  (err as NodeJS.ErrnoException | null)?.code === "ENOENT";

/** SDK filesystem error names, and the kind each means. */
const SDK_ERROR_KINDS: Record<string, [SandboxFileErrorKind, string]> = {
  SandboxFilesystemNotFoundError: ["not_found", "no such file or directory"],
  SandboxFilesystemIsADirectoryError: ["is_directory", "is a directory"],
  SandboxFilesystemNotADirectoryError: [
    "not_directory",
    "a component of the path is not a directory",
  ],
  SandboxFilesystemPermissionError: ["permission_denied", "permission denied"],
  SandboxFilesystemFileTooLargeError: ["too_large", "file too large"],
  SandboxFilesystemDirectoryNotEmptyError: ["io_error", "directory not empty"],
};

/** The errno texts the container's tools put in otherwise unclassified errors. */
const MESSAGE_KINDS: Array<[RegExp, SandboxFileErrorKind, string]> = [
  [
    /no space left|disk quota|os error (28|122)\b|StorageFull|QuotaExceeded/i,
    "no_space",
    "no space left in the sandbox",
  ],
  [
    /name too long|os error 36\b|InvalidFilename/i,
    "name_too_long",
    "a name in the path is too long",
  ],
  [/is a directory|os error 21\b/i, "is_directory", "is a directory"],
  [/not a directory|os error 20\b/i, "not_directory", "a component of the path is not a directory"],
  [/no such file|os error 2\b/i, "not_found", "no such file or directory"],
  [/permission denied|os error 13\b/i, "permission_denied", "permission denied"],
];

/**
 * A file error that names only the workspace path (the SDK's messages name the container's).
 * "Already exists" comes from making a file's parent directories where one of them is a file:
 * not_directory. Errors that are not about files (connection, auth) pass through.
 */
function fileError(rel: string, err: unknown): Error {
  if (err instanceof SandboxFileError || err instanceof AppError) return err;
  const name = errorName(err);
  const known = SDK_ERROR_KINDS[name];
  if (known) return new SandboxFileError(known[0], rel, known[1]);
  if (name === "SandboxFilesystemPathAlreadyExistsError") {
    return new SandboxFileError("not_directory", rel, "a component of the path is not a directory");
  }
  if (!name.startsWith("SandboxFilesystem")) {
    return err instanceof Error ? err : new Error(String(err));
  }
  const message = err instanceof Error ? err.message : String(err);
  for (const [re, kind, text] of MESSAGE_KINDS) {
    if (re.test(message)) return new SandboxFileError(kind, rel, text);
  }
  return new SandboxFileError("io_error", rel, "the file operation failed");
}

/** Whether a listing or stat error means "nothing there" (missing, or under a non-directory). */
const isAbsent = (err: unknown) =>
  isNotFound(err) || errorName(err) === "SandboxFilesystemNotADirectoryError";

export class ModalFiles {
  constructor(private readonly sb: ModalSandboxLike) {}

  async read(path: string): Promise<Uint8Array> {
    const rel = normalizeWorkspacePath(path);
    try {
      return await this.sb.filesystem.readBytes(abs(rel));
    } catch (err) {
      throw fileError(rel, err);
    }
  }

  async write(path: string, content: Uint8Array): Promise<void> {
    const rel = normalizeWorkspacePath(path);
    const parent = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
    try {
      if (parent) await this.sb.filesystem.makeDirectory(abs(parent), { createParents: true });
      await this.sb.filesystem.writeBytes(content, abs(rel));
    } catch (err) {
      throw fileError(rel, err);
    }
  }

  async list(dir = ""): Promise<SandboxFileStat[]> {
    const start = dir === "" ? "" : normalizeWorkspacePath(dir, "dir");
    const out: SandboxFileStat[] = [];
    const walk = async (rel: string): Promise<void> => {
      let entries: ModalFileInfoLike[];
      try {
        entries = await this.sb.filesystem.listFiles(abs(rel));
      } catch (err) {
        if (isAbsent(err)) return;
        throw fileError(rel, err);
      }
      for (const e of entries) {
        const name = e.path.split("/").filter(Boolean).at(-1) ?? "";
        if (name === "" || name === "." || name === "..") continue;
        const child = rel === "" ? name : `${rel}/${name}`;
        out.push({ path: child, type: e.type, size: e.size, mtimeMs: e.modifiedTime * 1000 });
        // Links are listed, not entered.
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
    } catch (err) {
      if (isAbsent(err)) return null;
      throw fileError(rel, err);
    }
  }

  async remove(path: string): Promise<void> {
    const rel = normalizeWorkspacePath(path);
    try {
      await this.sb.filesystem.remove(abs(rel), { recursive: true });
    } catch (err) {
      if (!isNotFound(err)) throw fileError(rel, err);
    }
  }
}
