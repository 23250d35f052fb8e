import { LIMITS } from "../../domain/limits.js";
import {
  defineTool,
  displayPath,
  fail,
  ok,
  requiredString,
  sandboxOf,
  toFilePath,
  utf8,
  WORKSPACE_ROOT,
} from "./paths.js";

export const writeTool = defineTool({
  name: "Write",
  description: [
    `Writes a file to the workspace (root ${WORKSPACE_ROOT}), replacing it if it exists and ` +
      "creating missing parent directories. file_path may be absolute under " +
      `${WORKSPACE_ROOT} or relative to it.`,
    "- When changing an existing file, prefer Edit, which sends only the change; Read a file " +
      "before overwriting it.",
    "- Prefer editing existing files to creating new ones. Do not create documentation files " +
      "(*.md, README) unless asked.",
  ].join("\n"),
  inputSchema: {
    type: "object",
    properties: {
      file_path: {
        type: "string",
        description: `The file to write, absolute under ${WORKSPACE_ROOT} or workspace-relative`,
      },
      content: { type: "string", description: "The content to write to the file" },
    },
    required: ["file_path", "content"],
    additionalProperties: false,
  },
  async run(input, context) {
    const filePath = requiredString(input, "file_path");
    const content = requiredString(input, "content");
    const path = toFilePath(filePath, "file_path");
    const shown = displayPath(path);
    const bytes = utf8.encode(content);
    if (bytes.length > LIMITS.maxFileBytes) {
      return fail(
        "Write",
        `content is ${bytes.length} bytes; a workspace file may be at most ${LIMITS.maxFileBytes}`,
      );
    }

    const sandbox = await sandboxOf(context);
    const before = await sandbox.stat(path);
    if (before?.type === "directory") return fail("Write", `${shown} is a directory, not a file`);
    await sandbox.writeFile(path, bytes);
    const lines =
      content === "" ? 0 : content.split("\n").length - (content.endsWith("\n") ? 1 : 0);
    return ok(
      `${before === null ? "Created" : "Overwrote"} ${shown} ` +
        `(${lines} line${lines === 1 ? "" : "s"}, ${bytes.length} byte${bytes.length === 1 ? "" : "s"})`,
    );
  },
});
