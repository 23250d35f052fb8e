// The OpenTelemetry SDK for the standalone server, configured by the standard OTEL_* variables
// and off when none names an exporter. An embedding host may set up its own SDK instead: the
// runtime only uses the OpenTelemetry API.

import { trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";

export interface Tracing {
  /** Sends the spans still buffered. */
  flush(): Promise<void>;
  /** Flushes, then stops the exporter. */
  shutdown(): Promise<void>;
}

/**
 * Whether the variables ask for tracing: an OTLP endpoint, or OTEL_TRACES_EXPORTER of `otlp`
 * or `console`; never with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
 */
export function tracingWanted(env: NodeJS.ProcessEnv): "otlp" | "console" | undefined {
  if ((env.OTEL_SDK_DISABLED ?? "").toLowerCase() === "true") return undefined;
  const exporter = (env.OTEL_TRACES_EXPORTER ?? "").split(",")[0]!.trim().toLowerCase();
  if (exporter === "none") return undefined;
  if (exporter === "console") return "console";
  if (exporter === "otlp") return "otlp";
  return env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    ? "otlp"
    : undefined;
}

/**
 * Registers the SDK globally (tracer provider, W3C trace-context propagation, async context)
 * when the variables ask for it; undefined when they do not. OTLP goes over HTTP as JSON, to
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`; sampling
 * follows OTEL_TRACES_SAMPLER, the resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
 */
export function startTracing(env: NodeJS.ProcessEnv, version = "0.1.0"): Tracing | undefined {
  const kind = tracingWanted(env);
  if (!kind) return undefined;
  const exporter: SpanExporter =
    kind === "console" ? new ConsoleSpanExporter() : new OTLPTraceExporter(otlpSettings(env));
  const resource = defaultResource()
    .merge(
      resourceFromAttributes({
        [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME || "agent-runtime",
        [ATTR_SERVICE_VERSION]: version,
      }),
    )
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  provider.register();
  return {
    flush: () => provider.forceFlush(),
    async shutdown() {
      await provider.shutdown();
      trace.disable();
    },
  };
}

/** The exporter's URL and headers from the given variables (the exporter reads process.env). */
function otlpSettings(env: NodeJS.ProcessEnv): { url?: string; headers?: Record<string, string> } {
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, "");
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || (base ? `${base}/v1/traces` : undefined);
  const raw = env.OTEL_EXPORTER_OTLP_TRACES_HEADERS || env.OTEL_EXPORTER_OTLP_HEADERS || "";
  const headers: Record<string, string> = {};
  for (const pair of raw.split(",")) {
    const at = pair.indexOf("=");
    if (at > 0)
      headers[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(
        pair.slice(at + 1).trim(),
      );
  }
  return { ...(url ? { url } : {}), ...(Object.keys(headers).length ? { headers } : {}) };
}
