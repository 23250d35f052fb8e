// Turns that wait for the application: approvals, refusals, custom tools, racing answers,
// timeouts, and messages queued behind a waiting turn. Through the public API.

import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { ToolStatus } from "#gen/block_pb.js";
import type { SessionEvent } from "#gen/event_pb.js";
import { ModelProvider, PermissionMode } from "#gen/profile_pb.js";
import { PendingKind, SessionState, ToolDecisionKind, TurnOutcome } from "#gen/session_pb.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { type RecordedRequest, streamResponse, textResponse } from "./support/fake-anthropic.js";

let h: AgentHarness;
afterEach(() => h?.close());

function toolResults(req: RecordedRequest): Array<{
  tool_use_id: string;
  content: string;
  is_error?: boolean;
}> {
  return (req.body.messages ?? []).flatMap((m) =>
    Array.isArray(m.content)
      ? m.content.filter((c: { type: string }) => c.type === "tool_result")
      : [],
  );
}

const bash = (id: string, command: string) =>
  streamResponse([{ type: "tool_use", id, name: "Bash", input: { command } }]);

const waitingFor = (n: number) => (events: SessionEvent[]) =>
  events.filter((e) => e.payload.case === "toolCallWaiting").length >= n;

async function waitState(sessionId: string, state: SessionState) {
  for (let i = 0; i < 200; i++) {
    const s = (await h.client.sessions.getSession({ sessionId })).session!;
    if (s.state === state) return s;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`session never reached state ${state}`);
}

async function harness(permissions: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  h = await agentHarness({
    profile: { permissions: { mode: PermissionMode.ALLOW, ...permissions }, ...extra },
  });
  return h.newSession();
}

describe("tool permissions", () => {
  it("a call that asks waits: WAITING with the pending call; allowed, it runs and the turn completes", async () => {
    const sessionId = await harness({ ask: ["Bash(echo:*)"] });
    h.fake.enqueue(bash("toolu_1", "echo approved > out.txt && cat out.txt"), textResponse("done"));
    const sent = await h.client.sessions.sendMessage({ sessionId, text: "go" });
    const events = await readEvents(h.client, sessionId, waitingFor(1));
    const waiting = events.at(-1)!.payload.value as {
      call: { toolUseId: string; kind: PendingKind; matchedRule: string };
    };
    expect(waiting.call).toMatchObject({
      toolUseId: "toolu_1",
      kind: PendingKind.APPROVAL,
      matchedRule: "Bash(echo:*)",
    });
    // The tool_use block went to WAITING before.
    expect(
      events.some(
        (e) =>
          e.payload.case === "blockUpdated" &&
          e.payload.value.block?.content.case === "toolUse" &&
          e.payload.value.block.content.value.status === ToolStatus.WAITING,
      ),
    ).toBe(true);
    const s = await waitState(sessionId, SessionState.WAITING);
    expect(s.runtime?.pendingToolCalls.map((c) => c.toolUseId)).toEqual(["toolu_1"]);
    expect(s.runtime?.waitingReason).toBe("approval");
    expect(h.fake.requests.length).toBe(1);

    const answered = await h.client.sessions.answerToolCall({
      sessionId,
      toolUseId: "toolu_1",
      answer: {
        case: "approval",
        value: { allow: true, message: "", updatedInputJson: "", alwaysAllowRule: "" },
      },
    });
    expect(answered.decision).toMatchObject({ kind: ToolDecisionKind.ALLOW, decidedBy: "open" });
    const all = await readEvents(h.client, sessionId, turnsCompleted(1));
    const completed = all.filter((e) => e.payload.case === "turnCompleted");
    expect(completed).toHaveLength(1);
    expect(completed[0]!.turnId).toBe(sent.turnId);
    expect((completed[0]!.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome).toBe(
      TurnOutcome.COMPLETED,
    );
    expect(all.some((e) => e.payload.case === "toolCallAnswered")).toBe(true);
    const result = toolResults(h.fake.requests[1]!).find((r) => r.tool_use_id === "toolu_1")!;
    expect(result.content).toContain("approved");
    expect(result.is_error).toBeFalsy();
    const file = await h.client.workspace.readFile({ sessionId, path: "out.txt" });
    expect(new TextDecoder().decode(file.content)).toBe("approved\n");
    const after = await waitState(sessionId, SessionState.IDLE);
    expect(after.runtime?.pendingToolCalls).toEqual([]);
    const decisions = await h.client.sessions.listToolDecisions({ sessionId });
    expect(decisions.decisions.map((d) => d.toolUseId)).toEqual(["toolu_1"]);
  });

  it("a denied answer: the model is told why; a deny rule refuses at once with the rule", async () => {
    const sessionId = await harness({ ask: ["Bash"], deny: ["Write(secret/**)"] });
    h.fake.enqueue(
      streamResponse([
        {
          type: "tool_use",
          id: "toolu_w",
          name: "Write",
          input: { file_path: "/workspace/secret/x", content: "x" },
        },
        { type: "tool_use", id: "toolu_b", name: "Bash", input: { command: "touch ran" } },
      ]),
      textResponse("ok"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    await readEvents(h.client, sessionId, waitingFor(1));
    await h.client.sessions.answerToolCall({
      sessionId,
      toolUseId: "toolu_b",
      answer: {
        case: "approval",
        value: {
          allow: false,
          message: "not on my machine",
          updatedInputJson: "",
          alwaysAllowRule: "",
        },
      },
    });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const results = toolResults(h.fake.requests[1]!);
    const w = results.find((r) => r.tool_use_id === "toolu_w")!;
    expect(w.is_error).toBe(true);
    expect(w.content).toContain("Write(secret/**)");
    const b = results.find((r) => r.tool_use_id === "toolu_b")!;
    expect(b.is_error).toBe(true);
    expect(b.content).toContain("not on my machine");
    const statuses = events.flatMap((e) =>
      e.payload.case === "blockCompleted" && e.payload.value.block?.content.case === "toolUse"
        ? [e.payload.value.block.content.value.status]
        : [],
    );
    expect(statuses).toEqual([ToolStatus.DENIED, ToolStatus.DENIED]);
    await expect(h.client.workspace.readFile({ sessionId, path: "ran" })).rejects.toThrow();
  });

  it("an answer may change the input, and always-allow lets the next matching call run", async () => {
    const sessionId = await harness({ mode: PermissionMode.ASK });
    h.fake.enqueue(
      bash("toolu_1", "echo one > a.txt"),
      bash("toolu_2", "echo two > b.txt"),
      textResponse("done"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    await readEvents(h.client, sessionId, waitingFor(1));
    await h.client.sessions.answerToolCall({
      sessionId,
      toolUseId: "toolu_1",
      answer: {
        case: "approval",
        value: {
          allow: true,
          message: "",
          updatedInputJson: JSON.stringify({ command: "echo edited > a.txt" }),
          alwaysAllowRule: "Bash(echo:*)",
        },
      },
    });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(events.filter((e) => e.payload.case === "toolCallWaiting")).toHaveLength(1);
    const a = await h.client.workspace.readFile({ sessionId, path: "a.txt" });
    expect(new TextDecoder().decode(a.content)).toBe("edited\n");
    const b = await h.client.workspace.readFile({ sessionId, path: "b.txt" });
    expect(new TextDecoder().decode(b.content)).toBe("two\n");
  });

  it("rejects answers that do not fit: wrong kind, bad input, bad rule, unknown call", async () => {
    const sessionId = await harness({ ask: ["Bash"] });
    h.fake.enqueue(bash("toolu_1", "true"), textResponse("done"));
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    await readEvents(h.client, sessionId, waitingFor(1));
    const approval = (v: Record<string, unknown>) => ({
      case: "approval" as const,
      value: { allow: true, message: "", updatedInputJson: "", alwaysAllowRule: "", ...v },
    });
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 0,
        (e: unknown) => ConnectError.from(e).code,
      );
    expect(
      await code(
        h.client.sessions.answerToolCall({
          sessionId,
          toolUseId: "toolu_1",
          answer: { case: "result", value: { output: "x", isError: false } },
        }),
      ),
    ).toBe(Code.InvalidArgument);
    expect(
      await code(
        h.client.sessions.answerToolCall({
          sessionId,
          toolUseId: "toolu_1",
          answer: approval({ updatedInputJson: "[1]" }),
        }),
      ),
    ).toBe(Code.InvalidArgument);
    expect(
      await code(
        h.client.sessions.answerToolCall({
          sessionId,
          toolUseId: "toolu_1",
          answer: approval({ alwaysAllowRule: "Nope(" }),
        }),
      ),
    ).toBe(Code.InvalidArgument);
    expect(await code(h.client.sessions.answerToolCall({ sessionId, toolUseId: "toolu_1" }))).toBe(
      Code.InvalidArgument,
    );
    expect(
      await code(
        h.client.sessions.answerToolCall({ sessionId, toolUseId: "toolu_x", answer: approval({}) }),
      ),
    ).toBe(Code.FailedPrecondition);
    // Two answers racing for one call: exactly one wins.
    const race = await Promise.all([
      code(
        h.client.sessions.answerToolCall({ sessionId, toolUseId: "toolu_1", answer: approval({}) }),
      ),
      code(
        h.client.sessions.answerToolCall({
          sessionId,
          toolUseId: "toolu_1",
          answer: approval({ allow: false }),
        }),
      ),
    ]);
    expect(race.sort()).toEqual([0, Code.FailedPrecondition].sort());
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(events.filter((e) => e.payload.case === "toolCallAnswered")).toHaveLength(1);
    expect(events.filter((e) => e.payload.case === "turnCompleted")).toHaveLength(1);
  });
});

describe("subagents", () => {
  it("follow the turn's permissions; a call that would wait is refused, not parked", async () => {
    const sessionId = await harness(
      { ask: ["Bash"], deny: ["Write(secret/**)"] },
      {
        tools: ["Task", "Bash", "Write"],
        subagents: [
          { name: "helper", description: "helps", prompt: "You help.", tools: ["Bash", "Write"] },
        ],
      },
    );
    h.fake.enqueue(
      streamResponse([
        {
          type: "tool_use",
          id: "toolu_task",
          name: "Task",
          input: { description: "help", prompt: "do it", subagent_type: "helper" },
        },
      ]),
      streamResponse([
        { type: "tool_use", id: "toolu_sb", name: "Bash", input: { command: "touch ran" } },
        {
          type: "tool_use",
          id: "toolu_sw",
          name: "Write",
          input: { file_path: "secret/a", content: "x" },
        },
      ]),
      textResponse("the subagent could not"),
      textResponse("all done"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(events.some((e) => e.payload.case === "toolCallWaiting")).toBe(false);
    const results = toolResults(h.fake.requests[2]!);
    expect(results.find((r) => r.tool_use_id === "toolu_sb")!.content).toContain(
      "a subagent cannot",
    );
    expect(results.find((r) => r.tool_use_id === "toolu_sw")!.content).toContain(
      "Write(secret/**)",
    );
    await expect(h.client.workspace.readFile({ sessionId, path: "ran" })).rejects.toThrow();
  });
});

describe("custom tools", () => {
  const customTools = [
    {
      name: "lookup_order",
      description: "Looks up an order",
      inputSchemaJson: JSON.stringify({ type: "object", properties: { id: { type: "string" } } }),
    },
  ];

  it("a custom tool call waits for the application's result, which the model gets", async () => {
    const sessionId = await harness({}, { customTools });
    h.fake.enqueue(
      streamResponse([
        { type: "tool_use", id: "toolu_c1", name: "lookup_order", input: { id: "42" } },
      ]),
      streamResponse([
        { type: "tool_use", id: "toolu_c2", name: "lookup_order", input: { id: "43" } },
      ]),
      textResponse("shipped"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "where is my order" });
    const events = await readEvents(h.client, sessionId, waitingFor(1));
    const call = (
      events.at(-1)!.payload.value as { call: { kind: PendingKind; inputJson: string } }
    ).call;
    expect(call.kind).toBe(PendingKind.CUSTOM_TOOL);
    expect(JSON.parse(call.inputJson)).toEqual({ id: "42" });
    expect(h.fake.requests[0]!.body.tools!.map((t) => t.name)).toContain("lookup_order");
    await h.client.sessions.answerToolCall({
      sessionId,
      toolUseId: "toolu_c1",
      answer: { case: "result", value: { output: "order 42: shipped", isError: false } },
    });
    await readEvents(h.client, sessionId, waitingFor(2));
    await h.client.sessions.answerToolCall({
      sessionId,
      toolUseId: "toolu_c2",
      answer: { case: "result", value: { output: "no such order", isError: true } },
    });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    const results = toolResults(h.fake.requests[2]!);
    expect(results.find((r) => r.tool_use_id === "toolu_c1")).toMatchObject({
      content: "order 42: shipped",
    });
    expect(results.find((r) => r.tool_use_id === "toolu_c2")).toMatchObject({
      content: "no such order",
      is_error: true,
    });
  });
});

describe("the demo model", () => {
  it("calls a custom tool the message names, and its answer quotes the result", async () => {
    h = await agentHarness({
      profile: {
        modelProvider: ModelProvider.DEMO,
        model: "",
        tools: ["Write", "Bash"],
        permissions: { mode: PermissionMode.ALLOW, ask: ["Bash"] },
        customTools: [{ name: "lookup_order", description: "Looks up an order" }],
      },
    });
    const sessionId = await h.newSession();
    await h.client.sessions.sendMessage({ sessionId, text: "please lookup_order 42" });
    const first = await readEvents(h.client, sessionId, waitingFor(1));
    const call = (first.at(-1)!.payload.value as { call: { toolUseId: string; toolName: string } })
      .call;
    expect(call.toolName).toBe("lookup_order");
    await h.client.sessions.answerToolCall({
      sessionId,
      toolUseId: call.toolUseId,
      answer: { case: "result", value: { output: "order 42 shipped", isError: false } },
    });
    // Then Write runs, and Bash asks.
    const second = await readEvents(h.client, sessionId, waitingFor(2));
    const bashCall = (
      second.at(-1)!.payload.value as { call: { toolUseId: string; toolName: string } }
    ).call;
    expect(bashCall.toolName).toBe("Bash");
    await h.client.sessions.answerToolCall({
      sessionId,
      toolUseId: bashCall.toolUseId,
      answer: {
        case: "approval",
        value: { allow: true, message: "", updatedInputJson: "", alwaysAllowRule: "" },
      },
    });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const texts = events.flatMap((e) =>
      e.payload.case === "blockCompleted" && e.payload.value.block?.content.case === "assistantText"
        ? [e.payload.value.block.content.value.text]
        : [],
    );
    expect(texts.at(-1)).toContain("order 42 shipped");
    expect(texts.at(-1)).toContain("Demo note");
  });
});

describe("waiting turns", () => {
  it("a message sent while a turn waits runs only after that turn completes", async () => {
    const sessionId = await harness({ ask: ["Bash"] });
    h.fake.enqueue(bash("toolu_1", "true"), textResponse("first done"), textResponse("second"));
    const first = await h.client.sessions.sendMessage({ sessionId, text: "one" });
    await readEvents(h.client, sessionId, waitingFor(1));
    const second = await h.client.sessions.sendMessage({ sessionId, text: "two" });
    expect(second.queued).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.fake.requests.length).toBe(1);
    const s = await waitState(sessionId, SessionState.WAITING);
    expect(s.runtime?.queuedMessages.map((q) => q.turnId)).toEqual([second.turnId]);
    await h.client.sessions.answerToolCall({
      sessionId,
      toolUseId: "toolu_1",
      answer: {
        case: "approval",
        value: { allow: true, message: "", updatedInputJson: "", alwaysAllowRule: "" },
      },
    });
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    const order = events
      .filter((e) => e.payload.case === "turnStarted" || e.payload.case === "turnCompleted")
      .map((e) => `${e.payload.case}:${e.turnId}`);
    expect(order).toEqual([
      `turnStarted:${first.turnId}`,
      `turnCompleted:${first.turnId}`,
      `turnStarted:${second.turnId}`,
      `turnCompleted:${second.turnId}`,
    ]);
  });

  it("CancelTurn ends a waiting turn as cancelled; its call never runs", async () => {
    const sessionId = await harness({ ask: ["Bash"] });
    h.fake.enqueue(bash("toolu_1", "touch ran"), textResponse("next turn"));
    const sent = await h.client.sessions.sendMessage({ sessionId, text: "go" });
    await readEvents(h.client, sessionId, waitingFor(1));
    const cancelled = await h.client.sessions.cancelTurn({ sessionId, turnId: sent.turnId });
    expect(cancelled.cancelled).toBe(true);
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const end = events.find((e) => e.payload.case === "turnCompleted")!;
    expect((end.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome).toBe(
      TurnOutcome.CANCELLED,
    );
    const use = events.filter(
      (e) =>
        e.payload.case === "blockCompleted" && e.payload.value.block?.content.case === "toolUse",
    );
    expect(use).toHaveLength(1);
    await expect(
      h.client.sessions.answerToolCall({
        sessionId,
        toolUseId: "toolu_1",
        answer: {
          case: "approval",
          value: { allow: true, message: "", updatedInputJson: "", alwaysAllowRule: "" },
        },
      }),
    ).rejects.toMatchObject({ code: Code.FailedPrecondition });
    await expect(h.client.workspace.readFile({ sessionId, path: "ran" })).rejects.toThrow();
    // The conversation stays valid: the next turn's request tells the model the call did not run.
    await h.client.sessions.sendMessage({ sessionId, text: "again" });
    await readEvents(h.client, sessionId, turnsCompleted(2));
    const r = toolResults(h.fake.requests[1]!).find((x) => x.tool_use_id === "toolu_1")!;
    expect(r.is_error).toBe(true);
    expect(r.content).toContain("cancelled");
  });

  it("a call past its timeout gets the profile's answer, by timeout", async () => {
    const sessionId = await harness({
      ask: ["Bash"],
      approvalTimeoutSeconds: 1n,
      allowOnTimeout: false,
    });
    h.fake.enqueue(bash("toolu_1", "touch ran"), textResponse("ok"));
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    const waiting = await readEvents(h.client, sessionId, waitingFor(1));
    const call = (waiting.at(-1)!.payload.value as { call: { timeoutTime?: unknown } }).call;
    expect(call.timeoutTime).toBeDefined();
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const answered = events.find((e) => e.payload.case === "toolCallAnswered")!;
    expect(answered.payload.value).toMatchObject({
      decision: { kind: ToolDecisionKind.DENY, decidedBy: "timeout" },
    });
    const r = toolResults(h.fake.requests[1]!).find((x) => x.tool_use_id === "toolu_1")!;
    expect(r.is_error).toBe(true);
    expect(r.content).toContain("no answer came in time");
    // Too late: the call is answered.
    await expect(
      h.client.sessions.answerToolCall({
        sessionId,
        toolUseId: "toolu_1",
        answer: {
          case: "approval",
          value: { allow: true, message: "", updatedInputJson: "", alwaysAllowRule: "" },
        },
      }),
    ).rejects.toMatchObject({ code: Code.FailedPrecondition });
  });

  it("a waiting session unloads when idle; the answer loads it and the turn goes on", async () => {
    h = await agentHarness({
      idleTimeoutMs: 300,
      profile: { permissions: { mode: PermissionMode.ALLOW, ask: ["Bash"] } },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse([
        {
          type: "tool_use",
          id: "toolu_w",
          name: "Write",
          input: { file_path: "/workspace/kept.txt", content: "kept\n" },
        },
        { type: "tool_use", id: "toolu_b", name: "Bash", input: { command: "cat kept.txt" } },
      ]),
      textResponse("done"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    await readEvents(h.client, sessionId, waitingFor(1));
    for (let i = 0; i < 100 && h.runtime.sessionManager.getSession(sessionId); i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(h.runtime.sessionManager.getSession(sessionId)).toBeUndefined();
    const s = (await h.client.sessions.getSession({ sessionId })).session!;
    expect(s.state).toBe(SessionState.WAITING);
    expect(s.runtime?.pendingToolCalls.map((c) => c.toolUseId)).toEqual(["toolu_b"]);
    await h.client.sessions.answerToolCall({
      sessionId,
      toolUseId: "toolu_b",
      answer: {
        case: "approval",
        value: { allow: true, message: "", updatedInputJson: "", alwaysAllowRule: "" },
      },
    });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(events.filter((e) => e.payload.case === "turnCompleted")).toHaveLength(1);
    const results = toolResults(h.fake.requests[1]!);
    expect(results.find((r) => r.tool_use_id === "toolu_w")!.is_error).toBeFalsy();
    // The sandbox started again and the workspace came back: Bash read the file Write made.
    expect(results.find((r) => r.tool_use_id === "toolu_b")!.content).toContain("kept");
  });
});
