import { createHash } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { type Block, TodoStatus } from "#gen/block_pb.js";
import type { SessionEvent } from "#gen/event_pb.js";
import { MemorySecrets } from "../src/adapters/memory/secrets.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { type RecordedRequest, streamResponse, textResponse } from "./support/fake-anthropic.js";
import { resultText, systemOf, toolResults } from "./support/requests.js";

let h: AgentHarness;
afterEach(() => h?.close());

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The text of the last user message of a request. */
function lastUserText(req: RecordedRequest): string {
  const last = req.body.messages?.at(-1);
  if (typeof last?.content === "string") return last.content;
  return ((last?.content ?? []) as Array<{ type: string; text?: string }>)
    .filter((c) => c.type === "text")
    .map((c) => c.text)
    .join("");
}
const completedBlocks = (events: SessionEvent[]) =>
  events
    .filter((e) => e.payload.case === "blockCompleted")
    .map((e) => (e.payload.value as { block: Block }).block);

describe("project instructions", () => {
  it("writes the profile's file once, reads it every turn, and sees the agent's edit next turn", async () => {
    h = await agentHarness({
      profile: { instructions: { content: "Answer tersely. MARK-ONE\n" } },
    });
    const sessionId = await h.newSession();
    // Turn 1 runs no tool: the file is written to the stored workspace.
    h.fake.enqueue(textResponse("ok"));
    await h.client.sessions.sendMessage({ sessionId, text: "hi" });
    const first = await readEvents(h.client, sessionId, turnsCompleted(1));
    const created = first.filter((e) => e.payload.case === "fileCreated");
    expect(created.map((e) => (e.payload.value as { file: { path: string } }).file.path)).toEqual([
      "CLAUDE.md",
    ]);
    const system1 = systemOf(h.fake.requests[0]!);
    expect(system1.startsWith("You are a test agent.")).toBe(true);
    expect(system1).toContain('<project_instructions file="CLAUDE.md">\nAnswer tersely. MARK-ONE');
    // Turn 2: the agent edits it in the sandbox.
    h.fake.enqueue(
      streamResponse([
        {
          type: "tool_use",
          id: "toolu_1",
          name: "Bash",
          input: { command: "echo 'Use metric units. MARK-TWO' >> CLAUDE.md" },
        },
      ]),
      textResponse("edited"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "add a rule" });
    await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(systemOf(h.fake.requests[1]!)).not.toContain("MARK-TWO");
    // Turn 3 sees the edit, and the profile's content is not written again.
    h.fake.enqueue(textResponse("fine"));
    await h.client.sessions.sendMessage({ sessionId, text: "again" });
    const all = await readEvents(h.client, sessionId, turnsCompleted(3));
    expect(systemOf(h.fake.requests[3]!)).toContain("MARK-ONE\nUse metric units. MARK-TWO");
    const file = await h.client.workspace.readFile({ sessionId, path: "CLAUDE.md" });
    expect(dec.decode(file.content)).toBe("Answer tersely. MARK-ONE\nUse metric units. MARK-TWO\n");
    expect(all.filter((e) => e.payload.case === "fileCreated")).toHaveLength(1);
  });

  it("keeps a file the session already has, under the profile's file name", async () => {
    h = await agentHarness({
      profile: { instructions: { fileName: "AGENTS.md", content: "from the profile" } },
    });
    const sessionId = (
      await h.client.sessions.createSession({
        agentProfileId: h.profileId,
        initialFiles: [{ path: "AGENTS.md", content: enc.encode("the session's own rules") }],
      })
    ).session!.id;
    h.fake.enqueue(textResponse("ok"));
    await h.client.sessions.sendMessage({ sessionId, text: "hi" });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    const system = systemOf(h.fake.requests[0]!);
    expect(system).toContain('<project_instructions file="AGENTS.md">\nthe session\'s own rules');
    expect(system).not.toContain("from the profile");
  });
});

describe("slash commands", () => {
  const commands = [
    { name: "review", description: "Review a file", prompt: "Review $ARGUMENTS carefully." },
    { name: "hello", description: "Say hello", prompt: "Say hello." },
  ];

  it("expands a command for the model and shows both texts", async () => {
    h = await agentHarness({ profile: { commands } });
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("reviewed"), textResponse("hello"), textResponse("plain"));
    await h.client.sessions.sendMessage({ sessionId, text: "/review src/a.ts" });
    await h.client.sessions.sendMessage({ sessionId, text: "/hello  to everyone " });
    await h.client.sessions.sendMessage({ sessionId, text: "/workspace/a.txt is empty" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(3));
    expect(lastUserText(h.fake.requests[0]!)).toBe("Review src/a.ts carefully.");
    expect(lastUserText(h.fake.requests[1]!)).toBe("Say hello.\n\nto everyone");
    expect(lastUserText(h.fake.requests[2]!)).toBe("/workspace/a.txt is empty");
    const users = completedBlocks(events).filter((b) => b.content.case === "userMessage");
    const shown = users.map((b) => {
      const u = b.content.value as {
        text: string;
        command: string;
        commandArguments: string;
        expandedText: string;
      };
      return [u.text, u.command, u.commandArguments, u.expandedText];
    });
    expect(shown).toEqual([
      ["/review src/a.ts", "review", "src/a.ts", "Review src/a.ts carefully."],
      ["/hello  to everyone ", "hello", "to everyone", "Say hello.\n\nto everyone"],
      ["/workspace/a.txt is empty", "", "", ""],
    ]);
    // Stored the same way.
    const listed = (await h.client.sessions.listMessages({ sessionId })).blocks.filter(
      (b) => b.content.case === "userMessage",
    );
    expect((listed[0]!.content.value as { expandedText: string }).expandedText).toBe(
      "Review src/a.ts carefully.",
    );
  });

  it("refuses / alone and an unknown command, listing the known ones", async () => {
    h = await agentHarness({ profile: { commands } });
    const sessionId = await h.newSession();
    for (const text of ["/", "/nope do it"]) {
      const err = ConnectError.from(
        await h.client.sessions.sendMessage({ sessionId, text }).catch((e: unknown) => e),
      );
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.message).toContain("text:");
      expect(err.message).toContain("/review — Review a file");
      expect(err.message).toContain("/hello — Say hello");
    }
    expect(h.fake.requests).toHaveLength(0);
  });
});

describe("TodoWrite", () => {
  it("keeps the list on the session, as a block and an event; bad input is the model's error", async () => {
    h = await agentHarness({ profile: { tools: ["TodoWrite"] } });
    const sessionId = await h.newSession();
    const todos = [
      { content: "Run the tests", status: "in_progress", activeForm: "Running the tests" },
      { content: "Fix the bug", status: "pending", activeForm: "Fixing the bug" },
    ];
    h.fake.enqueue(
      streamResponse([{ type: "tool_use", id: "toolu_1", name: "TodoWrite", input: { todos } }]),
      streamResponse([
        {
          type: "tool_use",
          id: "toolu_2",
          name: "TodoWrite",
          input: { todos: [{ content: "x", status: "done", activeForm: "x" }] },
        },
      ]),
      textResponse("planned"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "plan" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(toolResults(h.fake.requests[1]!)[0]!.is_error).toBeFalsy();
    const bad = toolResults(h.fake.requests[2]!)[0]!;
    expect(bad.is_error).toBe(true);
    expect(resultText(bad)).toContain("todos[0].status must be one of pending, in_progress");

    const expected = [
      { content: "Run the tests", status: TodoStatus.IN_PROGRESS, activeForm: "Running the tests" },
      { content: "Fix the bug", status: TodoStatus.PENDING, activeForm: "Fixing the bug" },
    ];
    const updated = events.filter((e) => e.payload.case === "todosUpdated");
    expect(updated).toHaveLength(1);
    expect(
      (updated[0]!.payload.value as { items: unknown[] }).items.map((i) => ({ ...(i as object) })),
    ).toMatchObject(expected);
    const list = completedBlocks(events).find((b) => b.content.case === "todoList");
    expect(list?.content.value).toMatchObject({ toolUseId: "toolu_1", items: expected });
    const session = (await h.client.sessions.getSession({ sessionId })).session!;
    expect(session.todos).toMatchObject(expected);
  });
});

describe("secret env", () => {
  it("gives the sandbox the secret's value; a missing secret fails the start naming it", async () => {
    const secrets = new MemorySecrets();
    const now = new Date();
    await secrets.setSecret({
      tenantId: "default",
      name: "api_token",
      value: "s3cr3t-value",
      createTime: now,
      updateTime: now,
    });
    h = await agentHarness({
      secrets,
      profile: { sandbox: { secretEnv: { API_TOKEN: "api_token" } } },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        {
          type: "tool_use",
          id: "toolu_1",
          name: "Bash",
          input: { command: 'printf %s "$API_TOKEN" | sha256sum' },
        },
      ]),
      textResponse("ok"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "check" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(resultText(toolResults(h.fake.requests[1]!)[0]!)).toContain(
      createHash("sha256").update("s3cr3t-value").digest("hex"),
    );
    const json = JSON.stringify(events, (_k, v) => (typeof v === "bigint" ? String(v) : v));
    expect(json).not.toContain("s3cr3t-value");

    await secrets.deleteSecret("default", "api_token");
    const other = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        { type: "tool_use", id: "toolu_2", name: "Bash", input: { command: "true" } },
      ]),
      textResponse("never"),
    );
    await h.client.sessions.sendMessage({ sessionId: other, text: "check" });
    const failed = await readEvents(h.client, other, turnsCompleted(1));
    const error = failed.find((e) => e.payload.case === "error")?.payload.value as {
      reason: string;
      message: string;
    };
    expect(error.reason).toBe("SANDBOX_START_FAILED");
    expect(error.message).toContain('the secret "api_token" (for API_TOKEN) does not exist');
  });
});
