import type { Sandbox, SandboxFileStat } from "../../ports/sandbox.js";
import {
  abortable,
  defineTool,
  displayPath,
  ok,
  optionalString,
  requiredString,
  sandboxOf,
  ToolInputError,
  toWorkspacePath,
  WORKSPACE_ROOT,
} from "./paths.js";
import type { ToolContext } from "./types.js";

export const GLOB_MAX_RESULTS = 100;
/** Brace expansion stops here so `{a,b}{c,d}...` cannot explode. */
const MAX_BRACE_EXPANSIONS = 1_000;

/** Expands `{a,b}` alternatives (nested too); a `{...}` without a top-level comma stays literal. */
export function expandBraces(pattern: string): string[] {
  const results: string[] = [];
  const pending = [pattern];
  while (pending.length > 0) {
    const current = pending.pop()!;
    const brace = findBrace(current);
    if (!brace) {
      results.push(current);
    } else {
      const before = current.slice(0, brace.open);
      const after = current.slice(brace.close + 1);
      for (const alternative of brace.alternatives.reverse()) {
        pending.push(before + alternative + after);
      }
    }
    if (results.length + pending.length > MAX_BRACE_EXPANSIONS) {
      throw new ToolInputError(`pattern expands to more than ${MAX_BRACE_EXPANSIONS} alternatives`);
    }
  }
  return results;
}

function findBrace(
  pattern: string,
): { open: number; close: number; alternatives: string[] } | undefined {
  for (let open = 0; open < pattern.length; open++) {
    if (pattern[open] === "\\") {
      open++;
      continue;
    }
    if (pattern[open] !== "{") continue;
    let depth = 0;
    let start = open + 1;
    const alternatives: string[] = [];
    for (let i = open + 1; i < pattern.length; i++) {
      const c = pattern[i];
      if (c === "\\") {
        i++;
      } else if (c === "{") {
        depth++;
      } else if (c === "}" && depth > 0) {
        depth--;
      } else if (c === "," && depth === 0) {
        alternatives.push(pattern.slice(start, i));
        start = i + 1;
      } else if (c === "}") {
        if (alternatives.length === 0) break; // `{x}`: literal; look for a later brace
        alternatives.push(pattern.slice(start, i));
        return { open, close: i, alternatives };
      }
    }
  }
  return undefined;
}

/** A regular expression for one path segment of a glob (`*`, `?`, `[...]`, `\` escapes). */
function segmentRegExp(segment: string): RegExp {
  let source = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === "\\" && i + 1 < segment.length) {
      source += escapeRegExp(segment[++i]!);
    } else if (c === "*") {
      source += "[^/]*";
      while (segment[i + 1] === "*") i++;
    } else if (c === "?") {
      source += "[^/]";
    } else if (c === "[") {
      const cls = characterClass(segment, i);
      if (cls) {
        source += cls.source;
        i = cls.end;
      } else {
        source += "\\[";
      }
    } else {
      source += escapeRegExp(c);
    }
  }
  return new RegExp(`^${source}$`);
}

/** `[abc]`, `[a-z]`, `[!x]` / `[^x]` starting at `start`; undefined when not closed. */
function characterClass(
  segment: string,
  start: number,
): { source: string; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (segment[i] === "!" || segment[i] === "^") {
    negate = true;
    i++;
  }
  let body = "";
  for (let first = true; i < segment.length; i++, first = false) {
    const c = segment[i]!;
    if (c === "]" && !first) {
      return { source: `[${negate ? "^" : ""}${body}]`, end: i };
    }
    if (c === "\\" && i + 1 < segment.length) {
      body += `\\${segment[++i]}`;
    } else if (c === "-" && !first && segment[i + 1] !== "]") {
      body += "-";
    } else {
      body += /[\\\]^[-]/.test(c) ? `\\${c}` : c;
    }
  }
  return undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

const MAGIC = /[*?[{\\]/;

/** Whether a glob segment has wildcards (else it matches only itself). */
function isLiteral(segment: string): boolean {
  return !MAGIC.test(segment);
}

type CompiledSegment = "**" | { literal: string } | { regexp: RegExp; dot: boolean };

/**
 * A compiled glob, matched against `/`-separated relative paths. `**` as a whole segment matches
 * any number of directories; `*` and `?` never cross `/`. Like most glob libraries, wildcards do
 * not match names starting with `.` unless the pattern segment itself starts with `.`.
 */
export class Glob {
  private readonly alternatives: CompiledSegment[][];

  constructor(readonly pattern: string) {
    this.alternatives = expandBraces(pattern).map((p) =>
      p
        .split("/")
        .filter((s, i, all) => s !== "" && !(s === "**" && all[i - 1] === "**"))
        .map((s): CompiledSegment => {
          if (s === "**") return "**";
          if (isLiteral(s)) return { literal: s };
          return { regexp: segmentRegExp(s), dot: s.startsWith(".") || s.startsWith("\\.") };
        }),
    );
  }

  matches(path: string): boolean {
    const segments = path.split("/");
    return this.alternatives.some((pattern) => matchSegments(pattern, 0, segments, 0));
  }

  /** The leading directories every match shares (`src/app` for `src/app/**\/*.ts`). */
  literalPrefix(): string {
    const prefixes = this.alternatives.map((pattern) => {
      const literal: string[] = [];
      for (const s of pattern.slice(0, -1)) {
        if (s === "**" || !("literal" in s)) break;
        literal.push(s.literal);
      }
      return literal;
    });
    const first = prefixes[0] ?? [];
    let n = first.length;
    for (const p of prefixes) {
      let k = 0;
      while (k < n && p[k] === first[k]) k++;
      n = k;
    }
    return first.slice(0, n).join("/");
  }
}

function matchSegments(
  pattern: CompiledSegment[],
  pi: number,
  path: string[],
  si: number,
): boolean {
  if (pi === pattern.length) return si === path.length;
  const segment = pattern[pi]!;
  if (segment === "**") {
    for (let k = si; k <= path.length; k++) {
      if (matchSegments(pattern, pi + 1, path, k)) return true;
      if (k < path.length && path[k]!.startsWith(".")) return false;
    }
    return false;
  }
  const name = path[si];
  if (name === undefined) return false;
  if ("literal" in segment) {
    if (name !== segment.literal) return false;
  } else {
    if (name.startsWith(".") && !segment.dot) return false;
    if (!segment.regexp.test(name)) return false;
  }
  return matchSegments(pattern, pi + 1, path, si + 1);
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
        `${field} ${JSON.stringify(pattern)} is outside the workspace; use a pattern relative to ` +
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

/**
 * Files (and symlinks) under `dir`; an absent `dir` lists nothing. A ToolInputError when `dir` is
 * a file.
 */
export async function listUnder(
  sandbox: Sandbox,
  dir: string,
  context: ToolContext,
  field = "path",
): Promise<SandboxFileStat[]> {
  if (dir !== "") {
    const stat = await abortable(sandbox.stat(dir), context.signal);
    if (stat === null) return [];
    if (stat.type === "file") {
      throw new ToolInputError(`${field} ${displayPath(dir)} is a file, not a directory`);
    }
  }
  const entries = await abortable(sandbox.listFiles(dir === "" ? undefined : dir), context.signal);
  return entries.filter((e) => e.type !== "directory");
}

export function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** Newest first; equal times by path. */
export function byNewest(a: SandboxFileStat, b: SandboxFileStat): number {
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
    let base = rawPath === undefined ? "" : toWorkspacePath(rawPath, "path");
    const pattern = workspaceGlob(rawPattern);
    if (rawPattern.startsWith("/")) {
      // An absolute pattern names its own directory.
      base = "";
    }
    if (pattern === "") throw new ToolInputError("pattern must name files, not only a directory");
    const glob = new Glob(pattern);

    const sandbox = await sandboxOf(context);
    if (base !== "") {
      const stat = await abortable(sandbox.stat(base), context.signal);
      if (stat === null) throw new ToolInputError(`path ${displayPath(base)} does not exist`);
    }
    // List only below the pattern's fixed directories (`src/app` of `src/app/**/*.ts`).
    const prefix = glob.literalPrefix();
    const dir = [base, prefix].filter((s) => s !== "").join("/");
    const files = (await listUnder(sandbox, dir, context))
      .filter((f) => glob.matches(relativeTo(base, f.path)))
      .sort(byNewest);

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
