// The deploy recipe (deploy/haproxy) end to end: server processes on one MongoDB-wire store
// (FerretDB), HAProxy in front of them on one port, and every kind of client through it: gRPC
// over h2c (connect-node), Connect JSON over HTTP/1.1 (plain fetch) and gRPC-web. A turn of the
// demo profile runs while two feeds follow it; with two replicas, leastconn puts the two feeds
// on different replicas, so one of them is not the session's owner.
// LB_TEST_REPLICAS overrides the replica count (2) for local checks.

import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import {
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionEvent } from "#gen/event_pb.js";
import { TurnOutcome } from "#gen/session_pb.js";
import { SessionService, StreamEventsRequestSchema } from "#gen/session_service_pb.js";
import { type StartedHaproxy, startHaproxy } from "./support/haproxy.js";
import { MONGO_START_TIMEOUT_MS, type MongoServer, startMongo } from "./support/mongo.js";
import { type StartedServer, startServer } from "./support/server.js";

const REPLICAS = Number(process.env.LB_TEST_REPLICAS || 2);

let mongo: MongoServer;
const replicas: StartedServer[] = [];
let lb: StartedHaproxy;
const h2 = new Map<string, Http2SessionManager>();

beforeAll(async () => {
  mongo = await startMongo();
  for (let i = 0; i < REPLICAS; i++) {
    replicas.push(
      await startServer({
        env: {
          MONGODB_URI: mongo.uri,
          MONGODB_DB: mongo.dbName,
          REPLICA_ID: `lb-test-${i + 1}`,
          ANTHROPIC_API_KEY: "",
        },
      }),
    );
  }
  lb = await startHaproxy(replicas.map((r) => r.port));
}, MONGO_START_TIMEOUT_MS);

afterAll(async () => {
  for (const session of h2.values()) session.abort();
  await lb?.stop();
  for (const replica of replicas) await replica.stop();
  await mongo?.stop();
});

/** Connect JSON over HTTP/1.1 (Node's fetch): a unary call through the load balancer. */
async function connectJson<T>(method: string, body: unknown): Promise<T> {
  const res = await fetch(`${lb.url}/agentruntime.v1.${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

function grpcClient() {
  const manager = new Http2SessionManager(lb.url);
  h2.set("grpc", manager);
  return createClient(
    SessionService,
    createGrpcTransport({ baseUrl: lb.url, sessionManager: manager }),
  );
}

function grpcWebClient() {
  return createClient(
    SessionService,
    createGrpcWebTransport({ baseUrl: lb.url, httpVersion: "1.1" }),
  );
}

type Client = ReturnType<typeof grpcClient>;

/** Follows a session's feed from the start until a turn completes (the session has one). */
async function follow(client: Client, sessionId: string): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 20_000);
  try {
    for await (const res of client.streamEvents(
      create(StreamEventsRequestSchema, { sessionId, afterSequence: 0n }),
      { signal: abort.signal },
    )) {
      const e = res.event!;
      events.push(e);
      if (e.payload.case === "turnCompleted" && !e.subagentId) break;
    }
  } catch (err) {
    const got = events.map((e) => `${e.sequence}:${e.payload.case}`).join(" ");
    throw new Error(`feed ended early (${String(err)}); got ${got}`);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return events;
}

describe(`HAProxy in front of ${REPLICAS} replica(s) on one FerretDB`, () => {
  it("serves Connect JSON over HTTP/1.1, gRPC over h2c and gRPC-web through one port", async () => {
    const { profiles } = await connectJson<{ profiles: Array<{ id: string; name: string }> }>(
      "AgentProfileService/ListAgentProfiles",
      {},
    );
    const demo = profiles.find((p) => p.name === "demo");
    expect(demo).toBeDefined();
    const { session } = await connectJson<{ session: { id: string } }>(
      "SessionService/CreateSession",
      { agentProfileId: demo!.id, name: "through the load balancer" },
    );
    // Two feeds from sequence 0 (so they miss nothing whenever they open), then the message.
    const grpc = grpcClient();
    const web = grpcWebClient();
    const viaGrpc = follow(grpc, session.id);
    const viaWeb = follow(web, session.id);
    // Give both streams a moment to reach a replica first, so that leastconn puts them on
    // different replicas (correctness does not depend on it: they replay from 0).
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { turnId } = await connectJson<{ turnId: string }>("SessionService/SendMessage", {
      sessionId: session.id,
      text: "hello through haproxy",
    });

    const [grpcFeed, webFeed] = await Promise.all([viaGrpc, viaWeb]);
    for (const feed of [grpcFeed, webFeed]) {
      // Every event, in order, with no gap, from the first.
      expect(feed.map((e) => Number(e.sequence))).toEqual(feed.map((_, i) => i + 1));
      expect(feed.filter((e) => e.payload.case === "turnStarted").map((e) => e.turnId)).toEqual([
        turnId,
      ]);
      const last = feed.at(-1)!;
      expect(last.payload.case).toBe("turnCompleted");
      expect(last.turnId).toBe(turnId);
      expect(last.payload.case === "turnCompleted" && last.payload.value.turn?.outcome).toBe(
        TurnOutcome.COMPLETED,
      );
      expect(feed.every((e) => e.sessionId === session.id)).toBe(true);
      expect(feed.some((e) => e.payload.case === "blockDelta")).toBe(true);
    }
    expect(webFeed.map((e) => e.sequence)).toEqual(grpcFeed.map((e) => e.sequence));
    expect(webFeed.map((e) => e.payload.case)).toEqual(grpcFeed.map((e) => e.payload.case));

    // Unary calls over every protocol see the same session. (Its last sequence may still move:
    // the session going idle after the turn is an event too.)
    const viaJson = await connectJson<{ session: { id: string; agentProfileId: string } }>(
      "SessionService/GetSession",
      { sessionId: session.id },
    );
    const viaGrpcUnary = await grpc.getSession({ sessionId: session.id });
    const viaWebUnary = await web.getSession({ sessionId: session.id });
    for (const got of [viaJson.session, viaGrpcUnary.session, viaWebUnary.session]) {
      expect(got).toMatchObject({ id: session.id, agentProfileId: demo!.id });
    }
    const messages = await grpc.listMessages({ sessionId: session.id });
    expect(messages.blocks.length).toBeGreaterThan(1);
  }, 60_000);

  it("answers /healthz through the load balancer", async () => {
    const res = await fetch(`${lb.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "SERVING" });
  });
});
