// The store with persistence spans (inside a trace only) and latency and error metrics; stored
// events are handed on to `onEvents` (metrics, webhooks). Calls and results pass through.

import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { SessionEvent, SessionRecord } from "../../domain/types.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import type { RuntimeMetrics } from "./metrics.js";

/** Sessions whose tenant is remembered for labels and webhooks. */
const MAX_TENANTS = 100_000;

export interface ObservedStore {
  store: PersistenceAdapter;
  /** The session's tenant, when a record of it passed through the store. */
  tenantOf(sessionId: string): string | undefined;
}

export function observedStore(
  inner: PersistenceAdapter,
  metrics: RuntimeMetrics | undefined,
  onEvents: (sessionId: string, events: SessionEvent[]) => void,
): ObservedStore {
  const tenants = new Map<string, string>();
  const remember = (r: SessionRecord | null | undefined) => {
    if (!r?.id || !r.tenantId) return;
    if (tenants.size >= MAX_TENANTS) tenants.clear();
    tenants.set(r.id, r.tenantId);
  };
  const seen = (name: string, args: unknown[], result: unknown) => {
    if (name === "appendEvents") onEvents(args[0] as string, args[1] as SessionEvent[]);
    else if (name === "loadSession" || name === "createSessionRecord")
      remember(result as SessionRecord | null);
    else if (name === "listAllSessions") for (const r of result as SessionRecord[]) remember(r);
    else if (name === "deleteSession") {
      tenants.delete(args[0] as string);
      metrics?.forget(args[0] as string);
    }
  };
  const tracer = trace.getTracer("agent-runtime");
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function" || typeof name !== "string") return value;
      return (...args: unknown[]) => {
        const started = performance.now();
        // Only inside a trace: background writes do not start traces of their own.
        const span = trace.getActiveSpan()
          ? tracer.startSpan(`store ${name}`, {
              kind: SpanKind.CLIENT,
              attributes: {
                "db.operation.name": name,
                "agentruntime.store": inner.constructor.name,
              },
            })
          : undefined;
        const done = (err?: unknown) => {
          metrics?.storeSeconds.observe({ operation: name }, (performance.now() - started) / 1000);
          if (err !== undefined) {
            metrics?.storeErrors.inc({ operation: name });
            span?.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
          }
          span?.end();
        };
        let result: unknown;
        try {
          result = value.apply(target, args);
        } catch (err) {
          done(err);
          throw err;
        }
        if (!(result instanceof Promise)) {
          done();
          return result;
        }
        return result.then(
          (r: unknown) => {
            done();
            seen(name, args, r);
            return r;
          },
          (err: unknown) => {
            done(err ?? "failed");
            throw err;
          },
        );
      };
    },
  });
  return { store, tenantOf: (id) => tenants.get(id) };
}
