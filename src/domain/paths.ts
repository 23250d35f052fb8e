import { invalidField } from "./errors.js";

/** Longest workspace path, in UTF-8 bytes. */
export const MAX_PATH_BYTES = 1_024;

/**
 * Validates a workspace path (relative, `/`-separated, no `.` or `..` segments, no NUL or
 * backslash) and returns it normalized: duplicate slashes collapsed, trailing slash dropped.
 * Throws InvalidArgument naming `field`.
 */
export function normalizeWorkspacePath(path: string, field = "path"): string {
  if (path.length === 0) throw invalidField(field, "is required");
  if (Buffer.byteLength(path, "utf8") > MAX_PATH_BYTES) {
    throw invalidField(field, `must be at most ${MAX_PATH_BYTES} bytes`);
  }
  if (path.includes("\0")) throw invalidField(field, "must not contain NUL");
  if (path.includes("\\")) throw invalidField(field, "must use / as separator");
  if (path.startsWith("/")) throw invalidField(field, "must be relative to the workspace");
  const segments = path.split("/").filter((s) => s !== "");
  if (segments.length === 0) throw invalidField(field, "is required");
  for (const segment of segments) {
    if (segment === "..") throw invalidField(field, "must not contain ..");
    if (segment === ".") throw invalidField(field, "must not contain . segments");
  }
  return segments.join("/");
}
