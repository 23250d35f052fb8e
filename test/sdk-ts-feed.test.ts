// The TypeScript SDK's feed logic against an in-process fake SessionService (no sockets), where
// each failure is scripted: dropped streams, replayed duplicates, gaps, a subagent's
// turn_completed, another turn's events, errors that must not be retried.

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { type SessionEvent, SessionEventSchema } from "#gen/event_pb.js";
import { SessionSchema, TurnOutcome } from "#gen/session_pb.js";
import { SessionService } from "#gen/session_service_pb.js";
import {
  AgentRuntimeClient,
  AgentRuntimeError,
  Conversation,
  ToolStatus,
} from "../sdk/ts/src/index.js";

const TURN = "trn_main";
type EventInit = MessageInitShape<typeof SessionEventSchema>;

/** The turn's events: text streamed in deltas, a subagent that completes, then the turn. */
function turnEvents(): SessionEvent[] {
  const inits: EventInit[] = [
    { turnId: "trn_other", payload: { case: "statusChanged", value: {} } },
    { turnId: TURN, payload: { case: "turnStarted", value: { turn: { id: TURN } } } },
    {
      turnId: TURN,
      payload: {
        case: "blockStarted",
        value: {
          block: {
            id: "b1",
            turnId: TURN,
            content: { case: "assistantText", value: { text: "" } },
          },
        },
      },
    },
    {
      turnId: TURN,
      payload: {
        case: "blockDelta",
        value: { blockId: "b1", delta: { case: "text", value: "Hel" } },
      },
    },
    {
      turnId: TURN,
      payload: {
        case: "blockDelta",
        value: { blockId: "b1", delta: { case: "text", value: "lo" } },
      },
    },
    {
      turnId: TURN,
      payload: {
        case: "blockStarted",
        value: {
          block: {
            id: "b2",
            turnId: TURN,
            content: {
              case: "toolUse",
              value: { toolUseId: "t1", toolName: "Bash", status: ToolStatus.PENDING },
            },
          },
        },
      },
    },
    {
      turnId: TURN,
      payload: {
        case: "blockDelta",
        value: { blockId: "b2", delta: { case: "inputJson", value: '{"command":' } },
      },
    },
    {
      turnId: TURN,
      payload: {
        case: "blockDelta",
        value: { blockId: "b2", delta: { case: "inputJson", value: '"ls"}' } },
      },
    },
    {
      turnId: TURN,
      payload: { case: "toolCallWaiting", value: { call: { toolUseId: "t1", toolName: "Bash" } } },
    },
    {
      turnId: TURN,
      payload: { case: "toolCallAnswered", value: { decision: { toolUseId: "t1" } } },
    },
    {
      turnId: TURN,
      payload: {
        case: "blockStarted",
        value: {
          block: {
            id: "b3",
            turnId: TURN,
            content: { case: "toolResult", value: { toolUseId: "t1" } },
          },
        },
      },
    },
    {
      turnId: TURN,
      payload: {
        case: "blockDelta",
        value: { blockId: "b3", delta: { case: "output", value: "a.txt\n" } },
      },
    },
    {
      turnId: TURN,
      subagentId: "sub_1",
      payload: {
        case: "turnCompleted",
        value: { turn: { id: TURN, outcome: TurnOutcome.COMPLETED } },
      },
    },
    {
      turnId: TURN,
      payload: {
        case: "blockUpdated",
        value: {
          block: {
            id: "b2",
            turnId: TURN,
            content: {
              case: "toolUse",
              value: {
                toolUseId: "t1",
                toolName: "Bash",
                inputJson: '{"command":"ls"}',
                status: ToolStatus.SUCCEEDED,
              },
            },
          },
        },
      },
    },
    {
      turnId: TURN,
      payload: {
        case: "turnCompleted",
        value: { turn: { id: TURN, outcome: TurnOutcome.FAILED }, reason: "because" },
      },
    },
    { turnId: "", payload: { case: "statusChanged", value: {} } },
  ];
  return inits.map((init, i) =>
    create(SessionEventSchema, { ...init, sessionId: "s", sequence: BigInt(i + 1) }),
  );
}

/**
 * A fake server: connection n serves the events after the requested sequence, shaped by
 * `script[n]` (stop after `count` events then fail with `error`, or skip/duplicate one).
 */
function fakeClient(
  script: Array<{ count?: number; error?: Code; skip?: number; repeatFirst?: boolean }>,
) {
  const events = turnEvents();
  const requests: number[] = [];
  const transport = createRouterTransport(({ service }) => {
    service(SessionService, {
      getSession: () => ({ session: create(SessionSchema, { id: "s", lastSequence: 1n }) }),
      sendMessage: () => ({ turnId: TURN }),
      async *streamEvents(req) {
        const shape = script[requests.length] ?? {};
        requests.push(Number(req.afterSequence));
        let after = events.filter((e) => e.sequence > req.afterSequence);
        if (shape.repeatFirst && req.afterSequence > 0n)
          after = [events[Number(req.afterSequence) - 1]!, ...after];
        if (shape.skip !== undefined)
          after = after.filter((e) => Number(e.sequence) !== shape.skip);
        for (const [i, event] of after.entries()) {
          if (shape.count !== undefined && i === shape.count) break;
          yield { event };
        }
        if (shape.error !== undefined) throw new ConnectError("scripted", shape.error);
        if (shape.count !== undefined) throw new ConnectError("connection reset", Code.Unavailable);
        await new Promise(() => {}); // then stays open, as a live feed does
      },
    });
  });
  return { client: new AgentRuntimeClient(transport), requests, events };
}

const fast = { initialDelayMs: 1, maxDelayMs: 2 };

describe("runTurn over a scripted feed", () => {
  it("resumes after drops, drops duplicates, refills a gap, and ends at the turn's own end", async () => {
    const { client, requests } = fakeClient([{ count: 3 }, { repeatFirst: true, skip: 8 }, {}]);
    const turn = client.runTurn("s", "hi", { retry: fast });
    const seen: number[] = [];
    for await (const event of turn) seen.push(Number(event.sequence));
    expect(requests).toEqual([1, 4, 7]);
    // Events 2..15 of the turn: not the other turn's (1), not the one after its end (16).
    expect(seen).toEqual(Array.from({ length: 14 }, (_, i) => i + 2));
    expect(turn.outcome).toBe(TurnOutcome.FAILED);
    expect(turn.reason).toBe("because");
  });

  it("has done() wait for the loop that iterates it", async () => {
    const { client } = fakeClient([{}]);
    const turn = client.runTurn("s", "hi", { retry: fast });
    const seen: number[] = [];
    const loop = (async () => {
      for await (const event of turn) seen.push(Number(event.sequence));
    })();
    await turn.done();
    expect(seen.length).toBe(14);
    expect(turn.outcome).toBe(TurnOutcome.FAILED);
    await loop;
  });

  it("throws what retrying cannot fix at once, typed", async () => {
    const { client, requests } = fakeClient([{ count: 0, error: Code.PermissionDenied }]);
    const err = await client
      .runTurn("s", "hi", { retry: fast })
      .done()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentRuntimeError);
    expect(err).toMatchObject({ code: "PERMISSION_DENIED" });
    expect(requests).toEqual([1]);
  });

  it("gives up after maxAttempts failures in a row", async () => {
    const { client, requests } = fakeClient(Array(10).fill({ count: 0 }));
    const err = await client
      .runTurn("s", "hi", { retry: { ...fast, maxAttempts: 3 } })
      .done()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "UNAVAILABLE" });
    expect(requests).toEqual([1, 1, 1, 1]);
  });
});

describe("Conversation", () => {
  it("folds deltas, updates and answers into whole blocks, once per event", () => {
    const events = turnEvents();
    const conversation = new Conversation();
    let pendingMidway = 0;
    for (const event of events) {
      conversation.apply(event);
      if (event.payload.case === "toolCallWaiting")
        pendingMidway = conversation.pendingToolCalls.size;
    }
    expect(conversation.applyAll(events).lastSequence).toBe(16); // a replay changes nothing
    expect(pendingMidway).toBe(1);
    expect(conversation.pendingToolCalls.size).toBe(0);
    expect(conversation.finalText).toBe("Hello");
    expect(conversation.toolCalls).toEqual([
      expect.objectContaining({
        name: "Bash",
        input: { command: "ls" },
        status: ToolStatus.SUCCEEDED,
        result: { output: "a.txt\n", isError: false },
      }),
    ]);
    expect(conversation.transcript()).toBe('assistant: Hello\ntool Bash {"command":"ls"} -> a.txt');
    expect(conversation.turns.get(TURN)?.outcome).toBe(TurnOutcome.FAILED);
  });
});
