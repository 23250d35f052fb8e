// The tools a turn gets from the profile besides the built-in ones: Skill (the profile's
// skills) and TodoWrite (the session's to-do list).

import { profileExtras } from "../../domain/profile-extras.js";
import type { AgentProfile } from "../../domain/types.js";
import type { EmitContext } from "../feed/event-feed.js";
import type { LoadedSession } from "../sessions/loaded-session.js";
import { createSkillTool, createTodoWriteTool, type Tool } from "../tools/index.js";
import { BlockWriter, type TurnSink } from "./blocks.js";

export function profileTools(
  profile: AgentProfile,
  session: LoadedSession,
  sink: TurnSink,
  context: EmitContext & { turnId: string },
): Tool[] {
  const tools: Tool[] = [];
  const { skills } = profileExtras(profile);
  if (profile.tools.includes("Skill") && skills.length > 0) tools.push(createSkillTool(skills));
  if (profile.tools.includes("TodoWrite")) {
    tools.push(
      createTodoWriteTool(async (items, toolUseId) => {
        // On record first (GetSession), then in the feed: the event never shows a list the
        // store does not have.
        await session.update(() => ({ todos: items }), context);
        session.emit({ type: "todos_updated", items }, context);
        const blocks = new BlockWriter(sink, context);
        blocks.complete(blocks.start({ type: "todo_list", items, toolUseId }));
        await blocks.saved();
      }),
    );
  }
  return tools;
}
