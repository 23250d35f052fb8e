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
      const feed = metrics && req.method.name === "StreamEvents";
      if (feed) metrics.streamsOpen++;
      let ended = false;
      const finish = (err?: unknown) => {
        if (ended) return;
        ended = true;
        if (feed) metrics.streamsOpen--;
        end(err);
      };
      return { ...res, message: endsWith(res.message, finish) };
    } catch (err) {
      end(err);
      throw err;
    }
  };
}

/**
 * The stream's messages as they are, with `finish` told once when it ends, fails or is closed
 * early: a plain iterator, lighter per message than another async generator around it.
 */
function endsWith<T>(source: AsyncIterable<T>, finish: (err?: unknown) => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]();
      return {
        next: () =>
          it.next().then(
            (r) => {
              if (r.done) finish();
              return r;
            },
            (err: unknown) => {
              finish(err);
              throw err;
            },
          ),
        return: (value?: unknown) => {
          finish();
          return it.return
            ? it.return(value)
            : Promise.resolve({ done: true as const, value: value as T });
        },
        throw: (err?: unknown) => {
          finish(err);
          return it.throw ? it.throw(err) : Promise.reject(err);
        },
      };
    },
  };
}
