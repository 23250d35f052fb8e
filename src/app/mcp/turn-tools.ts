// The MCP tools of one turn: the session's profile's servers, connected through its loaded
// session (its feed, its sandbox, its tenant's secrets).

import { profileExtras } from "../../domain/profile-extras.js";
import type { AgentProfile } from "../../domain/types.js";
import type { EmitContext } from "../feed/event-feed.js";
import type { LoadedSession } from "../sessions/loaded-session.js";
import type { Tool } from "../tools/types.js";
import type { McpConnections } from "./connections.js";

export function mcpToolsForTurn(
  mcp: McpConnections | undefined,
  session: LoadedSession,
  profile: AgentProfile,
  context: EmitContext,
  signal: AbortSignal,
): Promise<Tool[]> {
  const servers = profileExtras(profile).mcpServers;
  if (!mcp || servers.length === 0) return Promise.resolve([]);
  return mcp.tools(
    {
      id: session.id,
      tenantId: session.record.tenantId,
      emit: session.emit,
      sandbox: () => session.sandbox.ensure(profile, context),
      onStop: (fn) => session.sandbox.onStop(fn),
    },
    servers,
    context,
    signal,
  );
}
