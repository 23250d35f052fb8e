import { posix } from "node:path";
import picomatch from "picomatch";
import type { SandboxFileStat } from "../../ports/sandbox.js";
import {
  defineTool,
  displayPath,
  ok,
  optionalString,
  quote,
  requiredString,
  sandboxOf,
  ToolInputError,
  type ToolSandbox,
  toWorkspacePath,
  WORKSPACE_ROOT,
} from "./paths.js";
import { withRegexWorker } from "./regex-worker.js";

export const GLOB_MAX_RESULTS = 100;

/**
 * Claude Code's glob rules: `**` spans directories only as a whole segment, `*` and `?` never
 * cross `/`, `{a,b}` works, and wildcards skip names starting with `.` unless the pattern spells
 * the dot (picomatch's defaults); `[!a]` negates a class as `[^a]` does (`posix`); `/` is the only
 * separator, whatever the OS.
 */
const GLOB_OPTIONS: picomatch.PicomatchOptions = { posix: true, windows: false };

/**
 * The regular expression of a glob (run it in a RegexWorker: it can backtrack badly), and the
 * directory every match is under (`src/app` for `src/app/**\/*.ts`), to list only that.
 */
export function compileGlob(pattern: string, field: string): { regexp: RegExp; dir: string } {
  let regexp: RegExp;
  try {
    regexp = picomatch.makeRe(pattern, GLOB_OPTIONS);
  } catch (error) {
    throw new ToolInputError(`${field} ${quote(pattern)} is not a valid glob: ${error}`);
  }
  const scan = picomatch.scan(pattern, GLOB_OPTIONS);
  let dir = scan.isGlob ? scan.base : posix.dirname(pattern);
  // A negated glob matches outside its base; an escape (`\*`) is not part of the name.
  if (dir === "." || scan.negated || dir.includes("\\")) dir = "";
  return { regexp, dir };
}

/**
 * Turns the model's glob into one relative to the workspace root: `/workspace/src/*.ts` and
 * `./src/*.ts` become `src/*.ts`; anything reaching outside is a ToolInputError.
 */
export function workspaceGlob(pattern: string, field = "pattern"): string {
  let p = pattern;
  if (p.startsWith("/")) {
    if (p === WORKSPACE_ROOT || p === `${WORKSPACE_ROOT}/`) return "";
    if (!p.startsWith(`${WORKSPACE_ROOT}/`)) {
      throw new ToolInputError(
        `${field} ${quote(pattern)} is outside the workspace; use a pattern relative to ` +
          `the search path or an absolute one under ${WORKSPACE_ROOT}`,
      );
    }
    p = p.slice(WORKSPACE_ROOT.length + 1);
  }
  while (p.startsWith("./")) p = p.slice(2);
  if (p.split("/").includes("..")) throw new ToolInputError(`${field} must not contain ..`);
  return p;
}

/** Path of `entry` relative to the listed directory `dir` ("" = the root). */
export function relativeTo(dir: string, entryPath: string): string {
  return dir === "" ? entryPath : entryPath.slice(dir.length + 1);
}

/** Files (and symlinks) under `dir`; nothing when `dir` is absent or a file. */
export async function listUnder(sandbox: ToolSandbox, dir: string): Promise<SandboxFileStat[]> {
  if (dir !== "") {
    const stat = await sandbox.stat(dir);
    if (stat === null || stat.type === "file") return [];
  }
  const entries = await sandbox.listFiles(dir === "" ? undefined : dir);
  return entries.filter((e) => e.type !== "directory");
}

export function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** Newest first; equal times by path. */
export function byNewest(
  a: { path: string; mtimeMs: number },
  b: { path: string; mtimeMs: number },
): number {
  return b.mtimeMs - a.mtimeMs || byPath(a, b);
}

export const globTool = defineTool({
  name: "Glob",
  description: [
    "Finds files by name pattern, fast at any workspace size. Supports `**` (any number of " +
      "directories), `*`, `?`, `{a,b}` and character classes like `[a-z]`, e.g. `**/*.js` or " +
      "`src/**/*.{ts,tsx}`.",
    `- Returns matching file paths (absolute, under the workspace root ${WORKSPACE_ROOT}), ` +
      `newest first, at most ${GLOB_MAX_RESULTS}.`,
    "- Wildcards skip names starting with `.` unless the pattern spells the dot.",
    "- Use it to find files by name; search inside files with Grep. For an open-ended search " +
      "that may need several rounds, make several calls in parallel.",
  ].join("\n"),
  inputSchema: {
    type: "object",
    properties: {
      pattern: { type: "string", description: "The glob pattern to match files against" },
      path: {
        type: "string",
        description:
          `The directory to search in (absolute under ${WORKSPACE_ROOT} or workspace-relative). ` +
          "Omit it to search the whole workspace",
      },
    },
    required: ["pattern"],
    additionalProperties: false,
  },
  async run(input, context) {
    const rawPattern = requiredString(input, "pattern");
    const rawPath = optionalString(input, "path");
    const pattern = workspaceGlob(rawPattern);
    if (pattern === "") throw new ToolInputError("pattern must name files, not only a directory");
    // An absolute pattern names its own directory.
    const base =
      rawPath === undefined || rawPattern.startsWith("/") ? "" : toWorkspacePath(rawPath, "path");
    const glob = compileGlob(pattern, "pattern");

    const sandbox = await sandboxOf(context);
    if (base !== "") {
      const stat = await sandbox.stat(base);
      if (stat === null) throw new ToolInputError(`path ${displayPath(base)} does not exist`);
      if (stat.type === "file") {
        throw new ToolInputError(`path ${displayPath(base)} is a file, not a directory`);
      }
    }
    const dir = [base, glob.dir].filter((s) => s !== "").join("/");
    const listed = await listUnder(sandbox, dir);
    const matching = await withRegexWorker(context.signal, "pattern", (worker) =>
      worker.test(
        glob.regexp,
        listed.map((f) => relativeTo(base, f.path)),
      ),
    );
    const files = matching.map((i) => listed[i]!).sort(byNewest);

    if (files.length === 0) return ok("No files found");
    const shown = files.slice(0, GLOB_MAX_RESULTS).map((f) => displayPath(f.path));
    if (files.length > GLOB_MAX_RESULTS) {
      shown.push(
        `(Showing the ${GLOB_MAX_RESULTS} newest of ${files.length} matches. Use a more ` +
          "specific pattern or path to narrow the search.)",
      );
    }
    return ok(shown.join("\n"));
  },
});
