// The profile features when the store fails halfway: the instructions file, TodoWrite.

import { afterEach, describe, expect, it } from "vitest";
import { TurnOutcome } from "#gen/session_pb.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { streamResponse, textResponse } from "./support/fake-anthropic.js";
import { faultyStore } from "./support/faulty-store.js";
import { systemOf } from "./support/requests.js";

let h: AgentHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const outcomes = (events: Awaited<ReturnType<typeof readEvents>>) =>
  events
    .filter((e) => e.payload.case === "turnCompleted")
    .map((e) => (e.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome);

describe("profile features under store faults", () => {
  it("a failed instructions write fails the turn; the next turn writes it", async () => {
    const f = faultyStore();
    h = await agentHarness({
      persistence: f.store,
      profile: { instructions: { content: "Be brief. MARK" } },
    });
    const sessionId = await h.newSession();
    f.failWhen.test = (name) => name === "saveWorkspaceFile";
    await h.client.sessions.sendMessage({ sessionId, text: "one" });
    const first = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(outcomes(first)).toEqual([TurnOutcome.FAILED]);
    const error = first.find((e) => e.payload.case === "error")?.payload.value as {
      reason: string;
    };
    expect(error.reason).toBe("STORE_UNAVAILABLE");
    expect(h.fake.requests).toHaveLength(0);

    f.failWhen.test = undefined;
    h.fake.enqueue(textResponse("ok"));
    await h.client.sessions.sendMessage({ sessionId, text: "two" });
    const all = await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(outcomes(all)).toEqual([TurnOutcome.FAILED, TurnOutcome.COMPLETED]);
    expect(systemOf(h.fake.requests[0]!)).toContain("Be brief. MARK");
    expect(all.filter((e) => e.payload.case === "fileCreated")).toHaveLength(1);
  });

  it("a to-do list the store does not take is the model's error, and no event shows it", async () => {
    const f = faultyStore();
    h = await agentHarness({ persistence: f.store, profile: { tools: ["TodoWrite"] } });
    const sessionId = await h.newSession();
    f.failWhen.test = (name, args) =>
      name === "updateSessionRecord" && (args[1] as { todos?: unknown }).todos !== undefined;
    const todos = [{ content: "A", status: "pending", activeForm: "Doing A" }];
    h.fake.enqueue(
      streamResponse([{ type: "tool_use", id: "toolu_1", name: "TodoWrite", input: { todos } }]),
      textResponse("ok"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "plan" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(outcomes(events)).toEqual([TurnOutcome.COMPLETED]);
    const last = h.fake.requests[1]!.body.messages!.at(-1)!.content as Array<{
      type: string;
      is_error?: boolean;
      content: unknown;
    }>;
    const result = last.find((c) => c.type === "tool_result")!;
    expect(result.is_error).toBe(true);
    expect(JSON.stringify(result.content)).toContain("injected: updateSessionRecord");
    expect(events.some((e) => e.payload.case === "todosUpdated")).toBe(false);
    expect(
      events.some(
        (e) =>
          e.payload.case === "blockCompleted" && e.payload.value.block?.content.case === "todoList",
      ),
    ).toBe(false);
    expect((await h.client.sessions.getSession({ sessionId })).session!.todos).toEqual([]);
  });
});
