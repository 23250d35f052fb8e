// Turns waiting for answers when the store fails halfway: an answer whose write fails (before or
// after it reached the store) and a turn whose parking write fails. Nothing is lost, nothing
// runs twice, and the turn completes exactly once.

import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { PermissionMode } from "#gen/profile_pb.js";
import { SessionState, TurnOutcome } from "#gen/session_pb.js";
import { MemoryPersistence } from "../src/adapters/memory/persistence.js";
import { AppError } from "../src/domain/errors.js";
import type { PersistenceAdapter, SessionUpdate } from "../src/ports/persistence.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { streamResponse, textResponse } from "./support/fake-anthropic.js";

/** A memory store whose session writes fail when `fail` says so; `applied` stores them first. */
function faultyStore() {
  const inner = new MemoryPersistence();
  const faults: { fail?: ((u: SessionUpdate) => "lost" | "applied" | undefined) | undefined } = {};
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (name !== "updateSessionRecord" || typeof value !== "function") return value;
      return async (id: string, u: SessionUpdate) => {
        const mode = faults.fail?.(u);
        if (mode === "applied") await inner.updateSessionRecord(id, u);
        if (mode) throw new AppError("unavailable", "STORE_UNAVAILABLE", "injected");
        return inner.updateSessionRecord(id, u);
      };
    },
  }) as PersistenceAdapter;
  return { store, faults };
}

let h: AgentHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const allow = {
  case: "approval" as const,
  value: { allow: true, message: "", updatedInputJson: "", alwaysAllowRule: "" },
};

async function waitingTurn(store: PersistenceAdapter) {
  h = await agentHarness({
    persistence: store,
    turnRetryMs: { min: 20, max: 100 },
    profile: { permissions: { mode: PermissionMode.ALLOW, ask: ["Bash"] } },
  });
  const sessionId = await h.newSession();
  h.fake.enqueue(
    streamResponse([
      { type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "echo x >> runs" } },
    ]),
    textResponse("done"),
  );
  const sent = await h.client.sessions.sendMessage({ sessionId, text: "go" });
  return { sessionId, turnId: sent.turnId };
}

const code = (p: Promise<unknown>) =>
  p.then(
    () => 0,
    (e: unknown) => ConnectError.from(e).code,
  );

describe("waiting turns under store faults", () => {
  it("an answer whose write fails is not taken: the call still waits and a retry works", async () => {
    const f = faultyStore();
    const { sessionId, turnId } = await waitingTurn(f.store);
    await readEvents(h!.client, sessionId, (ev) =>
      ev.some((e) => e.payload.case === "toolCallWaiting"),
    );
    f.faults.fail = (u) => (u.parked ? "lost" : undefined);
    const answer = () =>
      h!.client.sessions.answerToolCall({ sessionId, toolUseId: "toolu_1", answer: allow });
    expect(await code(answer())).toBe(Code.Unavailable);
    const s = (await h!.client.sessions.getSession({ sessionId })).session!;
    expect(s.state).toBe(SessionState.WAITING);
    expect(s.runtime?.pendingToolCalls).toHaveLength(1);
    f.faults.fail = undefined;
    expect(await code(answer())).toBe(0);
    const events = await readEvents(h!.client, sessionId, turnsCompleted(1));
    const ends = events.filter((e) => e.payload.case === "turnCompleted");
    expect(ends.map((e) => e.turnId)).toEqual([turnId]);
    const runs = await h!.client.workspace.readFile({ sessionId, path: "runs" });
    expect(new TextDecoder().decode(runs.content)).toBe("x\n");
  });

  it("an answer stored whose acknowledgement was lost still lets the turn go on, once", async () => {
    const f = faultyStore();
    const { sessionId } = await waitingTurn(f.store);
    await readEvents(h!.client, sessionId, (ev) =>
      ev.some((e) => e.payload.case === "toolCallWaiting"),
    );
    let once = true;
    f.faults.fail = (u) => {
      if (!u.parked || !once) return undefined;
      once = false;
      return "applied";
    };
    const answer = () =>
      h!.client.sessions.answerToolCall({ sessionId, toolUseId: "toolu_1", answer: allow });
    expect(await code(answer())).toBe(Code.Unavailable);
    const events = await readEvents(h!.client, sessionId, turnsCompleted(1));
    expect(events.filter((e) => e.payload.case === "turnCompleted")).toHaveLength(1);
    expect(await code(answer())).toBe(Code.FailedPrecondition);
    const runs = await h!.client.workspace.readFile({ sessionId, path: "runs" });
    expect(new TextDecoder().decode(runs.content)).toBe("x\n");
  });

  it("a turn whose parking write fails is interrupted once the store answers, and never runs the call", async () => {
    const f = faultyStore();
    let failures = 3;
    f.faults.fail = (u) => (u.pendingToolCalls?.length && failures-- > 0 ? "lost" : undefined);
    const { sessionId, turnId } = await waitingTurn(f.store);
    const events = await readEvents(h!.client, sessionId, turnsCompleted(1));
    const end = events.find((e) => e.payload.case === "turnCompleted")!;
    expect(end.turnId).toBe(turnId);
    expect((end.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome).toBe(
      TurnOutcome.INTERRUPTED,
    );
    expect(events.some((e) => e.payload.case === "toolCallWaiting")).toBe(false);
    await expect(h!.client.workspace.readFile({ sessionId, path: "runs" })).rejects.toThrow();
    const s = (await h!.client.sessions.getSession({ sessionId })).session!;
    expect(s.state).toBe(SessionState.IDLE);
  });
});
