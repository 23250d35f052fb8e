// An interceptor for every RPC: a server span that continues the caller's trace (`traceparent`),
// and request counts and latency by method and status code. Streams count when they end.

import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { RuntimeMetrics } from "./metrics.js";

const codeName = (err: unknown): string => {
  const code = err instanceof ConnectError ? err.code : Code.Internal;
  return Code[code].replace(/(?<=[a-z])(?=[A-Z])/g, "_").toLowerCase();
};

export function observeInterceptor(metrics: RuntimeMetrics | undefined): Interceptor {
  const tracer = trace.getTracer("agent-runtime");
  return (next) => async (req) => {
    const method = `${req.service.typeName}/${req.method.name}`;
    const started = performance.now();
    const parent = propagation.extract(context.active(), req.header, {
      get: (h, key) => h.get(key) ?? undefined,
      keys: (h) => {
        const keys: string[] = [];
        h.forEach((_, k) => {
          keys.push(k);
        });
        return keys;
      },
    });
    const span = tracer.startSpan(
      method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "rpc.system": "connect_rpc",
          "rpc.service": req.service.typeName,
          "rpc.method": req.method.name,
        },
      },
      parent,
    );
    const end = (err?: unknown) => {
      const code = err === undefined ? "ok" : codeName(err);
      metrics?.rpcs.inc({ method, code });
      metrics?.rpcSeconds.observe({ method, code }, (performance.now() - started) / 1000);
      if (code === "resource_exhausted" && req.method.name === "StreamEvents")
        metrics?.slowSubscriberCutoffs.inc();
      span.setAttribute("rpc.connect_rpc.error_code", code);
      if (err !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: code });
      span.end();
    };
    try {
      const res = await context.with(trace.setSpan(parent, span), () => next(req));
      if (!res.stream) {
        end();
        return res;
      }
      const source = res.message;
      const feed = metrics && req.method.name === "StreamEvents";
      if (feed) metrics.streamsOpen++;
      return {
        ...res,
        message: (async function* () {
          let failure: unknown;
          try {
            yield* source;
          } catch (err) {
            failure = err;
            throw err;
          } finally {
            if (feed) metrics.streamsOpen--;
            end(failure);
          }
        })(),
      };
    } catch (err) {
      end(err);
      throw err;
    }
  };
}
