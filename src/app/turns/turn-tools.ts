// The tools of one turn, in the order the model is offered them: the built-in tools the profile
// names, Skill and TodoWrite, the MCP servers' tools, Task (whose subagents get the turn's tools
// so far), then the profile's custom tools (never a subagent's: a call of one always waits).

import { type AgentProfile, profileExtras, type Usage } from "../../domain/types.js";
import type { ModelProvider } from "../../ports/model.js";
import type { McpConnections } from "../mcp/connections.js";
import { mcpToolsForTurn } from "../mcp/turn-tools.js";
import type { LoadedSession } from "../sessions/loaded-session.js";
import { createTools } from "../tools/index.js";
import type { Tool } from "../tools/types.js";
import type { Permit } from "./agent-loop.js";
import type { TurnSink } from "./blocks.js";
import { profileTools } from "./profile-tools.js";
import { serverToolsOf } from "./step-blocks.js";
import { createTaskTool } from "./subagents.js";
import { customTools } from "./waiting-calls.js";

export interface TurnToolsOptions {
  profile: AgentProfile;
  session: LoadedSession;
  sink: TurnSink;
  turnId: string;
  modelId: string;
  mcp: McpConnections | undefined;
  signal: AbortSignal;
  /** The model provider of a (sub)agent's profile. */
  model: (profile: AgentProfile) => ModelProvider;
  onUsage: (u: Usage, model: string, subagentId?: string) => void;
  permit: Permit;
  stopCheck: () => Promise<string | undefined>;
}

export async function turnTools(o: TurnToolsOptions): Promise<Tool[]> {
  const { profile, session, sink } = o;
  const ctx = { turnId: o.turnId };
  const tools = createTools(profile.tools);
  tools.push(...profileTools(profile, session, sink, ctx));
  tools.push(...(await mcpToolsForTurn(o.mcp, session, profile, ctx, o.signal)));
  if (profile.tools.includes("Task") && profile.subagents.length > 0) {
    tools.push(
      createTaskTool({
        sink,
        profile,
        parentTools: [...tools],
        serverTools: serverToolsOf(profile.tools),
        contextSettings: profileExtras(profile).context,
        turnId: o.turnId,
        parentModel: o.modelId,
        model: o.model,
        onUsage: o.onUsage,
        permit: o.permit,
        stopCheck: o.stopCheck,
      }),
    );
  }
  tools.push(...customTools(profile));
  return tools;
}
