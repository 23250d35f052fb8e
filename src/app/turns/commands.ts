// Slash commands: a message `/name arguments` runs the profile's command `name`, whose prompt
// gets the arguments in place of `$ARGUMENTS` (Claude Code's custom commands).

import { invalidField } from "../../domain/errors.js";
import type { Command } from "../../domain/profile-extras.js";

/** A message that ran a command: what the model gets instead of what the user typed. */
export interface CommandRun {
  name: string;
  arguments: string;
  expandedText: string;
}

/**
 * The command a message names: `/` followed by nothing or by a name, then whitespace and the
 * arguments. A text whose first word holds another `/` (a path: `/workspace/a.txt is empty`)
 * is not a command. Returns undefined for plain text.
 */
export function parseCommand(text: string): { name: string; arguments: string } | undefined {
  const m = /^\/(\S*)(?:\s+([\s\S]*))?$/.exec(text.trimEnd());
  if (!m) return undefined;
  const name = m[1] ?? "";
  if (name.includes("/")) return undefined;
  return { name, arguments: (m[2] ?? "").trim() };
}

/** `prompt` with `$ARGUMENTS` replaced; without it, the arguments follow after a blank line. */
export function expandPrompt(prompt: string, args: string): string {
  if (prompt.includes("$ARGUMENTS")) return prompt.split("$ARGUMENTS").join(args);
  return args === "" ? prompt : `${prompt}\n\n${args}`;
}

function known(commands: readonly Command[]): string {
  if (commands.length === 0) return "this agent has no commands";
  return `known commands: ${commands.map((c) => `/${c.name} — ${c.description}`).join("; ")}`;
}

/**
 * What a message runs: undefined for plain text, the expansion for a known command. A `/` alone
 * or an unknown name is an INVALID_ARGUMENT on `text` that lists the known commands.
 */
export function resolveCommand(text: string, commands: readonly Command[]): CommandRun | undefined {
  const parsed = parseCommand(text);
  if (!parsed) return undefined;
  if (parsed.name === "") throw invalidField("text", `"/" names no command; ${known(commands)}`);
  const command = commands.find((c) => c.name === parsed.name);
  if (!command) throw invalidField("text", `unknown command /${parsed.name}; ${known(commands)}`);
  return {
    name: command.name,
    arguments: parsed.arguments,
    expandedText: expandPrompt(command.prompt, parsed.arguments),
  };
}
