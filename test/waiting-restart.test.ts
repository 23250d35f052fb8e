// Turns waiting for an answer survive a server killed with SIGKILL: the restarted server shows
// the waiting calls, takes the answer (or the timeout) and completes the turn exactly once.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ToolStatus } from "#gen/block_pb.js";
import type { SessionEvent } from "#gen/event_pb.js";
import { PermissionMode } from "#gen/profile_pb.js";
import { AgentProfileService } from "#gen/profile_service_pb.js";
import { SessionState, ToolDecisionKind, TurnOutcome } from "#gen/session_pb.js";
import { SessionService } from "#gen/session_service_pb.js";
import { readEvents, turnsCompleted } from "./support/agent.js";
import { FakeAnthropic, streamResponse, textResponse } from "./support/fake-anthropic.js";
import { MONGO_START_TIMEOUT_MS, type MongoServer, startMongo } from "./support/mongo.js";
import type { Clients } from "./support/runtime.js";
import { type StartedServer, startServer } from "./support/server.js";

let mongo: MongoServer;
let fake: FakeAnthropic;
let dataDir: string;

beforeAll(async () => {
  mongo = await startMongo();
  fake = new FakeAnthropic();
  await fake.start();
  dataDir = await mkdtemp(join(tmpdir(), "ar-wait-restart-"));
}, MONGO_START_TIMEOUT_MS);

afterAll(async () => {
  await fake?.stop();
  await mongo?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

function server(): Promise<StartedServer> {
  return startServer({
    env: {
      MONGODB_URI: mongo.uri,
      MONGODB_DB: mongo.dbName,
      DATA_DIR: dataDir,
      ANTHROPIC_API_KEY: "test-key",
      ANTHROPIC_BASE_URL: fake.url,
    },
  });
}

function clients(url: string): Clients {
  const transport = createConnectTransport({ baseUrl: url, httpVersion: "2" });
  return {
    profiles: createClient(AgentProfileService, transport),
    sessions: createClient(SessionService, transport),
  } as Clients;
}

const waiting = (events: SessionEvent[]) =>
  events.some((e) => e.payload.case === "toolCallWaiting");

async function waitingSession(c: Clients, permissions: Record<string, unknown>) {
  const profile = await c.profiles.createAgentProfile({
    profile: {
      name: "waits",
      tools: ["Bash", "Write"],
      model: "claude-sonnet-5-5",
      permissions: { mode: PermissionMode.ALLOW, ask: ["Bash"], ...permissions },
    },
  });
  const sessionId = (await c.sessions.createSession({ agentProfileId: profile.profile!.id }))
    .session!.id;
  fake.enqueue(
    streamResponse([
      {
        type: "tool_use",
        id: "toolu_w",
        name: "Write",
        input: { file_path: "/workspace/note.txt", content: "from before the crash\n" },
      },
      { type: "tool_use", id: "toolu_b", name: "Bash", input: { command: "cat note.txt" } },
    ]),
    textResponse("all done"),
  );
  const sent = await c.sessions.sendMessage({ sessionId, text: "go" });
  await readEvents(c, sessionId, waiting);
  return { sessionId, turnId: sent.turnId };
}

function checkCompletedOnce(events: SessionEvent[], turnId: string) {
  expect(events.map((e) => Number(e.sequence))).toEqual(events.map((_, i) => i + 1));
  const ends = events.filter((e) => e.payload.case === "turnCompleted");
  expect(ends).toHaveLength(1);
  expect(ends[0]!.turnId).toBe(turnId);
  expect((ends[0]!.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome).toBe(
    TurnOutcome.COMPLETED,
  );
  const started = new Set(
    events.flatMap((e) => (e.payload.case === "blockStarted" ? [e.payload.value.block!.id] : [])),
  );
  const completed = new Set(
    events.flatMap((e) => (e.payload.case === "blockCompleted" ? [e.payload.value.block!.id] : [])),
  );
  expect(completed).toEqual(started);
}

describe("a waiting turn across a server crash", () => {
  it("is left waiting by recovery, answered after the restart, and completes once", async () => {
    let s = await server();
    let c = clients(s.url);
    const { sessionId, turnId } = await waitingSession(c, {});
    await s.crash();

    s = await server();
    c = clients(s.url);
    try {
      // Recovery left it alone: still waiting, the call still pending, nothing interrupted.
      await new Promise((r) => setTimeout(r, 500));
      const got = (await c.sessions.getSession({ sessionId })).session!;
      expect(got.state).toBe(SessionState.WAITING);
      expect(got.runtime?.pendingToolCalls.map((p) => p.toolUseId)).toEqual(["toolu_b"]);
      const before = fake.requests.length;
      const answer = await c.sessions.answerToolCall({
        sessionId,
        toolUseId: "toolu_b",
        answer: {
          case: "approval",
          value: { allow: true, message: "", updatedInputJson: "", alwaysAllowRule: "" },
        },
      });
      expect(answer.decision?.kind).toBe(ToolDecisionKind.ALLOW);
      const events = await readEvents(c, sessionId, turnsCompleted(1));
      checkCompletedOnce(events, turnId);
      expect(fake.requests.length).toBe(before + 1);
      const results = (fake.requests.at(-1)!.body.messages ?? []).flatMap((m) =>
        Array.isArray(m.content)
          ? m.content.filter((x: { type: string }) => x.type === "tool_result")
          : [],
      ) as Array<{ tool_use_id: string; content: string }>;
      expect(results.find((r) => r.tool_use_id === "toolu_b")!.content).toContain(
        "from before the crash",
      );
      const blocks = (await c.sessions.listMessages({ sessionId })).blocks;
      const bashUse = blocks.find(
        (b) => b.content.case === "toolUse" && b.content.value.toolUseId === "toolu_b",
      )!;
      expect((bashUse.content.value as { status: ToolStatus }).status).toBe(ToolStatus.SUCCEEDED);
      const decisions = await c.sessions.listToolDecisions({ sessionId });
      expect(decisions.decisions.map((d) => d.toolUseId)).toEqual(["toolu_b"]);
    } finally {
      await s.stop();
    }
  }, 60_000);

  it("re-arms the timeout at start: the profile's answer comes after the restart", async () => {
    let s = await server();
    let c = clients(s.url);
    const { sessionId, turnId } = await waitingSession(c, {
      approvalTimeoutSeconds: 3n,
      allowOnTimeout: true,
    });
    await s.crash();
    s = await server();
    c = clients(s.url);
    try {
      const events = await readEvents(c, sessionId, turnsCompleted(1), 0n, 30_000);
      checkCompletedOnce(events, turnId);
      const answered = events.find((e) => e.payload.case === "toolCallAnswered")!;
      expect(answered.payload.value).toMatchObject({
        decision: { kind: ToolDecisionKind.ALLOW, decidedBy: "timeout" },
      });
    } finally {
      await s.stop();
    }
  }, 60_000);

  it("completes at start an answer a crash left out of the decision log", async () => {
    let s = await server();
    let c = clients(s.url);
    const { sessionId } = await waitingSession(c, {});
    await s.crash();
    // As a crash between taking an answer (the record write) and appending it leaves it.
    const mongoClient = await MongoClient.connect(mongo.uri);
    const db = mongoClient.db(mongo.dbName);
    const decideTime = new Date();
    try {
      await db.collection<{ _id: string }>("ar_sessions").updateOne(
        { _id: sessionId },
        {
          $set: {
            unloggedDecisions: [
              {
                toolUseId: "toolu_gone",
                turnId: "turn_x",
                toolName: "Bash",
                kind: "deny",
                message: "no",
                updatedInputJson: "",
                alwaysAllowRule: "",
                output: "",
                isError: false,
                decidedBy: "key:ops",
                decideTime,
              },
            ],
          },
        },
      );
      s = await server();
      c = clients(s.url);
      // Start appends it by itself: no call on the session is needed.
      let logged: unknown[] = [];
      for (let i = 0; i < 200 && logged.length === 0; i++) {
        logged = await db.collection("ar_tool_decisions").find({ sessionId }).toArray();
        if (logged.length === 0) await new Promise((r) => setTimeout(r, 50));
      }
      expect(logged).toHaveLength(1);
      for (let i = 0; i < 100; i++) {
        const doc = await db.collection<{ _id: string }>("ar_sessions").findOne({ _id: sessionId });
        if (doc && !("unloggedDecisions" in doc)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const doc = await db.collection<{ _id: string }>("ar_sessions").findOne({ _id: sessionId });
      expect(doc).not.toHaveProperty("unloggedDecisions");
      await c.sessions.answerToolCall({
        sessionId,
        toolUseId: "toolu_b",
        answer: {
          case: "approval",
          value: { allow: true, message: "", updatedInputJson: "", alwaysAllowRule: "" },
        },
      });
      await readEvents(c, sessionId, turnsCompleted(1));
      const decisions = await c.sessions.listToolDecisions({ sessionId });
      expect(decisions.decisions.map((d) => [d.toolUseId, d.decidedBy])).toEqual([
        ["toolu_gone", "key:ops"],
        ["toolu_b", expect.any(String)],
      ]);
    } finally {
      await mongoClient.close();
      await s.stop();
    }
  }, 60_000);
});
