import { bashTool } from "./bash.js";
import { editTool } from "./edit.js";
import { globTool } from "./glob.js";
import { grepTool } from "./grep.js";
import { readTool } from "./read.js";
import type { Tool } from "./types.js";
import { writeTool } from "./write.js";

export { BASH_DEFAULT_TIMEOUT_MS, BASH_MAX_OUTPUT_CHARS, BASH_MAX_TIMEOUT_MS } from "./bash.js";
export { WORKSPACE_ROOT } from "./paths.js";
export { createSkillTool } from "./skill.js";
export { createTodoWriteTool } from "./todo-write.js";
export type { Tool, ToolContext, ToolResult } from "./types.js";

const BUILT_IN: readonly Tool[] = [readTool, writeTool, editTool, bashTool, globTool, grepTool];

/** The built-in tools, by the names Claude models know from Claude Code. */
export const TOOL_NAMES = ["Read", "Write", "Edit", "Bash", "Glob", "Grep"] as const;
export type BuiltInToolName = (typeof TOOL_NAMES)[number];

/**
 * The built-in tools named in `names`, in that order, each once. Names it does not know (`Task`,
 * `Skill` and `TodoWrite`, which the turn makes for its session and profile) are skipped.
 */
export function createTools(names: readonly string[]): Tool[] {
  const tools: Tool[] = [];
  for (const name of new Set(names)) {
    const tool = BUILT_IN.find((t) => t.name === name);
    if (tool) tools.push(tool);
  }
  return tools;
}
