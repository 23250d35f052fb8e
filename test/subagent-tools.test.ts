// A subagent's tools, as in Claude Code, through the public API: with no tools list it gets the
// turn's tools (built-in, Skill, TodoWrite, the profile's MCP tools, WebSearch) but not Task;
// with a list, exactly those (an MCP tool may be named). It compacts with the profile's context
// settings. FakeAnthropic plays both the parent and the subagent.

import { readFileSync } from "node:fs";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { TurnOutcome } from "#gen/session_pb.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { type RecordedRequest, streamResponse, textResponse } from "./support/fake-anthropic.js";
import { toolResults } from "./support/requests.js";

let h: AgentHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const enc = new TextEncoder();
const SERVER_SCRIPT = readFileSync(new URL("./support/mcp-stdio-server.mjs", import.meta.url));

const names = (req: RecordedRequest) => (req.body.tools ?? []).map((t) => t.name as string);
const types = (req: RecordedRequest) => (req.body.tools ?? []).map((t) => t.type as string);

const text = (r: { content: unknown }) =>
  typeof r.content === "string"
    ? r.content
    : (r.content as Array<{ text?: string }>).map((c) => c.text ?? "").join("");

const profile = {
  model: "claude-sonnet-5-5",
  tools: ["Read", "Bash", "Task", "Skill", "TodoWrite", "WebSearch"],
  defaultFiles: [{ path: "mcp-server.mjs", content: SERVER_SCRIPT }],
  mcpServers: [
    {
      name: "local",
      transport: { case: "stdio" as const, value: { command: "node", args: ["mcp-server.mjs"] } },
    },
  ],
  skills: [
    {
      name: "house-style",
      description: "How we write",
      body: "# House style\n\nWrite short. HOUSE-STYLE-MARK",
      files: [{ path: "notes.md", content: enc.encode("notes") }],
    },
  ],
  context: { compactionThresholdTokens: 10_000 },
  subagents: [
    { name: "helper", description: "Does anything", prompt: "You help." },
    {
      name: "narrow",
      description: "Reads and echoes",
      prompt: "You echo.",
      tools: ["Read", "mcp__local__echo"],
    },
  ],
};

const task = (id: string, type: string) =>
  streamResponse([
    {
      type: "tool_use",
      id,
      name: "Task",
      input: { description: "do it", prompt: `task for ${type}`, subagent_type: type },
    },
  ]);

describe("subagent tools", () => {
  it("inherit the turn's tools and context settings, or exactly the listed ones", async () => {
    h = await agentHarness({ profile });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      task("toolu_p1", "helper"),
      // The helper calls the MCP tool and the Skill tool.
      streamResponse([
        { type: "tool_use", id: "toolu_s1", name: "mcp__local__echo", input: { text: "sub" } },
        { type: "tool_use", id: "toolu_s2", name: "Skill", input: { skill: "house-style" } },
      ]),
      textResponse("helper done"),
      task("toolu_p2", "narrow"),
      streamResponse([
        { type: "tool_use", id: "toolu_n1", name: "mcp__local__echo", input: { text: "narrow" } },
      ]),
      textResponse("narrow done"),
      textResponse("all done"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1), 0n, 60_000);
    const end = events.findLast((e) => e.payload.case === "turnCompleted")!;
    expect((end.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome).toBe(
      TurnOutcome.COMPLETED,
    );
    const [parent, helper1, helper2, , narrow1, narrow2, last] = h.fake.requests;
    expect(h.fake.requests).toHaveLength(7);
    expect(JSON.stringify(helper1!.body.system)).toContain("You help.");

    // No list: everything the turn has but Task, the web search included.
    expect(names(parent!)).toContain("Task");
    expect(names(helper1!).sort()).toEqual(
      names(parent!)
        .filter((n) => n !== "Task")
        .sort(),
    );
    expect(names(helper1!)).toEqual(
      expect.arrayContaining(["Read", "Bash", "Skill", "TodoWrite", "mcp__local__echo"]),
    );
    expect(types(helper1!)).toContain("web_search_20260318");
    // The profile's context settings hold in the subagent's loop too.
    expect(helper1!.body.context_management).toEqual({
      edits: [{ type: "compact_20260112", trigger: { type: "input_tokens", value: 10_000 } }],
    });
    const [echo, skill] = toolResults(helper2!);
    expect(text(echo!)).toBe("echo: sub (token: none)");
    expect(echo!.is_error).toBeFalsy();
    expect(text(skill!)).toContain("HOUSE-STYLE-MARK");
    expect(skill!.is_error).toBeFalsy();

    // A list: exactly those, an MCP tool among them; no web search.
    expect(names(narrow1!)).toEqual(["Read", "mcp__local__echo"]);
    expect(types(narrow1!).filter(Boolean)).toEqual([]);
    expect(text(toolResults(narrow2!)[0]!)).toBe("echo: narrow (token: none)");
    expect(text(toolResults(last!)[0]!)).toBe("narrow done");
  }, 90_000);

  it("refuses a subagent's MCP tool the profile does not have, or a turn tool it lacks", async () => {
    h = await agentHarness({ profile: { tools: ["Read"] } });
    const create = (tools: string[]) =>
      h!.client.profiles.createAgentProfile({
        profile: {
          name: "p",
          model: "claude-sonnet-5-5",
          tools: ["Read", "Task"],
          mcpServers: profile.mcpServers.map((m) => ({ ...m, allowedTools: ["echo"] })),
          subagents: [{ name: "s", description: "d", prompt: "p", tools }],
        },
      });
    for (const [tools, message] of [
      [["mcp__other__echo"], "names no MCP server of the profile"],
      [["mcp__local__"], "names no MCP server of the profile"],
      [["mcp__local__crash"], "not in the allowed_tools of MCP server local"],
      [["WebSearch"], "WebSearch is not among the profile's tools"],
    ] as const) {
      const err = await create([...tools]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.InvalidArgument);
      expect((err as ConnectError).rawMessage).toContain("profile.subagents[0].tools[0]");
      expect((err as ConnectError).rawMessage).toContain(message);
    }
    await expect(create(["Read", "mcp__local__echo"])).resolves.toBeDefined();
  });
});
