// A profile's skills in the sandbox: `.claude/skills/<name>/SKILL.md` (front matter `name` and
// `description`, then the body) and the skill's supporting files. They are the profile's, not
// the session's: written at every sandbox start (and again when missing), never synced back as
// user files, and the file API does not write there.

import type { Skill } from "../../domain/profile-extras.js";
import type { Sandbox } from "../../ports/sandbox.js";

/** Where skills live in the workspace; the folder is the profile's. */
export const SKILLS_DIR = ".claude/skills";

/** Whether a workspace path is under the skills folder (not a user file). */
export const isSkillPath = (path: string): boolean =>
  path === SKILLS_DIR || path.startsWith(`${SKILLS_DIR}/`);

/** A YAML scalar: plain when that reads back the same, else double-quoted (JSON is YAML). */
function yamlScalar(value: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9 _.,()/-]*$/.test(value) && !value.endsWith(" ")
    ? value
    : JSON.stringify(value);
}

/** The SKILL.md of a skill, as Claude Code reads it. */
export function skillMarkdown(skill: Skill): string {
  const body = skill.body.endsWith("\n") ? skill.body : `${skill.body}\n`;
  return `---\nname: ${yamlScalar(skill.name)}\ndescription: ${yamlScalar(skill.description)}\n---\n\n${body}`;
}

/** Every file of a skill, workspace-relative, SKILL.md first. */
export function skillFiles(skill: Skill): Array<{ path: string; content: Uint8Array }> {
  const dir = `${SKILLS_DIR}/${skill.name}`;
  return [
    { path: `${dir}/SKILL.md`, content: new TextEncoder().encode(skillMarkdown(skill)) },
    ...skill.files
      .filter((f) => f.path !== "SKILL.md")
      .map((f) => ({ path: `${dir}/${f.path}`, content: f.content })),
  ];
}

/**
 * Writes the skills' files into the sandbox; with `onlyMissing`, only the files that are not
 * there. Returns how many it wrote. (Scripts are run through their interpreter: `python3 x.py`.)
 */
export async function writeSkills(
  sandbox: Sandbox,
  skills: readonly Skill[],
  onlyMissing = false,
): Promise<number> {
  if (skills.length === 0) return 0;
  // One listing (one call on a remote sandbox) tells which files are there.
  const present = onlyMissing
    ? new Set(
        (await sandbox.listFiles(SKILLS_DIR).catch(() => []))
          .filter((f) => f.type === "file")
          .map((f) => f.path),
      )
    : new Set<string>();
  let written = 0;
  for (const skill of skills) {
    for (const file of skillFiles(skill)) {
      if (present.has(file.path)) continue;
      await sandbox.writeFile(file.path, file.content);
      written++;
    }
  }
  return written;
}
