// A sandbox provider with spans (start, stop, each command) and metrics (starting, running,
// start latency, commands). Sandboxes pass through with exec and terminate observed.

import { type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Sandbox, SandboxProvider } from "../../ports/sandbox.js";
import type { RuntimeMetrics } from "./metrics.js";

/** Characters of a command kept on its span. */
const COMMAND_ATTRIBUTE_CHARS = 1_000;

export function observedSandboxProvider(
  inner: SandboxProvider,
  metrics: RuntimeMetrics | undefined,
): SandboxProvider {
  const tracer = trace.getTracer("agent-runtime");
  const provider = inner.name;
  const labels = { provider };
  const live = new Set<string>();
  const track = (sandbox: Sandbox): Sandbox => {
    if (!live.has(sandbox.id)) {
      live.add(sandbox.id);
      metrics?.sandboxesRunning.inc(labels);
    }
    return observedSandbox(sandbox, () => {
      if (live.delete(sandbox.id)) metrics?.sandboxesRunning.dec(labels);
    });
  };
  const observedSandbox = (sandbox: Sandbox, ended: () => void): Sandbox =>
    new Proxy(sandbox, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (name === "exec") {
          const exec: Sandbox["exec"] = (options) =>
            tracer.startActiveSpan(
              "sandbox exec",
              {
                attributes: {
                  "agentruntime.sandbox.provider": provider,
                  "agentruntime.sandbox.id": target.id,
                  "process.command_line": options.command.slice(0, COMMAND_ATTRIBUTE_CHARS),
                },
              },
              async (span) => {
                try {
                  const r = await target.exec(options);
                  const result = r.timedOut ? "timed_out" : r.exitCode === 0 ? "ok" : "failed";
                  metrics?.sandboxCommands.inc({ provider, result });
                  span.setAttributes({
                    "process.exit.code": r.exitCode ?? -1,
                    "agentruntime.sandbox.timed_out": r.timedOut,
                  });
                  return r;
                } catch (err) {
                  metrics?.sandboxCommands.inc({ provider, result: "error" });
                  fail(span, err);
                  throw err;
                } finally {
                  span.end();
                }
              },
            );
          return exec;
        }
        if (name === "terminate") {
          const terminate: Sandbox["terminate"] = () =>
            tracer.startActiveSpan(
              "sandbox stop",
              { attributes: { "agentruntime.sandbox.provider": provider } },
              async (span) => {
                try {
                  await target.terminate();
                  ended();
                } catch (err) {
                  fail(span, err);
                  throw err;
                } finally {
                  span.end();
                }
              },
            );
          return terminate;
        }
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  const observed: SandboxProvider = {
    name: provider,
    create(options) {
      return tracer.startActiveSpan(
        "sandbox start",
        {
          attributes: {
            "agentruntime.sandbox.provider": provider,
            "agentruntime.session.id": options.sessionId,
          },
        },
        async (span) => {
          const started = performance.now();
          metrics?.sandboxesStarting.inc(labels);
          try {
            const sandbox = await inner.create(options);
            metrics?.sandboxStartSeconds.observe(labels, (performance.now() - started) / 1000);
            span.setAttribute("agentruntime.sandbox.id", sandbox.id);
            return track(sandbox);
          } catch (err) {
            metrics?.sandboxStartFailures.inc(labels);
            fail(span, err);
            throw err;
          } finally {
            metrics?.sandboxesStarting.dec(labels);
            span.end();
          }
        },
      );
    },
    async attach(sandboxId, sessionId) {
      const sandbox = await inner.attach(sandboxId, sessionId);
      return sandbox ? track(sandbox) : null;
    },
    listLive: () => inner.listLive(),
  };
  if (inner.destroy) observed.destroy = (sessionId) => inner.destroy!(sessionId);
  return observed;
}

function fail(span: Span, err: unknown): void {
  span.recordException(err as Error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
}
