import type { Skill } from "../../domain/profile-extras.js";
import { SKILLS_DIR, skillFiles, skillMarkdown } from "../sandbox/skills.js";
import { defineTool, fail, ok, requiredString, sandboxOf, utf8, WORKSPACE_ROOT } from "./paths.js";
import type { Tool } from "./types.js";

/**
 * Claude Code's Skill tool: the model names one of the profile's skills and gets its SKILL.md
 * and where its files are (the system prompt lists skills by name and description only).
 */
export function createSkillTool(skills: readonly Skill[]): Tool {
  const names = skills.map((s) => s.name);
  return defineTool({
    name: "Skill",
    description: [
      "Loads a skill: its instructions (SKILL.md) and the paths of its files. Skills are listed " +
        "in the system prompt by name and description; when a task matches one, load it first " +
        "and follow it. Run a skill's scripts with Bash, read its other files with Read.",
      `Skills: ${names.join(", ")}.`,
    ].join("\n"),
    inputSchema: {
      type: "object",
      properties: {
        skill: { type: "string", enum: names, description: "The skill's name" },
      },
      required: ["skill"],
      additionalProperties: false,
    },
    async run(input, context) {
      const name = requiredString(input, "skill");
      const skill = skills.find((s) => s.name === name);
      if (!skill)
        return fail("Skill", `no skill ${JSON.stringify(name)}; skills: ${names.join(", ")}`);
      // The sandbox holds the skill's files (it writes them when it starts).
      const sandbox = await sandboxOf(context);
      const dir = `${SKILLS_DIR}/${skill.name}`;
      const markdown = await sandbox
        .readFile(`${dir}/SKILL.md`)
        .then((b) => utf8.decode(b))
        .catch(() => skillMarkdown(skill));
      const files = skillFiles(skill).map((f) => `- ${WORKSPACE_ROOT}/${f.path}`);
      return ok(
        [
          `Skill ${skill.name}, in ${WORKSPACE_ROOT}/${dir}/ (run its scripts from there).`,
          "",
          "Files:",
          ...files,
          "",
          "SKILL.md:",
          markdown,
        ].join("\n"),
      );
    },
  });
}
