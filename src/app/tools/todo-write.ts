import { LIMITS } from "../../domain/limits.js";
import type { TodoItem, TodoStatus } from "../../domain/types.js";
import { defineTool, fail, ok } from "./paths.js";
import type { Tool } from "./types.js";

const STATUSES: readonly TodoStatus[] = ["pending", "in_progress", "completed"];

/** The to-do list in a TodoWrite input, or what is wrong with it. */
export function parseTodos(input: Record<string, unknown>): TodoItem[] | string {
  const todos = input.todos;
  if (!Array.isArray(todos)) return "todos is required and must be an array";
  if (todos.length > LIMITS.maxTodos) return `todos may hold at most ${LIMITS.maxTodos} items`;
  const items: TodoItem[] = [];
  for (const [i, raw] of todos.entries()) {
    const item = raw as Record<string, unknown> | null;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      return `todos[${i}] must be an object`;
    }
    for (const field of ["content", "activeForm"] as const) {
      const value = item[field];
      if (typeof value !== "string" || value.trim() === "") {
        return `todos[${i}].${field} is required (a non-empty string)`;
      }
      if (value.length > LIMITS.maxTodoTextLength) {
        return `todos[${i}].${field} must be at most ${LIMITS.maxTodoTextLength} characters`;
      }
    }
    if (!STATUSES.includes(item.status as TodoStatus)) {
      return `todos[${i}].status must be one of ${STATUSES.join(", ")}`;
    }
    items.push({
      content: item.content as string,
      status: item.status as TodoStatus,
      activeForm: item.activeForm as string,
    });
  }
  return items;
}

/**
 * Claude Code's TodoWrite: the agent replaces its to-do list. `save` keeps it (the session's
 * record, a todo_list block, a todos_updated event).
 */
export function createTodoWriteTool(
  save: (items: TodoItem[], toolUseId: string) => Promise<void>,
): Tool {
  return defineTool({
    name: "TodoWrite",
    description: [
      "Creates and updates your to-do list for this session: the whole list each time.",
      "Use it for tasks of three or more steps, or when the user gives several things to do, to " +
        "plan and to show progress. Mark a task in_progress before you begin it (one at a " +
        "time), and completed as soon as it is done. content says what to do (imperative), " +
        "activeForm what is being done (present continuous: 'Running the tests').",
    ].join("\n"),
    inputSchema: {
      type: "object",
      properties: {
        todos: {
          type: "array",
          description: "The updated to-do list",
          items: {
            type: "object",
            properties: {
              content: { type: "string", minLength: 1 },
              status: { type: "string", enum: [...STATUSES] },
              activeForm: { type: "string", minLength: 1 },
            },
            required: ["content", "status", "activeForm"],
            additionalProperties: false,
          },
        },
      },
      required: ["todos"],
      additionalProperties: false,
    },
    async run(input, context) {
      const items = parseTodos(input);
      if (typeof items === "string") return fail("TodoWrite", items);
      await save(items, context.toolUseId ?? "");
      const open = items.filter((t) => t.status !== "completed").length;
      return ok(
        `The to-do list is saved (${items.length} item${items.length === 1 ? "" : "s"}, ` +
          `${open} open). Keep it up to date as you work, and go on with the current task.`,
      );
    },
  });
}
