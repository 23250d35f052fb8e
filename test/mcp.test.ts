// MCP servers of a profile, through the public API: a real stdio server started inside the local
// sandbox, a real streamable-HTTP server on loopback (the SDK's own), the model (FakeAnthropic)
// calling their tools as mcp__<server>__<tool>.

import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer as SdkMcpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { SessionEvent } from "#gen/event_pb.js";
import { McpServerState } from "#gen/event_pb.js";
import { TurnOutcome } from "#gen/session_pb.js";
import { MemorySecrets } from "../src/adapters/memory/secrets.js";
import { resultText } from "../src/app/mcp/tools.js";
import { MCP_LIMITS } from "../src/domain/limits.js";
import { OPEN_TENANT } from "../src/transport/auth.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { streamResponse, textResponse } from "./support/fake-anthropic.js";
import { toolNames, toolResults } from "./support/requests.js";

let h: AgentHarness | undefined;
let http: Server | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  http?.closeAllConnections();
  await new Promise((r) => (http ? http.close(r) : r(undefined)));
  http = undefined;
});

const SERVER_SCRIPT = readFileSync(new URL("./support/mcp-stdio-server.mjs", import.meta.url));

const stdioServer = (extra: Record<string, unknown> = {}) => ({
  name: "local",
  transport: {
    case: "stdio" as const,
    value: { command: "node", args: ["mcp-server.mjs"], env: { A: "1" }, ...extra },
  },
});

const withScript = { defaultFiles: [{ path: "mcp-server.mjs", content: SERVER_SCRIPT }] };

function statuses(events: SessionEvent[]) {
  return events.flatMap((e) => (e.payload.case === "mcpServerStatus" ? [e.payload.value] : []));
}

function outcome(events: SessionEvent[]) {
  const end = events.findLast((e) => e.payload.case === "turnCompleted");
  return (end!.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome;
}

async function runTurn(sessionId: string, text = "go", n = 1) {
  await h!.client.sessions.sendMessage({ sessionId, text });
  return readEvents(h!.client, sessionId, turnsCompleted(n), 0n, 30_000);
}

describe("MCP servers", () => {
  it("starts a stdio server in the sandbox and the model calls its tool", async () => {
    const secrets = new MemorySecrets();
    const now = new Date();
    await secrets.setSecret({
      tenantId: OPEN_TENANT,
      name: "tok",
      value: "s3cret-value",
      createTime: now,
      updateTime: now,
    });
    h = await agentHarness({
      secrets,
      profile: { ...withScript, mcpServers: [stdioServer({ secretEnv: { MCP_TOKEN: "tok" } })] },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        { type: "tool_use", id: "t1", name: "mcp__local__echo", input: { text: "hi" } },
        { type: "tool_use", id: "t2", name: "mcp__local__picture", input: {} },
        { type: "tool_use", id: "t3", name: "mcp__local__fail", input: {} },
      ]),
      textResponse("done"),
      textResponse("second turn"),
    );
    const events = await runTurn(sessionId);
    expect(outcome(events)).toBe(TurnOutcome.COMPLETED);
    const [status] = statuses(events);
    expect(status?.state).toBe(McpServerState.CONNECTED);
    expect(status?.tools).toEqual([
      "mcp__local__echo",
      "mcp__local__crash",
      "mcp__local__picture",
      "mcp__local__fail",
      "mcp__local__hang",
    ]);
    // The model was offered the server's tools with their schemas.
    const echo = h.fake.requests[0]!.body.tools!.find((t) => t.name === "mcp__local__echo");
    expect(echo?.input_schema).toMatchObject({ properties: { text: { type: "string" } } });
    const results = toolResults(h.fake.requests[1]!);
    expect(results[0]).toMatchObject({ content: "echo: hi (token: s3cret-value)" });
    expect(results[0]!.is_error).toBeFalsy();
    expect(results[1]!.content).toBe("[image: image/png, 8 bytes, not shown]\na dot");
    expect(results[2]).toMatchObject({ content: "it went wrong", is_error: true });
    // The tool result blocks hold the server's answer.
    const blocks = events.flatMap((e) =>
      e.payload.case === "blockCompleted" && e.payload.value.block?.content.case === "toolResult"
        ? [e.payload.value.block.content.value]
        : [],
    );
    expect(blocks[0]!.output).toBe("echo: hi (token: s3cret-value)");
    // The secret reached the server's environment, not its status event.
    expect(JSON.stringify(statuses(events))).not.toContain("s3cret");

    // The next turn reuses the connection: no new status event.
    const more = await runTurn(sessionId, "again", 2);
    expect(statuses(more)).toHaveLength(1);
    expect(toolNames(h.fake.requests[2]!)).toContain("mcp__local__echo");
  }, 60_000);

  it("connects a streamable HTTP server on loopback with a header from a secret", async () => {
    const seen: IncomingHttpHeaders[] = [];
    let initializes = 0;
    http = createServer(async (req, res) => {
      seen.push(req.headers);
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
      if (body?.method === "initialize") initializes++;
      const server = new SdkMcpServer({ name: "remote", version: "1.0.0" });
      server.registerTool(
        "greet",
        { description: "Greets.", inputSchema: { name: z.string() } },
        async ({ name }) => ({
          content: [{ type: "text", text: `hello ${name}, auth=${req.headers.authorization}` }],
        }),
      );
      const transport = new StreamableHTTPServerTransport({}); // stateless;
      res.on("close", () => void transport.close());
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    });
    await new Promise<void>((r) => http!.listen(0, "127.0.0.1", r));
    const port = (http.address() as AddressInfo).port;
    const secrets = new MemorySecrets();
    const now = new Date();
    await secrets.setSecret({
      tenantId: OPEN_TENANT,
      name: "api_token",
      value: "Bearer xyz-123",
      createTime: now,
      updateTime: now,
    });
    h = await agentHarness({
      secrets,
      idleTimeoutMs: 300,
      profile: {
        mcpServers: [
          {
            name: "remote",
            transport: {
              case: "http",
              value: {
                url: `http://127.0.0.1:${port}/mcp`,
                headers: { "x-plain": "plain" },
                secretHeaders: { authorization: "api_token" },
              },
            },
          },
        ],
      },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        { type: "tool_use", id: "t1", name: "mcp__remote__greet", input: { name: "Ada" } },
      ]),
      textResponse("done"),
      textResponse("after the unload"),
    );
    const events = await runTurn(sessionId);
    expect(outcome(events)).toBe(TurnOutcome.COMPLETED);
    expect(initializes).toBe(1);
    expect(statuses(events)[0]).toMatchObject({
      state: McpServerState.CONNECTED,
      tools: ["mcp__remote__greet"],
    });
    expect(toolResults(h.fake.requests[1]!)[0]).toMatchObject({
      content: "hello Ada, auth=Bearer xyz-123",
    });
    expect(seen.length).toBeGreaterThan(0);
    expect(
      seen.every((hd) => hd.authorization === "Bearer xyz-123" && hd["x-plain"] === "plain"),
    ).toBe(true);
    // The session is unloaded when idle: its connection is closed, the next turn connects again.
    await new Promise((r) => setTimeout(r, 1_200));
    const more = await runTurn(sessionId, "again", 2);
    expect(statuses(more).map((s) => s.state)).toEqual([
      McpServerState.CONNECTED,
      McpServerState.CONNECTED,
    ]);
    expect(initializes).toBe(2);
  }, 60_000);

  it("a stdio server killed mid-call gives the model an error; the turn goes on", async () => {
    h = await agentHarness({ profile: { ...withScript, mcpServers: [stdioServer()] } });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([{ type: "tool_use", id: "t1", name: "mcp__local__crash", input: {} }]),
      streamResponse([
        { type: "tool_use", id: "t2", name: "mcp__local__echo", input: { text: "x" } },
      ]),
      textResponse("recovered"),
      streamResponse([
        { type: "tool_use", id: "t3", name: "mcp__local__echo", input: { text: "back" } },
      ]),
      textResponse("done"),
    );
    const events = await runTurn(sessionId);
    expect(outcome(events)).toBe(TurnOutcome.COMPLETED);
    const [crashed] = toolResults(h.fake.requests[1]!);
    expect(crashed!.is_error).toBe(true);
    expect(crashed!.content).toMatch(/^MCP tool mcp__local__crash failed: .*closed/i);
    expect(crashed!.content).toContain("about to crash");
    // The server is gone for the rest of the turn ...
    const [after] = toolResults(h.fake.requests[2]!);
    expect(after).toMatchObject({ is_error: true });
    expect(after!.content).toMatch(/MCP server local is not running/);
    // ... and is started again at the next turn.
    const next = await runTurn(sessionId, "again", 2);
    expect(statuses(next).map((s) => s.state)).toEqual([
      McpServerState.CONNECTED,
      McpServerState.CONNECTED,
    ]);
    expect(toolResults(h.fake.requests[4]!)[0]).toMatchObject({
      content: "echo: back (token: none)",
    });
  }, 60_000);

  it("a server that cannot start is reported FAILED and the turn goes on without it", async () => {
    const secrets = new MemorySecrets();
    const now = new Date();
    await secrets.setSecret({
      tenantId: OPEN_TENANT,
      name: "leaky",
      value: "do-not-show-me",
      createTime: now,
      updateTime: now,
    });
    h = await agentHarness({
      secrets,
      profile: {
        ...withScript,
        mcpServers: [
          stdioServer(),
          {
            name: "broken",
            transport: {
              case: "stdio",
              value: { command: "echo 'cannot find my config' >&2; exit 3", args: [] },
            },
          },
          {
            name: "leaks",
            transport: {
              case: "stdio",
              value: { command: 'echo "token is $T" >&2; exit 1', secretEnv: { T: "leaky" } },
            },
          },
          {
            name: "nosecret",
            transport: {
              case: "http",
              value: { url: "http://127.0.0.1:1/mcp", secretHeaders: { authorization: "absent" } },
            },
          },
          {
            name: "refused",
            transport: { case: "http", value: { url: "http://127.0.0.1:1/mcp" } },
          },
        ],
      },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("fine"));
    const events = await runTurn(sessionId);
    expect(outcome(events)).toBe(TurnOutcome.COMPLETED);
    const byName = Object.fromEntries(statuses(events).map((s) => [s.name, s]));
    expect(byName.local?.state).toBe(McpServerState.CONNECTED);
    expect(byName.broken?.state).toBe(McpServerState.FAILED);
    expect(byName.broken?.message).toContain("cannot find my config");
    expect(byName.broken?.message).toContain("status 3");
    // A secret the server prints is cut out of what the feed says.
    expect(byName.leaks?.message).toContain("token is [secret]");
    expect(byName.leaks?.message).not.toContain("do-not-show-me");
    expect(byName.nosecret).toMatchObject({
      state: McpServerState.FAILED,
      message: "secret absent is not set for this tenant",
    });
    expect(byName.refused?.state).toBe(McpServerState.FAILED);
    expect(byName.refused?.message).not.toBe("");
    const offered = toolNames(h.fake.requests[0]!);
    expect(offered.filter((n) => n.startsWith("mcp__"))).toEqual([
      "mcp__local__echo",
      "mcp__local__crash",
      "mcp__local__picture",
      "mcp__local__fail",
      "mcp__local__hang",
    ]);
  }, 60_000);

  it("cancelling the turn cancels a running MCP call; the server stays connected", async () => {
    h = await agentHarness({ profile: { ...withScript, mcpServers: [stdioServer()] } });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([{ type: "tool_use", id: "t1", name: "mcp__local__hang", input: {} }]),
      streamResponse([
        { type: "tool_use", id: "t2", name: "mcp__local__echo", input: { text: "still" } },
      ]),
      textResponse("done"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "hang" });
    await readEvents(h.client, sessionId, (ev) =>
      ev.some(
        (e) =>
          e.payload.case === "blockStarted" && e.payload.value.block?.content.case === "toolResult",
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await h.client.sessions.cancelTurn({ sessionId });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(outcome(events)).toBe(TurnOutcome.CANCELLED);
    const next = await runTurn(sessionId, "again", 2);
    expect(outcome(next)).toBe(TurnOutcome.COMPLETED);
    expect(statuses(next)).toHaveLength(1);
    expect(toolResults(h.fake.requests.at(-1)!)[0]).toMatchObject({
      content: "echo: still (token: none)",
    });
  }, 60_000);

  it("offers only allowed_tools", async () => {
    h = await agentHarness({
      profile: {
        ...withScript,
        mcpServers: [{ ...stdioServer(), allowedTools: ["echo", "fail"] }],
      },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("ok"));
    const events = await runTurn(sessionId);
    expect(statuses(events)[0]?.tools).toEqual(["mcp__local__echo", "mcp__local__fail"]);
    const offered = toolNames(h.fake.requests[0]!);
    expect(offered.filter((n) => n.startsWith("mcp__"))).toEqual([
      "mcp__local__echo",
      "mcp__local__fail",
    ]);
    expect(offered).toContain("Bash");
  }, 60_000);
});

describe("MCP results as tool results", () => {
  it("caps large text in the middle and describes binary content", () => {
    const big = `${"a".repeat(20_000)}${"b".repeat(20_000)}`;
    const r = resultText({ content: [{ type: "text", text: big }] });
    expect(r.isError).toBe(false);
    expect(r.output.length).toBeLessThan(MCP_LIMITS.maxResultChars + 500);
    expect(r.output.startsWith("aaa")).toBe(true);
    expect(r.output).toContain("Output was 40000 characters");
    const other = resultText({
      content: [
        { type: "resource", resource: { uri: "file:///x", text: "inside" } },
        { type: "resource_link", uri: "https://e.x/y", name: "y" },
        { type: "audio", data: "AAAA", mimeType: "audio/wav" },
      ],
      isError: true,
    });
    expect(other).toEqual({
      output:
        "[resource file:///x]\ninside\n[resource link: https://e.x/y (y)]\n" +
        "[audio: audio/wav, 3 bytes, not shown]",
      isError: true,
    });
    expect(resultText({ content: [], structuredContent: { n: 1 } }).output).toBe('{"n":1}');
  });
});
