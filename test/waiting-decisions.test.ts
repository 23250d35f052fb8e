// The decision log through the API: every answer is listed, whole, across pages (more than any
// record could hold); an answer whose log append fails is still taken, its turn goes on, and it
// is in the log once the store is back; answers a stopped process left unlogged are completed.

import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { PermissionMode } from "#gen/profile_pb.js";
import { SessionState, ToolDecisionKind } from "#gen/session_pb.js";
import { LIMITS } from "../src/domain/limits.js";
import type { ToolDecision } from "../src/domain/types.js";
import type { PersistenceAdapter } from "../src/ports/persistence.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { streamResponse, textResponse } from "./support/fake-anthropic.js";
import { faultyStore } from "./support/faulty-store.js";

let h: AgentHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function setUp(persistence?: PersistenceAdapter) {
  h = await agentHarness({
    ...(persistence ? { persistence } : {}),
    profile: {
      permissions: { mode: PermissionMode.ALLOW, ask: ["Bash"] },
      customTools: [{ name: "lookup", description: "Looks something up" }],
    },
  });
  return h.newSession();
}

/** One model step calling `lookup` `count` times (ids `${prefix}-<n>`). */
function lookups(prefix: string, count: number) {
  return streamResponse(
    Array.from({ length: count }, (_, i) => ({
      type: "tool_use" as const,
      id: `${prefix}-${String(i).padStart(3, "0")}`,
      name: "lookup",
      input: { n: i },
    })),
  );
}

async function pendingCount(sessionId: string, count: number): Promise<string[]> {
  for (let i = 0; i < 400; i++) {
    const s = (await h!.client.sessions.getSession({ sessionId })).session!;
    const ids = (s.runtime?.pendingToolCalls ?? []).map((c) => c.toolUseId);
    if (s.state === SessionState.WAITING && ids.length === count) return ids;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never ${count} calls waiting`);
}

const code = (p: Promise<unknown>) =>
  p.then(
    () => Code.Unknown,
    (e: unknown) => ConnectError.from(e).code,
  );

describe("the decision log", () => {
  it("lists every answer, whole, across pages: more than 200, oldest first", async () => {
    const sessionId = await setUp();
    const steps = 3;
    const perStep = 70;
    h!.fake.enqueue(
      ...Array.from({ length: steps }, (_, s) => lookups(`toolu_${s}`, perStep)),
      textResponse("done"),
    );
    await h!.client.sessions.sendMessage({ sessionId, text: "go" });
    const long = "o".repeat(50_000);
    for (let s = 0; s < steps; s++) {
      const ids = await pendingCount(sessionId, perStep);
      // In order, so decide times ascend with the ids.
      for (const toolUseId of ids) {
        await h!.client.sessions.answerToolCall({
          sessionId,
          toolUseId,
          answer: { case: "result", value: { output: `${toolUseId}:${long}`, isError: false } },
        });
      }
    }
    await readEvents(h!.client, sessionId, turnsCompleted(1));

    const listed = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await h!.client.sessions.listToolDecisions({
        sessionId,
        pageSize: 50,
        pageToken,
      });
      expect(page.decisions.length).toBeLessThanOrEqual(50);
      listed.push(...page.decisions);
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "" && pages < 20);
    expect(pages).toBe(Math.ceil((steps * perStep) / 50));
    expect(listed.map((d) => d.toolUseId)).toEqual(
      Array.from(
        { length: steps * perStep },
        (_, i) => `toolu_${Math.floor(i / perStep)}-${String(i % perStep).padStart(3, "0")}`,
      ),
    );
    for (const d of listed) {
      expect(d.kind).toBe(ToolDecisionKind.RESULT);
      expect(d.toolName).toBe("lookup");
      expect(d.decidedBy).not.toBe("");
      expect(d.decideTime?.seconds).toBeGreaterThan(0n);
      expect(d.output).toBe(`${d.toolUseId}:${long}`); // kept whole
    }
    // Page sizes: 0 is the default (100), larger is clamped to 1,000, negative is refused.
    const all = await h!.client.sessions.listToolDecisions({ sessionId, pageSize: 5000 });
    expect(all.decisions).toHaveLength(steps * perStep);
    expect(all.nextPageToken).toBe("");
    const first = await h!.client.sessions.listToolDecisions({ sessionId });
    expect(first.decisions).toHaveLength(100);
    expect(await code(h!.client.sessions.listToolDecisions({ sessionId, pageSize: -1 }))).toBe(
      Code.InvalidArgument,
    );
    expect(
      await code(h!.client.sessions.listToolDecisions({ sessionId, pageToken: "garbage" })),
    ).toBe(Code.InvalidArgument);
  }, 60_000);

  it("an answer whose log append fails is taken, the turn goes on, and it is logged later", async () => {
    const f = faultyStore();
    const sessionId = await setUp(f.store);
    h!.fake.enqueue(lookups("toolu_f", 1), textResponse("done"));
    await h!.client.sessions.sendMessage({ sessionId, text: "go" });
    const [toolUseId] = await pendingCount(sessionId, 1);
    f.failing.add("appendToolDecision");
    await h!.client.sessions.answerToolCall({
      sessionId,
      toolUseId: toolUseId!,
      answer: { case: "result", value: { output: "found it", isError: true } },
    });
    await readEvents(h!.client, sessionId, turnsCompleted(1));
    // While the log cannot be written, listing it says so (retryable), it does not lie.
    expect(await code(h!.client.sessions.listToolDecisions({ sessionId }))).toBe(Code.Unavailable);
    expect((await f.store.loadSession(sessionId))?.unloggedDecisions).toHaveLength(1);
    f.failing.delete("appendToolDecision");
    // The retry completes it by itself (no read needed), and the outbox empties.
    for (let i = 0; i < 200; i++) {
      if ((await f.store.listToolDecisions(sessionId, undefined, 10)).length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const page = await h!.client.sessions.listToolDecisions({ sessionId });
    expect(page.decisions).toHaveLength(1);
    expect(page.decisions[0]).toMatchObject({
      toolUseId,
      kind: ToolDecisionKind.RESULT,
      output: "found it",
      isError: true,
    });
    expect((await f.store.loadSession(sessionId))?.unloggedDecisions).toBeUndefined();
  }, 30_000);

  it("refuses answers beyond LIMITS.maxUnloggedToolDecisions while the log cannot be written", async () => {
    const f = faultyStore();
    const sessionId = await setUp(f.store);
    const max = LIMITS.maxUnloggedToolDecisions;
    h!.fake.enqueue(lookups("toolu_m", max + 1), textResponse("done"));
    await h!.client.sessions.sendMessage({ sessionId, text: "go" });
    const ids = await pendingCount(sessionId, max + 1);
    f.failing.add("appendToolDecision");
    const answer = (toolUseId: string) =>
      h!.client.sessions.answerToolCall({
        sessionId,
        toolUseId,
        answer: { case: "result", value: { output: "x", isError: false } },
      });
    for (const id of ids.slice(0, max)) await answer(id);
    expect(await code(answer(ids[max]!))).toBe(Code.Unavailable);
    await pendingCount(sessionId, 1); // not taken: it still waits
    f.failing.delete("appendToolDecision");
    await answer(ids[max]!);
    await readEvents(h!.client, sessionId, turnsCompleted(1));
    const page = await h!.client.sessions.listToolDecisions({ sessionId });
    expect(page.decisions).toHaveLength(max + 1);
  }, 30_000);

  it("completes the appends a stopped process (or an earlier version) left on the record", async () => {
    const f = faultyStore();
    const sessionId = await setUp(f.store);
    const left: ToolDecision = {
      toolUseId: "toolu_left",
      turnId: "turn_x",
      toolName: "Bash",
      kind: "deny",
      message: "m".repeat(10_000),
      updatedInputJson: "",
      alwaysAllowRule: "",
      output: "",
      isError: false,
      decidedBy: "key:ops",
      decideTime: new Date(),
    };
    // As a process that died after taking the answer and before appending it leaves it; and
    // an append that reached the store before its acknowledgement was lost.
    // An earlier version's record also holds its copy of the latest answers (`toolDecisions`).
    const legacy: ToolDecision = {
      ...left,
      toolUseId: "toolu_old",
      kind: "allow",
      message: "",
      decidedBy: "open",
      decideTime: new Date(left.decideTime.getTime() - 60_000),
    };
    await f.store.updateSessionRecord(sessionId, {
      unloggedDecisions: [left],
      toolDecisions: [legacy],
    });
    await f.store.appendToolDecision(sessionId, left);
    const page = await h!.client.sessions.listToolDecisions({ sessionId });
    expect(page.decisions.map((d) => [d.toolUseId, d.message.length, d.decidedBy])).toEqual([
      ["toolu_old", 0, "open"],
      ["toolu_left", 10_000, "key:ops"],
    ]);
    const record = await f.store.loadSession(sessionId);
    expect(record?.unloggedDecisions).toBeUndefined();
    expect(record?.toolDecisions).toBeUndefined();
    const again = await h!.client.sessions.listToolDecisions({ sessionId });
    expect(again.decisions).toHaveLength(2);
  });
});
