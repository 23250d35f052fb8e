// The demo model's use of skills: when the message names a skill the Skill tool offers, it loads
// the skill, then pipes the message's text (after its first blank line, if any) into the first
// command of the skill's ```sh block, then sums up. This is how the demo profile's `/count`
// command works without an API key.

import type { ModelRequest } from "../../ports/model.js";

export interface SkillResult {
  name: string;
  content: string;
  isError: boolean;
}

export type SkillStep =
  | { kind: "load"; skill: string }
  | { kind: "run"; command: string; skill: string }
  | { kind: "done" };

/** The skill names the request's Skill tool offers. */
function offeredSkills(request: ModelRequest): string[] {
  const tool = request.tools.find((t) => t.name === "Skill");
  const schema = tool?.inputSchema as { properties?: { skill?: { enum?: unknown } } } | undefined;
  const names = schema?.properties?.skill?.enum;
  return Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : [];
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** What the demo model does next with a skill; undefined when the message names none. */
export function planSkill(
  request: ModelRequest,
  userText: string,
  results: SkillResult[],
): SkillStep | undefined {
  const skill = offeredSkills(request).find((name) => userText.includes(name));
  if (!skill) return undefined;
  if (results.length === 0) return { kind: "load", skill };
  if (results.length > 1 || results[0]!.isError) return { kind: "done" };
  const command = /```sh\n([^\n]+)\n/.exec(results[0]!.content)?.[1]?.trim();
  if (!command) return { kind: "done" };
  const blank = userText.indexOf("\n\n");
  const input = blank < 0 ? userText : userText.slice(blank + 2);
  return { kind: "run", skill, command: `printf '%s\\n' ${shellQuote(input)} | ${command}` };
}
