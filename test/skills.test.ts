import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import type { SessionEvent } from "#gen/event_pb.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { streamResponse, textResponse } from "./support/fake-anthropic.js";
import { resultText, systemOf, toolResults } from "./support/requests.js";

let h: AgentHarness;
afterEach(() => h?.close());

const enc = new TextEncoder();

const statusMessages = (events: SessionEvent[]) =>
  events
    .filter((e) => e.payload.case === "statusChanged")
    .map((e) => (e.payload.value as { message: string }).message);

const GREET_PY = [
  "import six",
  "import sys",
  'print(f"hello {sys.argv[1]} from six {six.__version__}")',
  "",
].join("\n");

const skillProfile = {
  tools: ["Read", "Write", "Bash", "Skill"],
  skills: [
    {
      name: "greeter",
      description: "Greets people by name with the house style",
      body: "# Greeter\n\nRun `python3 scripts/greet.py NAME` from this folder. SECRET-BODY-MARK",
      files: [{ path: "scripts/greet.py", content: enc.encode(GREET_PY) }],
      dependencies: { npm: [], pip: ["six==1.16.0"] },
    },
  ],
};

describe("skills", () => {
  it("lists a skill, loads it with the Skill tool, runs its script; its pip package installs once", async () => {
    h = await agentHarness({ profile: skillProfile });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        { type: "tool_use", id: "toolu_1", name: "Skill", input: { skill: "greeter" } },
      ]),
      streamResponse([
        {
          type: "tool_use",
          id: "toolu_2",
          name: "Bash",
          input: {
            command:
              "cd .claude/skills/greeter && python3 scripts/greet.py Ada && echo mine > /workspace/notes.txt",
          },
        },
      ]),
      textResponse("Greeted."),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "greet Ada" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1), 0n, 120_000);

    // The system prompt lists the skill by name and description, not its body.
    const system = systemOf(h.fake.requests[0]!);
    expect(system).toContain("You are a test agent.");
    expect(system).toContain("<name>greeter</name>");
    expect(system).toContain("Greets people by name with the house style");
    expect(system).not.toContain("SECRET-BODY-MARK");
    // The Skill tool gives SKILL.md (front matter, body) and the files' paths.
    const loaded = resultText(toolResults(h.fake.requests[1]!)[0]!);
    expect(loaded).toContain("name: greeter");
    expect(loaded).toContain("SECRET-BODY-MARK");
    expect(loaded).toContain("/workspace/.claude/skills/greeter/scripts/greet.py");
    // The script ran with its dependency, though the agent's network is off.
    const ran = toolResults(h.fake.requests[2]!)[0]!;
    expect(ran.is_error).toBeFalsy();
    expect(resultText(ran)).toContain("hello Ada from six 1.16.0");
    expect(
      statusMessages(events).filter((m) => m.includes("installing dependencies")),
    ).toHaveLength(1);

    // Skill files are not the session's: no file events, not stored; a user file is.
    const created = events
      .filter((e) => e.payload.case === "fileCreated")
      .map((e) => (e.payload.value as { file: { path: string } }).file.path);
    expect(created).toEqual(["notes.txt"]);
    const files = await h.client.workspace.listFiles({ sessionId });
    expect(files.files.map((f) => f.path)).toEqual(["notes.txt"]);
    // And the file API does not write there.
    const err = await h.client.workspace
      .writeFile({ sessionId, path: ".claude/skills/greeter/x.txt", content: enc.encode("x") })
      .catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.InvalidArgument);

    // A second session of the profile: the same specs are not installed again.
    const cache = readdirSync(join(h.dataDir, "deps"));
    expect(cache).toHaveLength(1);
    const cachedAt = statSync(join(h.dataDir, "deps", cache[0]!)).mtimeMs;
    const second = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        {
          type: "tool_use",
          id: "toolu_3",
          name: "Bash",
          // The install had the network; the agent's own commands do not.
          input: {
            command:
              'python3 .claude/skills/greeter/scripts/greet.py Bob; python3 -c "import socket; ' +
              "socket.create_connection(('pypi.org', 443), 5)\" 2>/dev/null && echo NET-OPEN || echo NET-CLOSED",
          },
        },
      ]),
      textResponse("Again."),
    );
    await h.client.sessions.sendMessage({ sessionId: second, text: "greet Bob" });
    const again = await readEvents(h.client, second, turnsCompleted(1), 0n, 60_000);
    const output = resultText(toolResults(h.fake.requests[4]!)[0]!);
    expect(output).toContain("hello Bob from six 1.16.0");
    expect(output).toContain("NET-CLOSED");
    expect(statusMessages(again).some((m) => m.includes("installing dependencies"))).toBe(false);
    expect(readdirSync(join(h.dataDir, "deps"))).toEqual(cache);
    expect(statSync(join(h.dataDir, "deps", cache[0]!)).mtimeMs).toBe(cachedAt);
  }, 180_000);

  it("puts back a skill file the agent removed, at the next use of the sandbox", async () => {
    h = await agentHarness({
      profile: { ...skillProfile, skills: [{ ...skillProfile.skills[0], dependencies: {} }] },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        {
          type: "tool_use",
          id: "toolu_1",
          name: "Bash",
          input: { command: "rm -r .claude/skills/greeter && ls .claude/skills" },
        },
      ]),
      streamResponse([
        {
          type: "tool_use",
          id: "toolu_2",
          name: "Bash",
          input: { command: "cat .claude/skills/greeter/SKILL.md" },
        },
      ]),
      textResponse("ok"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1), 0n, 60_000);
    expect(resultText(toolResults(h.fake.requests[2]!)[0]!)).toContain("name: greeter");
    expect(events.some((e) => e.payload.case === "fileDeleted")).toBe(false);
    expect(existsSync(h.dataDir)).toBe(true);
  }, 60_000);

  it("fails the sandbox start with the installer's output when a package does not install", async () => {
    h = await agentHarness({
      profile: {
        tools: ["Bash"],
        dependencies: { pip: ["agent-runtime-no-such-package-zz==0.0.1"], npm: [] },
      },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        { type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "true" } },
      ]),
      textResponse("never"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1), 0n, 120_000);
    const error = events.find((e) => e.payload.case === "error")?.payload.value as
      | { reason: string; message: string }
      | undefined;
    expect(error?.reason).toBe("SANDBOX_START_FAILED");
    expect(error?.message).toContain("installing its dependencies exited with 1");
    expect(error?.message).toContain("agent-runtime-no-such-package-zz");
    expect(statusMessages(events).at(-1)).toContain("installing its dependencies");
    // Nothing half-installed is kept as the cache.
    expect(readdirSync(join(h.dataDir, "deps"))).toEqual([]);
  }, 180_000);
});
