// The system prompt of a turn: the profile's, then its skills by name and description, then the
// project instructions file as the workspace holds it now (Claude Code's CLAUDE.md).

import { DEFAULT_INSTRUCTIONS_FILE, LIMITS } from "../../domain/limits.js";
import { profileExtras, type Skill } from "../../domain/profile-extras.js";
import type { AgentProfile } from "../../domain/types.js";
import type { EmitContext } from "../feed/event-feed.js";
import type { SessionSandbox } from "../sandbox/session-sandbox.js";
import { SKILLS_DIR } from "../sandbox/skills.js";
import { WORKSPACE_ROOT } from "../tools/index.js";

export interface SystemPromptParts {
  base: string;
  skills: readonly Skill[];
  /** Whether the model has the Skill tool. */
  skillTool: boolean;
  instructions?: { fileName: string; content: string };
}

function skillsSection(skills: readonly Skill[], skillTool: boolean): string {
  const how = skillTool
    ? "call the Skill tool with its name (or Read its SKILL.md)"
    : "Read its SKILL.md";
  return [
    "# Skills",
    `Skills are folders of instructions, scripts and resources in ${WORKSPACE_ROOT}/${SKILLS_DIR}/. ` +
      `When a task matches a skill's description, ${how} before you start, and follow it.`,
    "<available_skills>",
    ...skills.map((s) =>
      [
        "<skill>",
        `<name>${s.name}</name>`,
        `<description>${s.description}</description>`,
        `<location>${WORKSPACE_ROOT}/${SKILLS_DIR}/${s.name}/SKILL.md</location>`,
        "</skill>",
      ].join("\n"),
    ),
    "</available_skills>",
  ].join("\n");
}

function instructionsSection(fileName: string, content: string): string {
  let text = content;
  if (text.length > LIMITS.maxInstructionsLength) {
    text = `${text.slice(0, LIMITS.maxInstructionsLength)}\n[... cut: the file is longer than ${LIMITS.maxInstructionsLength} characters]`;
  }
  return [
    "# Project instructions",
    "Codebase and user instructions are shown below. Adhere to them: they override default " +
      "behaviour, and you must follow them exactly as written. The file is part of the " +
      "workspace: when you change it, the change applies from the next message on.",
    "",
    `Contents of ${WORKSPACE_ROOT}/${fileName} (project instructions):`,
    "",
    `<project_instructions file="${fileName}">`,
    text.trimEnd(),
    "</project_instructions>",
  ].join("\n");
}

/** The profile's prompt, then the skills, then the project instructions, each delimited. */
export function composeSystemPrompt(p: SystemPromptParts): string {
  const parts = [p.base.trimEnd()];
  if (p.skills.length > 0) parts.push(skillsSection(p.skills, p.skillTool));
  if (p.instructions && p.instructions.content.trim() !== "") {
    parts.push(instructionsSection(p.instructions.fileName, p.instructions.content));
  }
  return parts.filter((s) => s !== "").join("\n\n");
}

/**
 * The system prompt for a turn. On the conversation's first turn the profile's instructions are
 * written to the workspace when it has no such file (a user file from then on); on every turn
 * the file is read from the workspace, so an edit shows on the next turn.
 */
export async function systemPromptFor(
  sandbox: SessionSandbox,
  profile: AgentProfile,
  o: { firstTurn: boolean; context: EmitContext },
): Promise<string> {
  const extras = profileExtras(profile);
  const fileName = extras.instructions.fileName || DEFAULT_INSTRUCTIONS_FILE;
  if (o.firstTurn && extras.instructions.content !== "") {
    await sandbox.createUserFile(
      fileName,
      new TextEncoder().encode(extras.instructions.content),
      o.context,
    );
  }
  const bytes = await sandbox.readUserFile(fileName);
  return composeSystemPrompt({
    base: profile.systemPrompt,
    skills: extras.skills,
    skillTool: profile.tools.includes("Skill"),
    ...(bytes ? { instructions: { fileName, content: new TextDecoder().decode(bytes) } } : {}),
  });
}
