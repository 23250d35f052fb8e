import { LIMITS } from "../../domain/limits.js";
import {
  defineTool,
  displayPath,
  fail,
  looksBinary,
  ok,
  optionalBoolean,
  requiredString,
  sandboxOf,
  toFilePath,
  utf8,
  WORKSPACE_ROOT,
} from "./paths.js";

/** Non-overlapping occurrences of `needle` (not empty) in `haystack`. */
export function countOccurrences(haystack: string, needle: string): number {
  let count = 0;
  for (
    let at = haystack.indexOf(needle);
    at !== -1;
    at = haystack.indexOf(needle, at + needle.length)
  ) {
    count++;
  }
  return count;
}

export const editTool = defineTool({
  name: "Edit",
  description: [
    "Performs an exact string replacement in a workspace file. file_path may be absolute under " +
      `${WORKSPACE_ROOT} or relative to it.`,
    "- Read the file first. Copy old_string exactly as the file has it, indentation included, " +
      "without the line-number prefix Read adds (the number, then a tab).",
    "- The edit fails when old_string is not in the file, or is in it more than once: then give " +
      "more surrounding context to make it unique, or pass replace_all to change every occurrence " +
      "(useful for renaming a variable).",
    "- new_string must differ from old_string. An empty old_string creates the file (or fills " +
      "an empty one) with new_string.",
  ].join("\n"),
  inputSchema: {
    type: "object",
    properties: {
      file_path: {
        type: "string",
        description: `The file to modify, absolute under ${WORKSPACE_ROOT} or workspace-relative`,
      },
      old_string: { type: "string", description: "The text to replace" },
      new_string: {
        type: "string",
        description: "The text to replace it with (must be different from old_string)",
      },
      replace_all: {
        type: "boolean",
        default: false,
        description: "Replace every occurrence of old_string (default false)",
      },
    },
    required: ["file_path", "old_string", "new_string"],
    additionalProperties: false,
  },
  async run(input, context) {
    const filePath = requiredString(input, "file_path");
    let oldString = requiredString(input, "old_string");
    let newString = requiredString(input, "new_string");
    const replaceAll = optionalBoolean(input, "replace_all") ?? false;
    const path = toFilePath(filePath, "file_path");
    const shown = displayPath(path);
    if (oldString === newString) {
      return fail("Edit", "old_string and new_string are the same; there is nothing to change");
    }

    const sandbox = await sandboxOf(context);
    const stat = await sandbox.stat(path);
    if (stat?.type === "directory") return fail("Edit", `${shown} is a directory, not a file`);

    if (oldString === "") {
      // Creating a file, as Claude Code allows: only where there is nothing to lose.
      const existing = stat === null ? "" : utf8.decode(await sandbox.readFile(path));
      if (existing !== "") {
        return fail("Edit", `old_string is empty but ${shown} is not; give the text to replace`);
      }
      await sandbox.writeFile(path, utf8.encode(newString));
      return ok(`${stat === null ? "Created" : "Wrote"} ${shown} with new_string`);
    }

    if (stat === null) return fail("Edit", `file does not exist: ${shown}`);
    const bytes = await sandbox.readFile(path);
    if (looksBinary(bytes)) return fail("Edit", `${shown} is a binary file; Edit changes text`);
    const content = utf8.decode(bytes);

    let count = countOccurrences(content, oldString);
    if (count === 0 && content.includes("\r\n") && oldString.includes("\n")) {
      // The file has CRLF line ends; the model usually writes LF.
      const crlf = (s: string) => s.replace(/\r?\n/g, "\r\n");
      count = countOccurrences(content, crlf(oldString));
      if (count > 0) {
        oldString = crlf(oldString);
        newString = crlf(newString);
      }
    }
    if (count === 0) {
      return fail(
        "Edit",
        `old_string was not found in ${shown}; Read the file and copy the text exactly, ` +
          "whitespace included",
      );
    }
    if (count > 1 && !replaceAll) {
      return fail(
        "Edit",
        `old_string occurs ${count} times in ${shown}; add surrounding context to make it ` +
          "unique, or pass replace_all: true to replace every occurrence",
      );
    }

    const updated = utf8.encode(content.split(oldString).join(newString));
    if (updated.length > LIMITS.maxFileBytes) {
      return fail(
        "Edit",
        `the edited file would be ${updated.length} bytes; a workspace file may be at most ` +
          `${LIMITS.maxFileBytes}`,
      );
    }
    await sandbox.writeFile(path, updated);
    return ok(`Edited ${shown}: replaced ${count} occurrence${count === 1 ? "" : "s"}`);
  },
});
