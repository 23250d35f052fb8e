import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { ToolStatus } from "#gen/block_pb.js";
import type { SessionEvent } from "#gen/event_pb.js";
import { SessionState, TurnOutcome } from "#gen/session_pb.js";
import { SendPolicy } from "#gen/session_service_pb.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { type FakeUsage, streamResponse, textResponse } from "./support/fake-anthropic.js";

let h: AgentHarness;
afterEach(() => h?.close());

const usage = (input: number, output: number): Partial<FakeUsage> => ({
  input_tokens: input,
  output_tokens: output,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
});

/** A step that calls Read (it would run a tool if the turn went on). */
const readCall = (input: number, output: number) =>
  streamResponse(
    [{ type: "tool_use", id: `toolu_${input}_${output}`, name: "Read", input: { file_path: "x" } }],
    { usage: usage(input, output) },
  );

const outcomes = (events: SessionEvent[]) =>
  events
    .filter((e) => e.payload.case === "turnCompleted")
    .map((e) => (e.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome);

const exceeded = (events: SessionEvent[]) =>
  events.flatMap((e) => (e.payload.case === "budgetExceeded" ? [e.payload.value] : []));

async function state(sessionId: string) {
  const s = (await h.client.sessions.getSession({ sessionId })).session!;
  return { state: s.state, reason: s.runtime!.waitingReason, queued: s.runtime!.queuedMessages };
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("budgets", () => {
  it("a turn token limit ends the turn at that step, its tool calls not run; the next turn starts fresh", async () => {
    h = await agentHarness({ profile: { budget: { maxTurnTokens: 150n } } });
    const sessionId = await h.newSession();
    h.fake.enqueue(readCall(100, 60), textResponse("fresh", { usage: usage(10, 5) }));
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(outcomes(events)).toEqual([TurnOutcome.BUDGET_EXCEEDED]);
    expect(exceeded(events)).toEqual([
      expect.objectContaining({ scope: "turn", limit: "max_turn_tokens", limitValue: 150 }),
    ]);
    expect(Number(exceeded(events)[0]!.used!.outputTokens)).toBe(60);
    // No model call after the limit; the tool call was not run, and says why.
    expect(h.fake.requests).toHaveLength(1);
    const blocks = (await h.client.sessions.listMessages({ sessionId })).blocks;
    const use = blocks.find((b) => b.content.case === "toolUse")!.content.value as {
      status: ToolStatus;
    };
    expect(use.status).toBe(ToolStatus.CANCELLED);
    const result = blocks.find((b) => b.content.case === "toolResult")!.content.value as {
      output: string;
    };
    expect(result.output).toMatch(/^Not run: budget: max_turn_tokens reached \(160 of 150/);
    expect((await state(sessionId)).state).toBe(SessionState.IDLE);
    // A turn limit does not make the session wait: the next message runs, with a valid transcript.
    await h.client.sessions.sendMessage({ sessionId, text: "again" });
    const next = await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(outcomes(next)).toEqual([TurnOutcome.BUDGET_EXCEEDED, TurnOutcome.COMPLETED]);
    const roles = h.fake.requests[1]!.body.messages!.map((m) => m.role);
    expect(roles).toEqual(["user", "assistant", "user"]);
    expect(JSON.stringify(h.fake.requests[1]!.body.messages![2])).toContain("Not run: budget");
  });

  it("a turn cost limit ends the turn", async () => {
    // claude-sonnet-5-5: $2 per million input tokens: 1,000 input tokens cost $0.002.
    h = await agentHarness({ profile: { budget: { maxTurnCostUsd: 0.003 } } });
    const sessionId = await h.newSession();
    h.fake.enqueue(readCall(1_000, 0), readCall(1_000, 0), textResponse("never"));
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(outcomes(events)).toEqual([TurnOutcome.BUDGET_EXCEEDED]);
    expect(exceeded(events)[0]).toMatchObject({ scope: "turn", limit: "max_turn_cost_usd" });
    expect(exceeded(events)[0]!.limitValue).toBeCloseTo(0.003);
    // The first step ran its tool; the second reached the limit.
    expect(h.fake.requests).toHaveLength(2);
  });

  it("a session token limit makes the session wait; raising it (UpdateSession) runs the queued messages", async () => {
    h = await agentHarness();
    const created = await h.client.sessions.createSession({
      agentProfileId: h.profileId,
      options: { budget: { maxSessionTokens: 250n } },
    });
    const sessionId = created.session!.id;
    h.fake.enqueue(
      textResponse("under", { usage: usage(100, 50) }),
      readCall(100, 50),
      textResponse("resumed", { usage: usage(10, 5) }),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "one" });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    await h.client.sessions.sendMessage({ sessionId, text: "two" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(outcomes(events)).toEqual([TurnOutcome.COMPLETED, TurnOutcome.BUDGET_EXCEEDED]);
    expect(exceeded(events)[0]).toMatchObject({ scope: "session", limit: "max_session_tokens" });
    const waiting = await until(
      () => state(sessionId),
      (s) => s.state === SessionState.WAITING,
    );
    expect(waiting).toMatchObject({
      state: SessionState.WAITING,
      reason: "budget: max_session_tokens (session)",
    });
    // A new message is accepted and waits; REJECT refuses one.
    const third = await h.client.sessions.sendMessage({ sessionId, text: "three" });
    expect(third.queued).toBe(true);
    const refused = await h.client.sessions
      .sendMessage({ sessionId, text: "four", policy: SendPolicy.REJECT })
      .catch((e: unknown) => ConnectError.from(e));
    expect((refused as ConnectError).code).toBe(Code.FailedPrecondition);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.fake.requests).toHaveLength(2);
    expect((await state(sessionId)).queued.map((q) => q.text)).toEqual(["three"]);
    // Raised: the queued message runs.
    await h.client.sessions.updateSession({
      session: { id: sessionId, options: { budget: { maxSessionTokens: 10_000n } } },
      updateMask: { paths: ["options.budget"] },
    });
    const after = await readEvents(h.client, sessionId, turnsCompleted(3));
    expect(outcomes(after).at(-1)).toBe(TurnOutcome.COMPLETED);
    expect(h.fake.requests).toHaveLength(3);
    const done = await until(
      () => state(sessionId),
      (s) => s.state === SessionState.IDLE,
    );
    expect(done).toMatchObject({ state: SessionState.IDLE, reason: "", queued: [] });
  });

  it("a session cost limit from the profile; raising it (UpdateAgentProfile) resumes", async () => {
    h = await agentHarness({ profile: { budget: { maxSessionCostUsd: 0.001 } } });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      textResponse("costly", { usage: usage(1_000, 0) }),
      textResponse("resumed", { usage: usage(10, 0) }),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "one" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(outcomes(events)).toEqual([TurnOutcome.BUDGET_EXCEEDED]);
    expect(exceeded(events)[0]).toMatchObject({ scope: "session", limit: "max_session_cost_usd" });
    await h.client.sessions.sendMessage({ sessionId, text: "two" });
    const waiting = await until(
      () => state(sessionId),
      (s) => s.state === SessionState.WAITING,
    );
    expect(waiting.reason).toBe("budget: max_session_cost_usd (session)");
    expect(h.fake.requests).toHaveLength(1);
    await h.client.profiles.updateAgentProfile({
      profile: { id: h.profileId, budget: { maxSessionCostUsd: 1 } },
      updateMask: { paths: ["budget"] },
    });
    const after = await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(outcomes(after)).toEqual([TurnOutcome.BUDGET_EXCEEDED, TurnOutcome.COMPLETED]);
    expect(h.fake.requests).toHaveLength(2);
  });

  it("a subagent stops at the parent turn's limit, and so does the turn", async () => {
    h = await agentHarness({
      profile: {
        tools: ["Read", "Task"],
        subagents: [{ name: "reader", description: "reads", prompt: "You read.", tools: ["Read"] }],
        budget: { maxTurnTokens: 1_000n },
      },
    });
    const sessionId = await h.newSession();
    const task = { description: "read", prompt: "read x", subagent_type: "reader" };
    h.fake.enqueue(
      streamResponse([{ type: "tool_use", id: "task1", name: "Task", input: task }], {
        usage: usage(100, 10),
      }),
      readCall(500, 500), // the subagent's first step reaches the limit: its Read is not run
      textResponse("never"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "delegate" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(outcomes(events)).toEqual([TurnOutcome.BUDGET_EXCEEDED]);
    expect(exceeded(events)[0]).toMatchObject({ scope: "turn", limit: "max_turn_tokens" });
    expect(h.fake.requests).toHaveLength(2);
    const blocks = (await h.client.sessions.listMessages({ sessionId })).blocks;
    const results = blocks.flatMap((b) =>
      b.content.case === "toolResult" ? [b.content.value.output] : [],
    );
    expect(results.some((o) => o.startsWith("Not run: budget: max_turn_tokens"))).toBe(true);
    expect(results.some((o) => o.includes("[the subagent stopped: budget:"))).toBe(true);
  });

  it("a tenant's monthly limit holds every session of the tenant", async () => {
    h = await agentHarness({ tenantMonthlyBudgetMicroUsd: 1_000 });
    const a = await h.newSession();
    const b = await h.newSession();
    h.fake.enqueue(readCall(1_000, 0), textResponse("never"));
    await h.client.sessions.sendMessage({ sessionId: a, text: "spend" });
    const events = await readEvents(h.client, a, turnsCompleted(1));
    expect(outcomes(events)).toEqual([TurnOutcome.BUDGET_EXCEEDED]);
    expect(exceeded(events)[0]).toMatchObject({
      scope: "tenant_month",
      limit: "tenant_monthly_budget_usd",
      limitValue: 0.001,
    });
    expect(Number(exceeded(events)[0]!.used!.inputTokens)).toBe(1_000);
    // Another session of the tenant does not start a turn.
    await h.client.sessions.sendMessage({ sessionId: b, text: "me too" });
    const held = await until(
      () => state(b),
      (s) => s.state === SessionState.WAITING,
    );
    expect(held).toMatchObject({
      state: SessionState.WAITING,
      reason: "budget: tenant_monthly_budget_usd (tenant_month)",
    });
    expect(h.fake.requests).toHaveLength(1);
  });
});
