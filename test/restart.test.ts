import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ToolStatus } from "#gen/block_pb.js";
import { AgentProfileService } from "#gen/profile_service_pb.js";
import { SessionState, TurnOutcome } from "#gen/session_pb.js";
import { SendPolicy, SessionService } from "#gen/session_service_pb.js";
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
  dataDir = await mkdtemp(join(tmpdir(), "ar-restart-"));
}, MONGO_START_TIMEOUT_MS);

afterAll(async () => {
  await fake?.stop();
  await mongo?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

function server(env: Record<string, string> = {}): Promise<StartedServer> {
  return startServer({
    env: {
      ...env,
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

describe("a server restart", () => {
  it("marks a turn that ran at a crash as interrupted and continues the conversation", async () => {
    let s = await server();
    let c = clients(s.url);
    const profile = await c.profiles.createAgentProfile({
      profile: { name: "restart", tools: ["Bash"], model: "claude-sonnet-5-5" },
    });

    const sessionId = (await c.sessions.createSession({ agentProfileId: profile.profile!.id }))
      .session!.id;
    fake.enqueue(
      textResponse("first answer"),
      streamResponse(
        [
          { type: "text", text: "working on it" },
          { type: "tool_use", id: "t1", name: "Bash", input: { command: "sleep 30" } },
        ],
        { stallAfterEvents: 8 },
      ),
    );
    await c.sessions.sendMessage({ sessionId, text: "one" });
    await readEvents(c, sessionId, turnsCompleted(1));
    const second = await c.sessions.sendMessage({ sessionId, text: "two" });
    // Crash once the tool call has started streaming (the model then stalls).
    await readEvents(c, sessionId, (ev) =>
      ev.some(
        (e) =>
          e.turnId === second.turnId &&
          e.payload.case === "blockStarted" &&
          e.payload.value.block?.content.case === "toolUse",
      ),
    );
    await s.crash();

    s = await server();
    c = clients(s.url);
    // Everything replays from storage, and the interrupted turn is closed.
    const events = await readEvents(c, sessionId, turnsCompleted(2));
    expect(events.map((e) => Number(e.sequence))).toEqual(events.map((_, i) => i + 1));
    const ends = events
      .filter((e) => e.payload.case === "turnCompleted")
      .map((e) => e.payload.value as { turn: { id: string; outcome: TurnOutcome } });
    expect(ends[1]!.turn).toMatchObject({ id: second.turnId, outcome: TurnOutcome.INTERRUPTED });
    const started = new Set(
      events.flatMap((e) => (e.payload.case === "blockStarted" ? [e.payload.value.block!.id] : [])),
    );
    const completed = new Set(
      events.flatMap((e) =>
        e.payload.case === "blockCompleted" ? [e.payload.value.block!.id] : [],
      ),
    );
    expect(completed).toEqual(started);
    const blocks = (await c.sessions.listMessages({ sessionId })).blocks;
    expect(blocks.map((b) => b.content.case)).toEqual([
      "userMessage",
      "assistantText",
      "userMessage",
      "assistantText",
      "toolUse",
      "system",
    ]);
    expect((blocks[3]!.content.value as { text: string }).text).toBe("working on it");
    expect((blocks[4]!.content.value as { status: ToolStatus }).status).toBe(ToolStatus.CANCELLED);

    // The conversation goes on with its whole history.
    fake.enqueue(textResponse("third answer"));
    const before = fake.requests.length;
    await c.sessions.sendMessage({ sessionId, text: "three" });
    await readEvents(c, sessionId, turnsCompleted(3));
    const sent = JSON.stringify(fake.requests[before]!.body.messages);
    for (const text of ["one", "first answer", "two", "working on it", "interrupted", "three"]) {
      expect(sent).toContain(text);
    }
    const roles = fake.requests[before]!.body.messages!.map((m) => m.role);
    expect(roles.every((r, i) => i === 0 || r !== roles[i - 1])).toBe(true);
    expect(await s.stop()).toBe(0);
  });

  it("interrupts a running turn at SIGTERM, saves it, and exits 0", async () => {
    let s = await server();
    let c = clients(s.url);
    const profile = await c.profiles.createAgentProfile({ profile: { name: "term", tools: [] } });
    const sessionId = (await c.sessions.createSession({ agentProfileId: profile.profile!.id }))
      .session!.id;
    fake.enqueue(
      streamResponse([{ type: "text", text: "a long answer that never ends" }], {
        stallAfterEvents: 4,
      }),
    );
    const turn = await c.sessions.sendMessage({ sessionId, text: "go" });
    const live = readEvents(c, sessionId, turnsCompleted(1));
    await readEvents(c, sessionId, (ev) => ev.some((e) => e.payload.case === "blockDelta"));
    expect(await s.stop()).toBe(0);
    // The open stream ended cleanly with the turn's end.
    const seen = await live;
    expect(
      (seen.at(-1)!.payload.value as { turn: { id: string; outcome: TurnOutcome } }).turn,
    ).toMatchObject({ id: turn.turnId, outcome: TurnOutcome.INTERRUPTED });
    s = await server();
    c = clients(s.url);
    const replay = await readEvents(c, sessionId, turnsCompleted(1));
    expect(replay.map((e) => e.sequence)).toEqual(seen.map((e) => e.sequence));
    const { session } = await c.sessions.getSession({ sessionId });
    expect(session?.runtime?.currentTurn).toBeUndefined();
    expect(await s.stop()).toBe(0);
  });

  it("keeps a steered message the crashed turn never took: it runs as a turn of its own", async () => {
    let s = await server();
    let c = clients(s.url);
    const profile = await c.profiles.createAgentProfile({ profile: { name: "steer", tools: [] } });
    const sessionId = (await c.sessions.createSession({ agentProfileId: profile.profile!.id }))
      .session!.id;
    fake.enqueue(
      streamResponse([{ type: "text", text: "a long answer that never ends" }], {
        stallAfterEvents: 4,
      }),
    );
    const first = await c.sessions.sendMessage({ sessionId, text: "go" });
    await readEvents(c, sessionId, (ev) => ev.some((e) => e.payload.case === "blockDelta"));
    const steer = await c.sessions.sendMessage({
      sessionId,
      text: "steered before the crash",
      policy: SendPolicy.STEER,
    });
    expect(steer).toMatchObject({ turnId: first.turnId, steered: true });
    await s.crash();

    fake.enqueue(textResponse("answered after the restart"));
    const before = fake.requests.length;
    s = await server();
    c = clients(s.url);
    const events = await readEvents(c, sessionId, turnsCompleted(2));
    const ends = events
      .filter((e) => e.payload.case === "turnCompleted")
      .map((e) => e.payload.value as { turn: { id: string; outcome: TurnOutcome } });
    expect(ends.map((e) => e.turn.outcome)).toEqual([
      TurnOutcome.INTERRUPTED,
      TurnOutcome.COMPLETED,
    ]);
    const users = events.flatMap((e) =>
      e.payload.case === "blockCompleted" && e.payload.value.block!.content.case === "userMessage"
        ? [[e.turnId, e.payload.value.block!.content.value.text]]
        : [],
    );
    expect(users).toEqual([
      [first.turnId, "go"],
      [ends[1]!.turn.id, "steered before the crash"],
    ]);
    expect(fake.requests.length).toBe(before + 1);
    expect(JSON.stringify(fake.requests[before]!.body.messages)).toContain(
      "steered before the crash",
    );
    expect(await s.stop()).toBe(0);
  });

  it("runs the messages a tenant limit held once a restart raises it", async () => {
    let s = await server({ TENANT_MONTHLY_BUDGET_USD: "0.001" });
    let c = clients(s.url);
    const profile = await c.profiles.createAgentProfile({ profile: { name: "budget", tools: [] } });
    const sessionId = (await c.sessions.createSession({ agentProfileId: profile.profile!.id }))
      .session!.id;
    // claude-sonnet-5-5 at $2 per million input tokens: $0.002, over the limit.
    fake.enqueue(
      textResponse("spent", {
        usage: {
          input_tokens: 1_000,
          output_tokens: 0,
          cache_read_input_tokens: 0,
          cache_creation_input_tokens: 0,
        },
      }),
    );
    await c.sessions.sendMessage({ sessionId, text: "spend" });
    const first = await readEvents(c, sessionId, turnsCompleted(1));
    expect((first.at(-1)!.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome).toBe(
      TurnOutcome.BUDGET_EXCEEDED,
    );
    const held = await c.sessions.sendMessage({ sessionId, text: "held" });
    expect(held.queued).toBe(true);
    for (let i = 0; i < 100; i++) {
      const view = await c.sessions.getSession({ sessionId });
      if (view.session?.state === SessionState.WAITING) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const before = fake.requests.length;
    expect(await s.stop()).toBe(0);

    fake.enqueue(textResponse("ran after the restart"));
    s = await server({ TENANT_MONTHLY_BUDGET_USD: "100" });
    c = clients(s.url);
    const events = await readEvents(c, sessionId, turnsCompleted(2));
    const ends = events
      .filter((e) => e.payload.case === "turnCompleted")
      .map((e) => e.payload.value as { turn: { id: string; outcome: TurnOutcome } });
    expect(ends[1]!.turn).toMatchObject({ id: held.turnId, outcome: TurnOutcome.COMPLETED });
    expect(fake.requests.length).toBe(before + 1);
    expect(await s.stop()).toBe(0);
  });
});
