// Webhooks end to end: a local receiver checks the Standard Webhooks signature, failed attempts
// are retried and recorded, deliveries never hold up a turn, and the API is tenant-scoped.

import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { WebhookDeliveryStatus, WebhookEventType } from "#gen/webhook_service_pb.js";
import { MemoryPersistence } from "../src/adapters/memory/persistence.js";
import { MemoryWebhooks } from "../src/adapters/memory/webhooks.js";
import { payloadOf, triggerOf } from "../src/app/webhooks/triggers.js";
import { type EventPayload, emptyUsage, type SessionEvent } from "../src/domain/types.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { textResponse } from "./support/fake-anthropic.js";
import { inProcessRuntime } from "./support/runtime.js";

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
}

/** A webhook endpoint on a free port: `answer` decides each request's response. */
class Receiver {
  readonly received: Received[] = [];
  private server: Server | undefined;
  private waiters: Array<() => void> = [];
  answer: (n: number, res: ServerResponse) => void = (_n, res) => res.writeHead(204).end();
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        this.answer(this.received.length, res);
        for (const w of this.waiters.splice(0)) w();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/hook`;
  }

  /** Resolves once `done` holds for what was received. */
  async until(done: (r: Received[]) => boolean, timeoutMs = 10_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.received)) {
      if (Date.now() > deadline)
        throw new Error(`timed out; received ${this.received.map((r) => r.body).join("\n")}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
    return this.received;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** The Standard Webhooks check, written from the spec (not the server's code). */
function verify(secret: string, r: Received): boolean {
  const id = String(r.headers["webhook-id"]);
  const ts = String(r.headers["webhook-timestamp"]);
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${ts}.${r.body}`).digest("base64");
  const given = String(r.headers["webhook-signature"]).split(" ");
  return given.includes(`v1,${expected}`);
}

const typeOf = (r: Received) => (JSON.parse(r.body) as { type: string }).type;

let h: AgentHarness | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await h?.close();
  await receiver?.stop();
  h = undefined;
  receiver = undefined;
});

describe("webhooks", () => {
  it("sends signed turn.completed and session.idle with ids and the event's sequence", async () => {
    receiver = new Receiver();
    await receiver.start();
    h = await agentHarness();
    const created = await h.client.webhooks.createWebhook({
      url: receiver.url,
      eventTypes: [WebhookEventType.TURN_COMPLETED, WebhookEventType.SESSION_IDLE],
      description: "test receiver",
    });
    const secret = created.secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const listed = await h.client.webhooks.listWebhooks({});
    expect(listed.webhooks.map((w) => w.id)).toEqual([created.webhook!.id]);
    const shown = JSON.stringify(listed.webhooks, (_k, v) =>
      typeof v === "bigint" ? String(v) : v,
    );
    expect(shown).not.toContain(secret.slice(6));

    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("hello"));
    const sent = await h.client.sessions.sendMessage({ sessionId, text: "hi" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const completed = events.find((e) => e.payload.case === "turnCompleted")!;

    const got = await receiver.until((r) => r.length >= 2);
    expect(got.map(typeOf).sort()).toEqual(["session.idle", "turn.completed"]);
    for (const r of got) {
      expect(verify(secret, r)).toBe(true);
      expect(verify(`whsec_${Buffer.alloc(32, 1).toString("base64")}`, r)).toBe(false);
      expect(r.headers["webhook-id"]).toMatch(/^whd_/);
      expect(Math.abs(Number(r.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(
        300,
      );
    }
    const turnHook = JSON.parse(got.find((r) => typeOf(r) === "turn.completed")!.body);
    expect(turnHook.data).toMatchObject({
      session_id: sessionId,
      turn_id: sent.turnId,
      sequence: Number(completed.sequence),
      outcome: "completed",
    });
    expect(Date.parse(turnHook.timestamp)).not.toBeNaN();

    // Each delivery and its result are readable through the API.
    const { deliveries } = await h.client.webhooks.listWebhookDeliveries({
      webhookId: created.webhook!.id,
    });
    await receiver.until(() => true);
    expect(deliveries.length).toBe(2);
    const d = deliveries.find((x) => x.eventType === WebhookEventType.TURN_COMPLETED)!;
    expect(d.sessionId).toBe(sessionId);
    expect(d.turnId).toBe(sent.turnId);
    expect(d.sequence).toBe(completed.sequence);
  });

  it("retries failed attempts with backoff and records each result", async () => {
    receiver = new Receiver();
    await receiver.start();
    // Two failures (a 500, then a dropped connection), then success.
    receiver.answer = (n, res) => {
      if (n === 1) res.writeHead(500).end("down for maintenance");
      else if (n === 2) res.socket?.destroy();
      else res.writeHead(200).end("ok");
    };
    h = await agentHarness({ webhookRetryDelaysMs: [20, 40] });
    const created = await h.client.webhooks.createWebhook({
      url: receiver.url,
      eventTypes: [WebhookEventType.TURN_COMPLETED],
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("hello"));
    await h.client.sessions.sendMessage({ sessionId, text: "hi" });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    const got = await receiver.until((r) => r.length >= 3);
    // The same message each time: one id, one body, each attempt signed.
    expect(new Set(got.map((r) => r.headers["webhook-id"])).size).toBe(1);
    expect(new Set(got.map((r) => r.body)).size).toBe(1);
    for (const r of got) expect(verify(created.secret, r)).toBe(true);

    const webhookId = created.webhook!.id;
    let delivery = (await h.client.webhooks.listWebhookDeliveries({ webhookId })).deliveries[0];
    for (let i = 0; i < 50 && delivery?.status !== WebhookDeliveryStatus.DELIVERED; i++) {
      await new Promise((r) => setTimeout(r, 50));
      delivery = (await h.client.webhooks.listWebhookDeliveries({ webhookId })).deliveries[0];
    }
    expect(delivery).toMatchObject({
      status: WebhookDeliveryStatus.DELIVERED,
      attempts: 3,
      lastStatusCode: 200,
      lastError: "",
    });
    expect(delivery?.id).toBe(got[0]!.headers["webhook-id"]);
  });

  it("goes on with stored deliveries after a restart", async () => {
    receiver = new Receiver();
    await receiver.start();
    let down = true;
    receiver.answer = (_n, res) => res.writeHead(down ? 502 : 204).end();
    const persistence = new MemoryPersistence();
    const webhookStore = new MemoryWebhooks();
    h = await agentHarness({ persistence, webhookStore, webhookRetryDelaysMs: [200] });
    const created = await h.client.webhooks.createWebhook({
      url: receiver.url,
      eventTypes: [WebhookEventType.TURN_COMPLETED],
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("hello"));
    await h.client.sessions.sendMessage({ sessionId, text: "hi" });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    await receiver.until((r) => r.length >= 1);
    const webhookId = created.webhook!.id;
    let [pending] = await webhookStore.listDeliveries(webhookId, undefined, 1);
    for (let i = 0; i < 50 && pending?.attempts !== 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
      [pending] = await webhookStore.listDeliveries(webhookId, undefined, 1);
    }
    await h.close();
    h = undefined;
    expect(pending).toMatchObject({ status: "pending", attempts: 1, lastStatusCode: 502 });

    // A new server on the same stores sends it once it is due.
    down = false;
    await new Promise((r) => setTimeout(r, 250));
    const again = await inProcessRuntime({ persistence, webhookStore });
    try {
      const got = await receiver.until((r) => r.length >= 2);
      expect(got[1]!.headers["webhook-id"]).toBe(pending!.id);
      expect(verify(created.secret, got[1]!)).toBe(true);
    } finally {
      await again.runtime.shutdown();
    }
  });

  it("gives up after the retry window and says why", async () => {
    receiver = new Receiver();
    await receiver.start();
    receiver.answer = (_n, res) => res.writeHead(503).end("no");
    h = await agentHarness({ webhookRetryDelaysMs: [10], webhookRetryWindowMs: 100 });
    const created = await h.client.webhooks.createWebhook({
      url: receiver.url,
      eventTypes: [WebhookEventType.TURN_COMPLETED],
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("hello"));
    await h.client.sessions.sendMessage({ sessionId, text: "hi" });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    const webhookId = created.webhook!.id;
    let delivery = (await h.client.webhooks.listWebhookDeliveries({ webhookId })).deliveries[0];
    for (let i = 0; i < 100 && delivery?.status !== WebhookDeliveryStatus.FAILED; i++) {
      await new Promise((r) => setTimeout(r, 50));
      delivery = (await h.client.webhooks.listWebhookDeliveries({ webhookId })).deliveries[0];
    }
    expect(delivery?.status).toBe(WebhookDeliveryStatus.FAILED);
    expect(delivery?.attempts).toBeGreaterThan(1);
    expect(delivery?.lastStatusCode).toBe(503);
    expect(delivery?.lastError).toContain("503");
    expect(delivery?.nextAttemptTime).toBeUndefined();
  });

  it("never holds up a turn: turns complete while the endpoint does not answer", async () => {
    receiver = new Receiver();
    await receiver.start();
    const held: ServerResponse[] = [];
    receiver.answer = (_n, res) => void held.push(res);
    h = await agentHarness();
    await h.client.webhooks.createWebhook({
      url: receiver.url,
      eventTypes: [WebhookEventType.TURN_COMPLETED, WebhookEventType.SESSION_IDLE],
    });
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("one"), textResponse("two"));
    await h.client.sessions.sendMessage({ sessionId, text: "first" });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    // The first turn's webhooks reached the endpoint, which holds them unanswered...
    await receiver.until((r) => r.length >= 2);
    // ...while the next turn runs and completes.
    await h.client.sessions.sendMessage({ sessionId, text: "second" });
    await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(held.length).toBeGreaterThanOrEqual(2);
    expect(held.every((res) => !res.writableEnded)).toBe(true);
    for (const res of held) res.writeHead(204).end();
  });

  it("validates input and keeps endpoints to their tenant", async () => {
    const { runtime, clients } = await inProcessRuntime({
      apiKeys: { "key-a": "tenant-a", "key-b": "tenant-b" },
      webhookStore: new MemoryWebhooks(),
      persistence: new MemoryPersistence(),
    });
    try {
      const a = clients("key-a").webhooks;
      const b = clients("key-b").webhooks;
      const bad = async (req: Parameters<typeof a.createWebhook>[0], field: string) => {
        const err = await a.createWebhook(req).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ConnectError);
        expect((err as ConnectError).code).toBe(Code.InvalidArgument);
        expect((err as ConnectError).rawMessage).toContain(field);
      };
      const types = [WebhookEventType.TURN_FAILED];
      await bad({ url: "", eventTypes: types }, "url");
      await bad({ url: "not a url", eventTypes: types }, "url");
      await bad({ url: "ftp://example.com/x", eventTypes: types }, "url");
      await bad({ url: `https://example.com/${"x".repeat(2_100)}`, eventTypes: types }, "url");
      await bad({ url: "https://example.com/x", eventTypes: [] }, "event_types");
      await bad(
        { url: "https://example.com/x", eventTypes: [WebhookEventType.UNSPECIFIED] },
        "event_types",
      );
      await bad({ url: "https://example.com/x", eventTypes: types, secret: "plain" }, "secret");
      await bad(
        { url: "https://example.com/x", eventTypes: types, secret: "whsec_c2hvcnQ=" },
        "secret",
      );

      const mine = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
      const created = await a.createWebhook({
        url: "https://example.com/x",
        eventTypes: types,
        secret: mine,
      });
      expect(created.secret).toBe(mine);
      const id = created.webhook!.id;
      expect((await b.listWebhooks({})).webhooks).toEqual([]);
      const other = await b.listWebhookDeliveries({ webhookId: id }).catch((e: unknown) => e);
      expect((other as ConnectError).code).toBe(Code.NotFound);
      const gone = await b.deleteWebhook({ webhookId: id }).catch((e: unknown) => e);
      expect((gone as ConnectError).code).toBe(Code.NotFound);
      const badId = await a.deleteWebhook({ webhookId: "nope" }).catch((e: unknown) => e);
      expect((badId as ConnectError).code).toBe(Code.InvalidArgument);
      await a.deleteWebhook({ webhookId: id });
      expect((await a.listWebhooks({})).webhooks).toEqual([]);

      for (let i = 0; i < 20; i++)
        await a.createWebhook({ url: `https://example.com/${i}`, eventTypes: types });
      const full = await a
        .createWebhook({ url: "https://example.com/21", eventTypes: types })
        .catch((e: unknown) => e);
      expect((full as ConnectError).code).toBe(Code.ResourceExhausted);
    } finally {
      await runtime.shutdown();
    }
  });
});

describe("webhook triggers", () => {
  const time = new Date(Date.UTC(2026, 10, 1));
  const event = (payload: EventPayload, turnId?: string): SessionEvent => ({
    sessionId: "ses_x",
    sequence: 7,
    time,
    ...(turnId ? { turnId } : {}),
    payload,
  });
  const turn = (outcome: "completed" | "failed" | "cancelled") => ({
    id: "trn_1",
    userBlockId: "blk_1",
    startTime: time,
    usage: emptyUsage(),
    outcome,
  });

  it("maps each stored event that needs the application to its type and data", () => {
    const done = triggerOf(
      event({ type: "turn_completed", turn: turn("completed"), reason: "" }, "trn_1"),
    );
    expect(done).toEqual({
      type: "turn.completed",
      data: {
        session_id: "ses_x",
        sequence: 7,
        turn_id: "trn_1",
        outcome: "completed",
        reason: "",
      },
    });
    const cancelled = triggerOf(
      event({ type: "turn_completed", turn: turn("cancelled"), reason: "by the user" }),
    );
    expect(cancelled?.type).toBe("turn.completed");
    const failed = triggerOf(
      event({ type: "turn_completed", turn: turn("failed"), reason: "x".repeat(900) }, "trn_1"),
    );
    expect(failed?.type).toBe("turn.failed");
    expect(String(failed?.data.reason).length).toBe(500);

    const waiting = triggerOf(
      event(
        {
          type: "tool_call_waiting",
          call: {
            toolUseId: "toolu_9",
            turnId: "trn_1",
            toolName: "Bash",
            inputJson: "{}",
            kind: "approval",
            matchedRule: "Bash",
            requestTime: time,
          },
        },
        "trn_1",
      ),
    );
    expect(waiting).toEqual({
      type: "approval.requested",
      data: {
        session_id: "ses_x",
        sequence: 7,
        turn_id: "trn_1",
        tool_use_id: "toolu_9",
        tool_name: "Bash",
        kind: "approval",
      },
    });

    const idle = {
      type: "status_changed",
      state: "idle",
      sandboxStatus: "ready",
      message: "",
    } as const;
    expect(triggerOf(event(idle, "trn_1"))?.type).toBe("session.idle");
    // A sandbox stop outside a turn is no new idleness; RUNNING is not idle.
    expect(triggerOf(event({ ...idle, sandboxStatus: "terminated" }))).toBeUndefined();
    expect(triggerOf(event({ ...idle, state: "running" }, "trn_1"))).toBeUndefined();

    const budget = triggerOf(
      event(
        {
          type: "budget_exceeded",
          scope: "session",
          limit: "max_cost_usd",
          limitValue: 1,
          used: emptyUsage(),
        },
        "trn_1",
      ),
    );
    expect(budget).toEqual({
      type: "budget.reached",
      data: {
        session_id: "ses_x",
        sequence: 7,
        turn_id: "trn_1",
        scope: "session",
        limit: "max_cost_usd",
      },
    });
    expect(triggerOf(event({ type: "file_deleted", path: "a" }))).toBeUndefined();

    expect(JSON.parse(payloadOf(done!, event({ type: "file_deleted", path: "a" })))).toEqual({
      type: "turn.completed",
      timestamp: time.toISOString(),
      data: done!.data,
    });
  });
});
