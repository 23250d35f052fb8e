import { posix } from "node:path";
import type { SandboxFileStat } from "../../ports/sandbox.js";
import { byNewest, byPath, compileGlob, listUnder, relativeTo } from "./glob.js";
import {
  defineTool,
  displayPath,
  fail,
  looksBinary,
  ok,
  optionalBoolean,
  optionalEnum,
  optionalInteger,
  optionalString,
  requiredString,
  sandboxOf,
  ToolInputError,
  toWorkspacePath,
  utf8,
  WORKSPACE_ROOT,
} from "./paths.js";
import { READ_MAX_LINE_CHARS, splitLines } from "./read.js";
import { REGEX_BUDGET_MS, type RegexWorker, withRegexWorker } from "./regex-worker.js";

/** Files larger than this are not searched. */
export const GREP_MAX_FILE_BYTES = 1024 * 1024;
/** Characters of output that go back to the model. */
export const GREP_MAX_OUTPUT_CHARS = 30_000;
/** Files read at the same time. */
const READ_CONCURRENCY = 16;

const OUTPUT_MODES = ["content", "files_with_matches", "count"] as const;
type OutputMode = (typeof OUTPUT_MODES)[number];

interface FileMatches {
  path: string;
  /** 0-based indexes of the lines holding a match, ascending. */
  lines: number[];
  /** Matches (multiline) or matching lines. */
  count: number;
  text: string[];
}

/** The lines of `text` that `regexp` matches; with `multiline` a match may span lines. */
async function searchText(
  text: string,
  regexp: RegExp,
  multiline: boolean,
  worker: RegexWorker,
): Promise<Omit<FileMatches, "path">> {
  const lines = splitLines(text);
  if (!multiline) {
    const hits = await worker.test(regexp, lines);
    return { lines: hits, count: hits.length, text: lines };
  }
  const spans = await worker.matchAll(regexp, text);
  // Start offset of every line, to map match offsets to line indexes.
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  const lineOf = (offset: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const hit = new Set<number>();
  for (let k = 0; k < spans.length; k += 2) {
    const [start, end] = [spans[k]!, spans[k + 1]!];
    const last = lineOf(Math.max(start, end - 1));
    for (let i = lineOf(start); i <= last && i < lines.length; i++) hit.add(i);
  }
  return { lines: [...hit].sort((a, b) => a - b), count: spans.length / 2, text: lines };
}

function clip(line: string): string {
  return line.length > READ_MAX_LINE_CHARS
    ? `${line.slice(0, READ_MAX_LINE_CHARS)}... [line truncated]`
    : line;
}

/** ripgrep-style lines: `path:12:match`, `path-13-context`, `--` between separate groups. */
function contentLines(
  file: FileMatches,
  before: number,
  after: number,
  lineNumbers: boolean,
): string[] {
  const out: string[] = [];
  const name = displayPath(file.path);
  const matched = new Set(file.lines);
  let printedUpTo = -1;
  for (const hit of file.lines) {
    const from = Math.max(hit - before, printedUpTo + 1);
    const to = Math.min(file.text.length - 1, hit + after);
    if (printedUpTo >= 0 && from > printedUpTo + 1 && (before > 0 || after > 0)) out.push("--");
    for (let i = from; i <= to; i++) {
      if (i <= printedUpTo) continue;
      const sep = matched.has(i) ? ":" : "-";
      out.push(`${name}${sep}${lineNumbers ? `${i + 1}${sep}` : ""}${clip(file.text[i]!)}`);
      printedUpTo = i;
    }
  }
  return out;
}

/** Runs `worker` over `items`, `limit` at a time, in order of completion. */
async function forEachLimited<T>(
  items: T[],
  limit: number,
  worker: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await worker(items[next++]!);
  });
  await Promise.all(lanes);
}

export const grepTool = defineTool({
  name: "Grep",
  description: [
    "Searches file contents with a regular expression (JavaScript RegExp syntax, e.g. " +
      "`log.*Error`, `function\\s+\\w+`; escape literal braces: `interface\\{\\}`).",
    `- Searches the workspace (root ${WORKSPACE_ROOT}) or the file or directory given as path; ` +
      'filter files with glob (e.g. "*.js", "**/*.{ts,tsx}"). Hidden files and directories, ' +
      `binary files and files over ${GREP_MAX_FILE_BYTES / 1024 / 1024} MiB are skipped.`,
    '- output_mode: "files_with_matches" (default) lists matching files, newest first; ' +
      '"content" shows matching lines (with -A/-B/-C context and -n line numbers, on by ' +
      'default); "count" shows matching lines per file.',
    "- Patterns match within one line unless multiline is true (then `.` also matches newlines " +
      "and a match may span lines).",
    "- Use it instead of grep or rg through Bash. head_limit keeps the first N lines or entries.",
    `- A search may spend ${REGEX_BUDGET_MS / 1000} s matching; past that it stops with an error.`,
  ].join("\n"),
  inputSchema: {
    type: "object",
    properties: {
      pattern: { type: "string", description: "The regular expression to search for" },
      path: {
        type: "string",
        description: `File or directory to search (absolute under ${WORKSPACE_ROOT} or workspace-relative); default the whole workspace`,
      },
      glob: {
        type: "string",
        description: 'Only search files matching this glob, e.g. "*.js" or "src/**/*.{ts,tsx}"',
      },
      output_mode: {
        type: "string",
        enum: [...OUTPUT_MODES],
        description: 'What to show: "content", "files_with_matches" (default) or "count"',
      },
      "-i": { type: "boolean", description: "Case-insensitive search" },
      "-n": { type: "boolean", description: "Show line numbers (content mode; default true)" },
      "-A": {
        type: "integer",
        minimum: 0,
        description: "Lines to show after each match (content mode)",
      },
      "-B": {
        type: "integer",
        minimum: 0,
        description: "Lines to show before each match (content mode)",
      },
      "-C": {
        type: "integer",
        minimum: 0,
        description: "Lines to show before and after each match (content mode)",
      },
      head_limit: {
        type: "integer",
        minimum: 1,
        description: "Keep only the first N output lines or entries",
      },
      multiline: {
        type: "boolean",
        description: "Let patterns span lines and `.` match newlines (default false)",
      },
    },
    required: ["pattern"],
    additionalProperties: false,
  },
  async run(input, context) {
    const pattern = requiredString(input, "pattern");
    const rawPath = optionalString(input, "path");
    const globPattern = optionalString(input, "glob");
    const mode: OutputMode =
      optionalEnum(input, "output_mode", OUTPUT_MODES) ?? "files_with_matches";
    const ignoreCase = optionalBoolean(input, "-i") ?? false;
    const lineNumbers = optionalBoolean(input, "-n") ?? true;
    const context_ = optionalInteger(input, "-C", 0);
    const after = optionalInteger(input, "-A", 0) ?? context_ ?? 0;
    const before = optionalInteger(input, "-B", 0) ?? context_ ?? 0;
    const headLimit = optionalInteger(input, "head_limit", 1);
    const multiline = optionalBoolean(input, "multiline") ?? false;
    const base = rawPath === undefined ? "" : toWorkspacePath(rawPath, "path");

    let regexp: RegExp;
    try {
      regexp = new RegExp(pattern, `${ignoreCase ? "i" : ""}${multiline ? "ms" : ""}`);
    } catch (error) {
      return fail("Grep", `invalid regular expression: ${(error as Error).message}`);
    }
    if (globPattern === "") throw new ToolInputError("glob must not be empty");
    const glob =
      globPattern === undefined ? undefined : compileGlob(globPattern.replace(/^\.\//, ""), "glob");
    // Like ripgrep: a glob without `/` is matched against file names at any depth.
    const globByName = globPattern !== undefined && !globPattern.includes("/");

    const sandbox = await sandboxOf(context);
    const stat = base === "" ? null : await sandbox.stat(base);
    if (base !== "" && stat === null) {
      throw new ToolInputError(`path ${displayPath(base)} does not exist`);
    }
    const found = await withRegexWorker(context.signal, "the search", async (worker) => {
      const matching: Array<FileMatches & { mtimeMs: number }> = [];
      let candidates: SandboxFileStat[];
      if (stat !== null && stat.type !== "directory") {
        candidates = [stat];
      } else {
        // Hidden files and directories are skipped, as ripgrep does.
        candidates = (await listUnder(sandbox, base)).filter(
          (f) => !`/${relativeTo(base, f.path)}`.includes("/."),
        );
        if (glob) {
          const names = candidates.map((f) => {
            const rel = relativeTo(base, f.path);
            return globByName ? posix.basename(rel) : rel;
          });
          candidates = (await worker.test(glob.regexp, names)).map((i) => candidates[i]!);
        }
      }
      candidates = candidates.filter((f) => f.size <= GREP_MAX_FILE_BYTES);

      await forEachLimited(candidates, READ_CONCURRENCY, async (file) => {
        context.signal.throwIfAborted();
        let bytes: Uint8Array;
        try {
          bytes = await sandbox.readFile(file.path);
        } catch (error) {
          if (context.signal.aborted) throw error;
          return; // vanished or unreadable since the listing: skip, as grep -s does
        }
        if (bytes.length > GREP_MAX_FILE_BYTES || looksBinary(bytes)) return;
        const result = await searchText(utf8.decode(bytes), regexp, multiline, worker);
        if (result.count > 0) matching.push({ path: file.path, mtimeMs: file.mtimeMs, ...result });
      });
      return matching;
    });

    if (found.length === 0) return ok(mode === "count" ? "No matches found" : "No files found");

    let lines: string[];
    let summary: string;
    if (mode === "files_with_matches") {
      found.sort(byNewest);
      lines = found.map((f) => displayPath(f.path));
      summary = `Found ${found.length} file${found.length === 1 ? "" : "s"}`;
    } else {
      found.sort(byPath);
      if (mode === "count") {
        lines = found.map((f) => `${displayPath(f.path)}:${f.count}`);
        const total = found.reduce((n, f) => n + f.count, 0);
        summary = `Found ${total} match${total === 1 ? "" : "es"} in ${found.length} file${found.length === 1 ? "" : "s"}`;
      } else {
        lines = found.flatMap((f) => contentLines(f, before, after, lineNumbers));
        summary = "";
      }
    }

    const notes: string[] = [];
    if (headLimit !== undefined && lines.length > headLimit) {
      notes.push(`(Showing the first ${headLimit} of ${lines.length} lines: head_limit.)`);
      lines = lines.slice(0, headLimit);
    }
    let text = lines.join("\n");
    if (text.length > GREP_MAX_OUTPUT_CHARS) {
      const cut = text.lastIndexOf("\n", GREP_MAX_OUTPUT_CHARS);
      const kept = text.slice(0, cut > 0 ? cut : GREP_MAX_OUTPUT_CHARS);
      const keptLines = kept.split("\n").length;
      notes.push(
        `(Output cut to ${keptLines} of ${lines.length} lines, ${GREP_MAX_OUTPUT_CHARS} characters: ` +
          "narrow the search with path, glob or head_limit.)",
      );
      text = kept;
    }
    return ok([summary, text, ...notes].filter((s) => s !== "").join("\n"));
  },
});
