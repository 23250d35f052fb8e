import {
  defineTool,
  displayPath,
  fail,
  looksBinary,
  ok,
  optionalInteger,
  requiredString,
  sandboxOf,
  toFilePath,
  utf8,
  WORKSPACE_ROOT,
} from "./paths.js";

export const READ_DEFAULT_LIMIT = 2_000;
export const READ_MAX_LINE_CHARS = 2_000;

/** Lines of `text`, without their terminators; a final newline does not start another line. */
export function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
}

/** `cat -n` style: the line number right-aligned in 6 columns, a tab, the line (cut when long). */
export function numberLine(lineNumber: number, line: string): string {
  const shown =
    line.length > READ_MAX_LINE_CHARS
      ? `${line.slice(0, READ_MAX_LINE_CHARS)}... [line truncated: ${line.length} chars]`
      : line;
  return `${String(lineNumber).padStart(6)}\t${shown}`;
}

export const readTool = defineTool({
  name: "Read",
  description: [
    `Reads a file from the workspace. The workspace root is ${WORKSPACE_ROOT}; file_path may be ` +
      `absolute under ${WORKSPACE_ROOT} or relative to it.`,
    `- By default reads up to ${READ_DEFAULT_LIMIT} lines from the start of the file. For long ` +
      "files, pass offset (the 1-based line to start at) and limit (how many lines); prefer " +
      "reading the whole file when it is not too large.",
    `- Lines longer than ${READ_MAX_LINE_CHARS} characters are truncated.`,
    "- Output is in `cat -n` format: the line number, a tab, then the line. The number and tab " +
      "are not part of the file: leave them out of Edit's old_string.",
    "- Reads files only, not directories: list a directory with Glob or `ls` through Bash.",
    "- Binary files are not shown. Reading several files that may be useful at once is fine.",
  ].join("\n"),
  inputSchema: {
    type: "object",
    properties: {
      file_path: {
        type: "string",
        description: `The file to read, absolute under ${WORKSPACE_ROOT} or workspace-relative`,
      },
      offset: {
        type: "integer",
        minimum: 1,
        description: "The line number to start reading from (1-based). Only for large files",
      },
      limit: {
        type: "integer",
        minimum: 1,
        description: "The number of lines to read. Only for large files",
      },
    },
    required: ["file_path"],
    additionalProperties: false,
  },
  async run(input, context) {
    const filePath = requiredString(input, "file_path");
    const offset = optionalInteger(input, "offset", 1) ?? 1;
    const limit = optionalInteger(input, "limit", 1) ?? READ_DEFAULT_LIMIT;
    const path = toFilePath(filePath, "file_path");
    const shown = displayPath(path);

    const sandbox = await sandboxOf(context);
    const stat = await sandbox.stat(path);
    if (stat === null) return fail("Read", `file does not exist: ${shown}`);
    if (stat.type === "directory") {
      return fail("Read", `${shown} is a directory, not a file (list it with Glob or ls)`);
    }
    const bytes = await sandbox.readFile(path);
    if (bytes.length === 0) return ok(`(${shown} exists but is empty)`);
    if (looksBinary(bytes)) {
      return ok(`(${shown} is a binary file of ${bytes.length} bytes; its content is not shown)`);
    }

    const lines = splitLines(utf8.decode(bytes));
    if (offset > lines.length) {
      return fail(
        "Read",
        `offset ${offset} is past the end of ${shown}, which has ${lines.length} line` +
          `${lines.length === 1 ? "" : "s"}`,
      );
    }
    const end = Math.min(lines.length, offset - 1 + limit);
    const numbered = lines.slice(offset - 1, end).map((line, i) => numberLine(offset + i, line));
    let output = numbered.join("\n");
    if (offset > 1 || end < lines.length) {
      output +=
        `\n\n(Showing lines ${offset}-${end} of ${lines.length}.` +
        `${end < lines.length ? ` Pass offset ${end + 1} to read on.` : ""})`;
    }
    return ok(output);
  },
});
