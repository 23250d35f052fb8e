// A session's connections to its profile's MCP servers, and their lifecycle:
// - connected lazily at the start of a turn of a session whose profile has MCP servers (stdio
//   servers started inside the session's sandbox, remote ones connected by the server);
// - kept while the session stays loaded and its sandbox lives, reused turn after turn;
// - closed when the session's sandbox stops (unload, delete, shutdown);
// - one that failed, died, or whose settings changed is connected again at the next turn.
// Every new connection is told in the feed (mcp_server_status, CONNECTED with its tools, or
// FAILED with the reason); the turn goes on without the tools of a failed one. Secret values
// never reach a log or an event: they are cut out of failure messages.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { MCP_LIMITS } from "../../domain/limits.js";
import type { McpServer } from "../../domain/profile-extras.js";
import type { EventPayload } from "../../domain/types.js";
import type { Logger } from "../../ports/logger.js";
import type { Sandbox } from "../../ports/sandbox.js";
import type { SecretStore } from "../../ports/secrets.js";
import type { EmitContext } from "../feed/event-feed.js";
import type { Tool } from "../tools/types.js";
import { SandboxStdioTransport } from "./stdio-transport.js";
import { isValidToolName, mcpTool, mcpToolName } from "./tools.js";

/** What the connections need of a loaded session. */
export interface McpSession {
  id: string;
  tenantId: string;
  emit(payload: EventPayload, context: EmitContext): void;
  /** The session's sandbox, started if need be (stdio servers only). */
  sandbox(): Promise<Sandbox>;
  /** Runs `fn` once when the session's sandbox stops. */
  onStop(fn: () => Promise<void>): void;
}

interface Connection {
  /** The server's settings it was made with. */
  key: string;
  client: Client;
  transport: Transport;
  alive: boolean;
  tools: Tool[];
  sandboxId?: string;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class McpConnections {
  private readonly sessions = new Map<string, Map<string, Connection>>();

  constructor(
    private readonly secrets: SecretStore,
    private readonly logger: Logger,
  ) {}

  /** The tools of `servers` for a turn; connects those not connected, in parallel. */
  async tools(
    session: McpSession,
    servers: McpServer[],
    context: EmitContext,
    signal: AbortSignal,
  ): Promise<Tool[]> {
    if (servers.length === 0) return [];
    let conns = this.sessions.get(session.id);
    if (!conns) {
      conns = new Map();
      this.sessions.set(session.id, conns);
      session.onStop(() => this.close(session.id));
    }
    const map = conns;
    // Settings of servers the profile no longer has: their connections go.
    const names = new Set(servers.map((s) => s.name));
    for (const [name, c] of map) {
      if (!names.has(name)) {
        map.delete(name);
        void c.client.close().catch(() => {});
      }
    }
    const lists = await Promise.all(
      servers.map((server) => this.ensure(session, map, server, context, signal)),
    );
    return lists.flat();
  }

  private async ensure(
    session: McpSession,
    map: Map<string, Connection>,
    server: McpServer,
    context: EmitContext,
    signal: AbortSignal,
  ): Promise<Tool[]> {
    const key = JSON.stringify(server);
    let sandbox: Sandbox | undefined;
    try {
      if (server.transport.type === "stdio") sandbox = await session.sandbox();
    } catch (err) {
      this.failed(session, server, `the sandbox could not start: ${errorText(err)}`, context);
      return [];
    }
    const existing = map.get(server.name);
    if (
      existing?.alive &&
      existing.key === key &&
      (existing.sandboxId === undefined || existing.sandboxId === sandbox?.id)
    ) {
      return existing.tools;
    }
    if (existing) {
      map.delete(server.name);
      void existing.client.close().catch(() => {});
    }
    if (signal.aborted) return [];
    const made = await this.connect(session, server, sandbox, key, signal);
    if ("failure" in made) {
      if (!signal.aborted) this.failed(session, server, made.failure, context);
      return [];
    }
    const conn = made.connection;
    if (this.sessions.get(session.id) !== map) {
      // The sandbox stopped while it connected.
      void conn.client.close().catch(() => {});
      return [];
    }
    map.set(server.name, conn);
    session.emit(
      {
        type: "mcp_server_status",
        name: server.name,
        state: "connected",
        message: made.note,
        tools: conn.tools.map((t) => t.name),
      },
      context,
    );
    return conn.tools;
  }

  private failed(session: McpSession, server: McpServer, message: string, ctx: EmitContext) {
    this.logger.warn("MCP server failed", { sessionId: session.id, server: server.name, message });
    session.emit(
      { type: "mcp_server_status", name: server.name, state: "failed", message, tools: [] },
      ctx,
    );
  }

  private async connect(
    session: McpSession,
    server: McpServer,
    sandbox: Sandbox | undefined,
    key: string,
    signal: AbortSignal,
  ): Promise<{ connection: Connection; note: string } | { failure: string }> {
    const t = server.transport;
    const secretNames = Object.values(t.type === "http" ? t.secretHeaders : t.secretEnv);
    let values: Record<string, string>;
    try {
      values = await this.secrets.resolve(session.tenantId, secretNames);
    } catch (err) {
      return { failure: `its secrets could not be read: ${errorText(err)}` };
    }
    const missing = secretNames.filter((n) => !(n in values));
    if (missing.length > 0) {
      return { failure: `secret ${[...new Set(missing)].join(", ")} is not set for this tenant` };
    }
    const redact = (text: string) =>
      Object.values(values).reduce(
        (s, v) => (v.length >= 4 ? s.replaceAll(v, "[secret]") : s),
        text,
      );
    const fromSecrets = (m: Record<string, string>) =>
      Object.fromEntries(Object.entries(m).map(([k, name]) => [k, values[name]!]));
    let transport: Transport;
    if (t.type === "stdio") {
      transport = new SandboxStdioTransport(sandbox!, t.command, t.args, {
        ...t.env,
        ...fromSecrets(t.secretEnv),
      });
    } else {
      transport = new StreamableHTTPClientTransport(new URL(t.url), {
        requestInit: { headers: { ...t.headers, ...fromSecrets(t.secretHeaders) } },
      });
    }
    const client = new Client({ name: "agent-runtime", version: "0.1.0" });
    const conn: Connection = {
      key,
      client,
      transport,
      alive: true,
      tools: [],
      ...(sandbox ? { sandboxId: sandbox.id } : {}),
    };
    client.onclose = () => {
      conn.alive = false;
    };
    client.onerror = () => {}; // stray lines and the like: failures surface on the calls
    const options = { signal, timeout: MCP_LIMITS.connectTimeoutMs };
    try {
      await client.connect(transport, options);
      const listed = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : {}, options);
        listed.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor && listed.length < MCP_LIMITS.maxToolsPerServer);
      const allowed = new Set(server.allowedTools);
      const skipped: string[] = [];
      const offered = listed
        .filter((tool) => allowed.size === 0 || allowed.has(tool.name))
        .filter((tool) => {
          const ok = isValidToolName(mcpToolName(server.name, tool.name));
          if (!ok) skipped.push(tool.name);
          return ok;
        })
        .slice(0, MCP_LIMITS.maxToolsPerServer);
      const stderr = () =>
        transport instanceof SandboxStdioTransport && transport.stderrTail
          ? redact(transport.stderrTail)
          : "";
      conn.tools = offered.map((tool) =>
        mcpTool(server.name, tool, () => (conn.alive ? client : undefined), stderr),
      );
      const note =
        skipped.length > 0
          ? `tools left out (names the model cannot use): ${skipped.join(", ")}`
          : "";
      return { connection: conn, note };
    } catch (err) {
      await client.close().catch(() => {});
      await transport.close().catch(() => {});
      let failure = errorText(err);
      if (transport instanceof SandboxStdioTransport) {
        if (transport.exitCode !== undefined) {
          failure = `the server exited (status ${transport.exitCode ?? "killed"}): ${failure}`;
        }
        if (transport.stderrTail) failure += `\nstderr: ${transport.stderrTail}`;
      }
      return { failure: redact(failure) };
    }
  }

  /** Closes the session's connections (its sandbox stopped). */
  async close(sessionId: string): Promise<void> {
    const conns = this.sessions.get(sessionId);
    this.sessions.delete(sessionId);
    await Promise.all([...(conns?.values() ?? [])].map((c) => c.client.close().catch(() => {})));
  }
}
