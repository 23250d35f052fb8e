// /metrics after a turn: the counters moved, and the text parses as Prometheus exposition.

import parsePrometheus, { type PromFamily } from "parse-prometheus-text-format";
import { afterEach, describe, expect, it } from "vitest";
import { type ListeningServer, listen } from "../src/server.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { streamResponse, textResponse } from "./support/fake-anthropic.js";
import { inProcessRuntime } from "./support/runtime.js";

let h: AgentHarness | undefined;
let server: ListeningServer | undefined;
afterEach(async () => {
  await server?.close(100);
  await h?.close();
  server = undefined;
  h = undefined;
});

async function scrape(url: string, key?: string) {
  const res = await fetch(
    `${url}/metrics`,
    key ? { headers: { authorization: `Bearer ${key}` } } : {},
  );
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    text: await res.text(),
  };
}

const family = (families: PromFamily[], name: string) => {
  const f = families.find((x) => x.name === name);
  if (!f) throw new Error(`no metric ${name}`);
  return f;
};
/** A histogram's `_count` for the labels (the parser folds labelled histograms together). */
const histogramCount = (text: string, name: string, labels: Record<string, string>) => {
  for (const line of text.split("\n")) {
    const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== `${name}_count`) continue;
    const found = Object.fromEntries(
      [...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return undefined;
};
const sample = (f: PromFamily, labels: Record<string, string>) =>
  f.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));

describe("/metrics", () => {
  it("counts RPCs, turns, tokens, cost, commands and store calls after a turn", async () => {
    h = await agentHarness();
    server = await listen(h.runtime, { port: 0, host: "127.0.0.1" });
    const url = `http://127.0.0.1:${server.port}`;
    const before = parsePrometheus((await scrape(url)).text);
    expect(
      sample(family(before, "agentruntime_turns_total"), { outcome: "completed" }),
    ).toBeUndefined();

    h.fake.enqueue(
      streamResponse(
        [{ type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "echo hi" } }],
        { usage: { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: 30 } },
      ),
      textResponse("done", { usage: { input_tokens: 10, output_tokens: 5 } }),
    );
    const sessions = h.client.sessions;
    const sessionId = await h.newSession();
    await sessions.sendMessage({ sessionId, text: "run it" });
    await readEvents(h.client, sessionId, turnsCompleted(1));

    const res = await scrape(url);
    expect(res.status).toBe(200);
    expect(res.type).toContain("text/plain");
    const families = parsePrometheus(res.text);
    expect(
      Number(sample(family(families, "agentruntime_turns_total"), { outcome: "completed" })?.value),
    ).toBe(1);
    const turnSeconds = family(families, "agentruntime_turn_duration_seconds");
    expect(turnSeconds.type).toBe("HISTOGRAM");
    const text = res.text;
    const count = (name: string, labels: Record<string, string>) =>
      histogramCount(text, name, labels);
    expect(count("agentruntime_turn_duration_seconds", { outcome: "completed" })).toBe(1);
    // Every sample is a number.
    for (const f of families)
      for (const m of f.metrics)
        for (const v of [m.value, m.count, m.sum, ...Object.values(m.buckets ?? {})])
          if (v !== undefined) expect(Number.isNaN(Number(v)), `${f.name} ${v}`).toBe(false);

    const rpcs = family(families, "agentruntime_rpc_requests_total");
    const send = sample(rpcs, { method: "agentruntime.v1.SessionService/SendMessage", code: "ok" });
    expect(Number(send?.value)).toBe(1);
    const tokens = family(families, "agentruntime_tokens_total");
    const model = "claude-sonnet-5-5";
    expect(Number(sample(tokens, { model, tenant: "default", kind: "input" })?.value)).toBe(110);
    expect(Number(sample(tokens, { model, tenant: "default", kind: "output" })?.value)).toBe(25);
    expect(Number(sample(tokens, { model, tenant: "default", kind: "cache_read" })?.value)).toBe(
      30,
    );
    const cost = sample(family(families, "agentruntime_cost_usd_total"), { tenant: "default" });
    expect(Number(cost?.value)).toBeGreaterThan(0);

    expect(count("agentruntime_model_step_duration_seconds", { model })).toBe(2);
    expect(count("agentruntime_model_time_to_first_token_seconds", { model })).toBe(2);

    const provider = h.provider.name;
    const commands = family(families, "agentruntime_sandbox_commands_total");
    expect(Number(sample(commands, { provider, result: "ok" })?.value)).toBeGreaterThanOrEqual(1);
    expect(count("agentruntime_sandbox_start_duration_seconds", { provider })).toBe(1);
    expect(
      Number(sample(family(families, "agentruntime_sandboxes_running"), { provider })?.value),
    ).toBe(1);

    const events = family(families, "agentruntime_events_written_total");
    expect(Number(events.metrics[0]?.value)).toBeGreaterThan(5);
    expect(
      count("agentruntime_store_duration_seconds", { operation: "appendEvents" }),
    ).toBeGreaterThan(0);
    const sendLatency = { method: "agentruntime.v1.SessionService/SendMessage", code: "ok" };
    expect(count("agentruntime_rpc_duration_seconds", sendLatency)).toBe(1);
    expect(family(families, "agentruntime_queued_messages").metrics[0]?.value).toBe("0");
    expect(Number(family(families, "agentruntime_sessions_loaded").metrics[0]?.value)).toBe(1);
    // Process figures come with them.
    expect(
      Number(family(families, "process_resident_memory_bytes").metrics[0]?.value),
    ).toBeGreaterThan(0);
    family(families, "nodejs_eventloop_lag_seconds");
  });

  it("is behind the API keys unless metricsPublic, and absent with metrics off", async () => {
    const keyed = await inProcessRuntime({ apiKeys: { "key-a": "tenant-a" } });
    server = await listen(keyed.runtime, { port: 0, host: "127.0.0.1" });
    let url = `http://127.0.0.1:${server.port}`;
    expect((await scrape(url)).status).toBe(401);
    expect((await scrape(url, "wrong")).status).toBe(401);
    expect((await scrape(url, "key-a")).status).toBe(200);
    await server.close(100);
    await keyed.runtime.shutdown();

    const open = await inProcessRuntime({ apiKeys: { "key-a": "tenant-a" }, metricsPublic: true });
    server = await listen(open.runtime, { port: 0, host: "127.0.0.1" });
    url = `http://127.0.0.1:${server.port}`;
    const res = await scrape(url);
    expect(res.status).toBe(200);
    expect(parsePrometheus(res.text).length).toBeGreaterThan(10);
    await server.close(100);
    await open.runtime.shutdown();

    h = await agentHarness({ metrics: false });
    server = await listen(h.runtime, { port: 0, host: "127.0.0.1" });
    expect((await scrape(`http://127.0.0.1:${server.port}`)).status).toBe(404);
  });
});
