// Budgets and steering when the store fails halfway: in process, on the memory store with
// faults injected per method. Nothing may end the process, and no acknowledged message is lost.

import { afterEach, describe, expect, it } from "vitest";
import type { SessionEvent } from "#gen/event_pb.js";
import { TurnOutcome } from "#gen/session_pb.js";
import { SendPolicy } from "#gen/session_service_pb.js";
import { MemoryPersistence } from "../src/adapters/memory/persistence.js";
import { AppError } from "../src/domain/errors.js";
import type { PersistenceAdapter } from "../src/ports/persistence.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { streamResponse, textResponse } from "./support/fake-anthropic.js";

/** A memory store whose calls fail while `fail` says yes to them. */
function faultyStore() {
  const inner = new MemoryPersistence();
  const faults: { fail?: (name: string, args: unknown[]) => boolean } = {};
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function" || typeof name !== "string") return value;
      return (...args: unknown[]) => {
        if (faults.fail?.(name, args)) {
          return Promise.reject(
            new AppError("unavailable", "STORE_UNAVAILABLE", `injected: ${name} fails`),
          );
        }
        return value.apply(target, args);
      };
    },
  }) as PersistenceAdapter;
  return { store, faults, inner };
}

let h: AgentHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const outcomes = (events: SessionEvent[]) =>
  events
    .filter((e) => e.payload.case === "turnCompleted")
    .map((e) => (e.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome);

describe("budgets and steering under store faults", () => {
  it("a turn goes on when counting tenant usage fails (logged); the month is read again", async () => {
    const f = faultyStore();
    f.faults.fail = (name) => name === "addTenantUsage";
    h = await agentHarness({ persistence: f.store, tenantMonthlyBudgetMicroUsd: 1_000_000 });
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("fine"));
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(outcomes(events)).toEqual([TurnOutcome.COMPLETED]);
  });

  it("a tenant month that cannot be read holds the turn until the store answers", async () => {
    const f = faultyStore();
    let failing = true;
    f.faults.fail = (name) => failing && name === "tenantUsage";
    h = await agentHarness({
      persistence: f.store,
      tenantMonthlyBudgetMicroUsd: 1_000_000,
      turnRetryMs: { min: 20, max: 50 },
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("after the outage"));
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    await new Promise((r) => setTimeout(r, 200));
    expect(h.fake.requests).toHaveLength(0);
    failing = false;
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(outcomes(events)).toEqual([TurnOutcome.COMPLETED]);
  });

  it("a steered message whose delivery cannot be stored is not lost: it runs as its own turn", async () => {
    const f = faultyStore();
    h = await agentHarness({ persistence: f.store, turnRetryMs: { min: 20, max: 50 } });
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse(
        [
          { type: "text", text: "Reading the file slowly before the answer." },
          { type: "tool_use", id: "toolu_1", name: "Read", input: { file_path: "missing.txt" } },
        ],
        { chunkDelayMs: 80 },
      ),
      textResponse("steer answered"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "read it" });
    await readEvents(h.client, sessionId, (ev) => ev.some((e) => e.payload.case === "blockDelta"));
    // The write that drops the steered message from the queue fails, once.
    let failures = 0;
    f.faults.fail = (name, args) => {
      const update = args[1] as Record<string, unknown> | undefined;
      const drop =
        name === "updateSessionRecord" &&
        update !== undefined &&
        "queuedMessages" in update &&
        !("currentTurn" in update) &&
        !("lastActivityTime" in update);
      if (drop && failures === 0) failures++;
      else return false;
      return true;
    };
    const steer = await h.client.sessions.sendMessage({
      sessionId,
      text: "answer in French",
      policy: SendPolicy.STEER,
    });
    expect(steer.steered).toBe(true);
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(failures).toBe(1);
    expect(outcomes(events)).toEqual([TurnOutcome.INTERRUPTED, TurnOutcome.COMPLETED]);
    // The model never answered it in the cut turn; it got it in the turn of its own.
    expect(h.fake.requests).toHaveLength(2);
    expect(JSON.stringify(h.fake.requests[1]!.body.messages!.at(-1))).toContain("answer in French");
    const view = await h.client.sessions.getSession({ sessionId });
    expect(view.session?.runtime?.queuedMessages).toEqual([]);
  });
});
