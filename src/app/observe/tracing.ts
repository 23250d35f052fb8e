// Spans for the use cases, through the OpenTelemetry API: with no SDK registered (tracing off)
// every call is a no-op that costs a function call. The SDK is set up by the host (main.ts reads
// the standard OTEL_* variables; see src/adapters/observe/tracing.ts).

import {
  type Attributes,
  context,
  type Link,
  ROOT_CONTEXT,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

const tracer = () => trace.getTracer("agent-runtime");

/** Runs `fn` inside a span named `name` (a child of the active one); errors mark the span. */
export function inSpan<T>(
  name: string,
  attributes: Attributes,
  fn: () => Promise<T>,
  options: {
    parent?: SpanContext | undefined;
    root?: boolean;
    links?: Link[];
    kind?: SpanKind;
  } = {},
): Promise<T> {
  const base = options.root ? ROOT_CONTEXT : context.active();
  const parentContext = options.parent ? trace.setSpanContext(base, options.parent) : base;
  return tracer().startActiveSpan(
    name,
    {
      attributes,
      kind: options.kind ?? SpanKind.INTERNAL,
      ...(options.links ? { links: options.links } : {}),
    },
    parentContext,
    async (span) => {
      try {
        return await fn();
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorText(err) });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** Adds attributes to the active span, if any. */
export function annotate(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** The active span's ids, for log lines. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const ctx = trace.getActiveSpan()?.spanContext();
  if (!ctx || !trace.isSpanContextValid(ctx)) return undefined;
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}

/** The active span's context (to continue its trace later, in another call). */
export function activeSpanContext(): SpanContext | undefined {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && trace.isSpanContextValid(ctx) ? ctx : undefined;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
