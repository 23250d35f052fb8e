// Tracing with the real SDK (src/adapters/observe/tracing.ts, configured by OTEL_* variables)
// exporting OTLP/HTTP JSON to an in-process receiver: the span tree of a turn with two tool
// calls, its attributes, a caller's traceparent as the parent, and trace ids in log lines.

import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient, createRouterTransport, type Interceptor } from "@connectrpc/connect";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SessionService } from "#gen/session_service_pb.js";
import { startTracing, type Tracing, tracingWanted } from "../src/adapters/observe/tracing.js";
import { inSpan } from "../src/app/observe/tracing.js";
import { createLogger } from "../src/app/shared/logger.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { streamResponse, textResponse } from "./support/fake-anthropic.js";

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
  arrayValue?: { values: AnyValue[] };
};
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: AnyValue }[];
  links?: { traceId: string; spanId: string }[];
}

/** An OTLP/HTTP receiver: decodes each JSON export request into spans. */
class OtlpReceiver {
  readonly spans: OtlpSpan[] = [];
  readonly contentTypes = new Set<string>();
  private server: Server | undefined;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.contentTypes.add(String(req.headers["content-type"]));
        if (req.url === "/v1/traces") {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
            resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
          };
          for (const rs of body.resourceSpans)
            for (const ss of rs.scopeSpans) this.spans.push(...ss.spans);
        }
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server!.close(() => r()));
  }
}

const attr = (s: OtlpSpan, key: string): unknown => {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  if (v.arrayValue) return v.arrayValue.values.map((x) => x.stringValue ?? x.intValue);
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.stringValue ?? v.boolValue ?? v.doubleValue;
};

let receiver: OtlpReceiver;
let tracing: Tracing;
let h: AgentHarness | undefined;

beforeAll(async () => {
  receiver = new OtlpReceiver();
  await receiver.start();
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_SERVICE_NAME: "agent-runtime-test",
  };
  tracing = startTracing(env)!;
});
afterAll(async () => {
  await tracing?.shutdown();
  await receiver?.stop();
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Flushes until `done` holds for the spans received. */
async function spansUntil(done: (spans: OtlpSpan[]) => boolean): Promise<OtlpSpan[]> {
  for (let i = 0; i < 100; i++) {
    await tracing.flush();
    if (done(receiver.spans)) return receiver.spans;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`spans: ${receiver.spans.map((s) => s.name).join(", ")}`);
}

describe("tracing", () => {
  it("is off unless the OTEL variables name an exporter", () => {
    expect(tracingWanted({})).toBeUndefined();
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://x" })).toBe("otlp");
    expect(tracingWanted({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://x/v1/traces" })).toBe(
      "otlp",
    );
    expect(tracingWanted({ OTEL_TRACES_EXPORTER: "console" })).toBe("console");
    const off = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://x", OTEL_SDK_DISABLED: "true" };
    expect(tracingWanted(off)).toBeUndefined();
    expect(
      tracingWanted({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://x", OTEL_TRACES_EXPORTER: "none" }),
    ).toBeUndefined();
  });

  it("gives a turn with two tool calls its span tree, under the caller's traceparent", async () => {
    h = await agentHarness();
    const traceId = randomBytes(16).toString("hex");
    const callerSpan = randomBytes(8).toString("hex");
    const traceparent: Interceptor = (next) => (req) => {
      req.header.set("traceparent", `00-${traceId}-${callerSpan}-01`);
      return next(req);
    };
    const sessions = createClient(
      SessionService,
      createRouterTransport(h.runtime.routes, {
        router: { interceptors: h.runtime.interceptors },
        transport: { interceptors: [traceparent] },
      }),
    );
    const sessionId = await h.newSession();
    h.fake.enqueue(
      streamResponse(
        [
          { type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "echo one" } },
          { type: "tool_use", id: "toolu_2", name: "Bash", input: { command: "echo two" } },
        ],
        { usage: { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 40 } },
      ),
      textResponse("done", { usage: { input_tokens: 10, output_tokens: 5 } }),
    );
    const sent = await sessions.sendMessage({ sessionId, text: "run both" });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    const all = await spansUntil((spans) =>
      spans.some((s) => s.name === "turn" && s.traceId === traceId),
    );
    const spans = all.filter((s) => s.traceId === traceId);
    const one = (name: string) => {
      const found = spans.filter((s) => s.name === name);
      expect(found.length, name).toBe(1);
      return found[0]!;
    };
    const children = (parent: OtlpSpan, name?: string) =>
      spans.filter((s) => s.parentSpanId === parent.spanId && (!name || s.name === name));

    // The RPC continues the caller's trace; the turn continues the RPC's.
    const rpc = one("agentruntime.v1.SessionService/SendMessage");
    expect(rpc.parentSpanId).toBe(callerSpan);
    expect(rpc.kind).toBe(2); // SERVER
    expect(attr(rpc, "rpc.method")).toBe("SendMessage");
    const turn = one("turn");
    expect(turn.parentSpanId).toBe(rpc.spanId);
    expect(attr(turn, "agentruntime.session.id")).toBe(sessionId);
    expect(attr(turn, "agentruntime.turn.id")).toBe(sent.turnId);
    expect(attr(turn, "agentruntime.turn.outcome")).toBe("completed");
    expect(attr(turn, "gen_ai.usage.input_tokens")).toBe(110);

    // Two model steps with the GenAI conventions.
    const steps = children(turn).filter((s) => s.name === "chat claude-sonnet-5-5");
    expect(steps.length).toBe(2);
    const [first, second] = steps
      .sort(
        (a, b) =>
          Number(attr(a, "gen_ai.usage.output_tokens")) -
          Number(attr(b, "gen_ai.usage.output_tokens")),
      )
      .reverse();
    expect(attr(first!, "gen_ai.request.model")).toBe("claude-sonnet-5-5");
    expect(attr(first!, "gen_ai.operation.name")).toBe("chat");
    expect(attr(first!, "gen_ai.usage.input_tokens")).toBe(100);
    expect(attr(first!, "gen_ai.usage.output_tokens")).toBe(20);
    expect(attr(first!, "gen_ai.usage.cache_read.input_tokens")).toBe(40);
    expect(attr(first!, "gen_ai.response.finish_reasons")).toEqual(["tool_use"]);
    expect(typeof attr(first!, "gen_ai.response.time_to_first_chunk")).toBe("number");
    expect(attr(second!, "gen_ai.response.finish_reasons")).toEqual(["end_turn"]);

    // Each tool call, with the sandbox command it ran.
    const tools = children(turn, "execute_tool Bash");
    expect(tools.map((t) => attr(t, "gen_ai.tool.call.id")).sort()).toEqual(["toolu_1", "toolu_2"]);
    const commands = tools.map((t) => {
      const execs = children(t, "sandbox exec");
      expect(execs.length).toBe(1);
      return attr(execs[0]!, "process.command_line");
    });
    expect(commands.sort()).toEqual(["echo one", "echo two"]);

    // The sandbox start, workspace sync and store calls are in the turn's trace too.
    expect(spans.filter((s) => s.name === "sandbox start").length).toBe(1);
    expect(spans.some((s) => s.name === "workspace sync")).toBe(true);
    expect(spans.some((s) => s.name === "store saveBlock")).toBe(true);
    expect(receiver.contentTypes.has("application/json")).toBe(true);
  });

  it("starts a trace of its own for a call without traceparent, and logs carry trace ids", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.enqueue(textResponse("hi"));
    const sent = await h.client.sessions.sendMessage({ sessionId, text: "hello" });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    const all = await spansUntil((spans) =>
      spans.some((s) => s.name === "turn" && attr(s, "agentruntime.turn.id") === sent.turnId),
    );
    const turn = all.find(
      (s) => s.name === "turn" && attr(s, "agentruntime.turn.id") === sent.turnId,
    )!;
    const rpc = all.find((s) => s.spanId === turn.parentSpanId)!;
    expect(rpc.name).toBe("agentruntime.v1.SessionService/SendMessage");
    expect(rpc.parentSpanId ?? "").toBe("");

    const lines: string[] = [];
    const logger = createLogger("info", (l) => lines.push(l));
    logger.info("outside");
    let ids: { traceId: string; spanId: string } | undefined;
    await inSpan("logging", {}, async () => {
      const { trace } = await import("@opentelemetry/api");
      const ctx = trace.getActiveSpan()!.spanContext();
      ids = { traceId: ctx.traceId, spanId: ctx.spanId };
      logger.warn("inside");
    });
    const [outside, inside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(outside!.trace_id).toBeUndefined();
    expect(inside).toMatchObject({ msg: "inside", trace_id: ids!.traceId, span_id: ids!.spanId });
  });
});
