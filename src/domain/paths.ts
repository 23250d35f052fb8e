import { invalidField } from "./errors.js";
import { LIMITS } from "./limits.js";

/** Where a session's workspace is, as the agent's tools and commands see it. */
export const WORKSPACE_ROOT = "/workspace";

/**
 * Validates a workspace path (relative, `/`-separated, no `.` or `..` segments, no NUL or
 * backslash, no segment longer than a file name may be) and returns it normalized: duplicate
 * slashes collapsed, trailing slash dropped. Throws InvalidArgument naming `field`.
 */
export function normalizeWorkspacePath(path: string, field = "path"): string {
  if (path.length === 0) throw invalidField(field, "is required");
  if (Buffer.byteLength(path, "utf8") > LIMITS.maxPathBytes) {
    throw invalidField(field, `must be at most ${LIMITS.maxPathBytes} bytes`);
  }
  if (path.includes("\0")) throw invalidField(field, "must not contain NUL");
  if (path.includes("\\")) throw invalidField(field, "must use / as separator");
  if (path.startsWith("/")) throw invalidField(field, "must be relative to the workspace");
  const segments = path.split("/").filter((s) => s !== "");
  if (segments.length === 0) throw invalidField(field, "is required");
  for (const segment of segments) {
    if (segment === "..") throw invalidField(field, "must not contain ..");
    if (segment === ".") throw invalidField(field, "must not contain . segments");
    if (Buffer.byteLength(segment, "utf8") > LIMITS.maxPathSegmentBytes) {
      throw invalidField(
        field,
        `each name in the path must be at most ${LIMITS.maxPathSegmentBytes} bytes`,
      );
    }
  }
  return segments.join("/");
}
