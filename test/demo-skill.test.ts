import { afterEach, describe, expect, it } from "vitest";
import type { Block } from "#gen/block_pb.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";

let h: AgentHarness;
afterEach(() => h?.close());

describe("the demo profile", () => {
  it("runs its /count command with its word-count skill, offline, and still writes its note", async () => {
    h = await agentHarness({ demoProfileTenants: ["default"] });
    const profiles = await h.client.profiles.listAgentProfiles({});
    const demo = profiles.profiles.find((p) => p.name === "demo")!;
    expect(demo.skills.map((s) => s.name)).toEqual(["word-count"]);
    expect(demo.commands.map((c) => c.name)).toEqual(["count"]);
    const sessionId = (await h.client.sessions.createSession({ agentProfileId: demo.id })).session!
      .id;

    await h.client.sessions.sendMessage({ sessionId, text: "/count one two three" });
    await h.client.sessions.sendMessage({ sessionId, text: "hello" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(2), 0n, 60_000);
    const blocks = events
      .filter((e) => e.payload.case === "blockCompleted")
      .map((e) => (e.payload.value as { block: Block }).block);
    const firstTurn = blocks.filter((b) => b.turnId === events[1]!.turnId);
    const tools = firstTurn.flatMap((b) =>
      b.content.case === "toolUse" ? [b.content.value.toolName] : [],
    );
    expect(tools).toEqual(["Skill", "Bash"]);
    const outputs = firstTurn.flatMap((b) =>
      b.content.case === "toolResult" ? [b.content.value] : [],
    );
    expect(outputs.every((o) => !o.isError)).toBe(true);
    expect(outputs[1]!.output).toContain('{"words": 3, "lines": 1, "characters": 13}');
    const user = firstTurn.find((b) => b.content.case === "userMessage")!.content.value as {
      command: string;
      expandedText: string;
    };
    expect(user.command).toBe("count");
    expect(user.expandedText).toContain("word-count skill");

    // A plain message still gets the Write and Bash walk-through.
    const note = await h.client.workspace.readFile({ sessionId, path: "notes/demo.md" });
    expect(new TextDecoder().decode(note.content)).toContain("> hello");
    const files = await h.client.workspace.listFiles({ sessionId });
    expect(files.files.map((f) => f.path)).toEqual(["notes/demo.md"]);
  });
});
