// A model provider with GenAI spans (OpenTelemetry semantic conventions: model, tokens in and
// out, cache tokens, time to first token, stop reason) and step latency and TTFT metrics.

import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { ModelProviderKind } from "../../domain/types.js";
import { ModelError, type ModelProvider } from "../../ports/model.js";
import type { RuntimeMetrics } from "./metrics.js";

const SYSTEMS: Record<ModelProviderKind, string> = { anthropic: "anthropic", demo: "demo" };

export function observedModel(
  inner: ModelProvider,
  kind: ModelProviderKind,
  metrics: RuntimeMetrics | undefined,
): ModelProvider {
  const tracer = trace.getTracer("agent-runtime");
  const observed: ModelProvider = {
    step(request, onEvent) {
      const model = request.model;
      const attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": SYSTEMS[kind] ?? kind,
        "gen_ai.system": SYSTEMS[kind] ?? kind,
        "gen_ai.request.model": model,
        "gen_ai.request.max_tokens": request.maxOutputTokens,
      };
      return tracer.startActiveSpan(
        `chat ${model}`,
        { kind: SpanKind.CLIENT, attributes },
        async (span) => {
          const started = performance.now();
          let firstAt: number | undefined;
          try {
            const result = await inner.step(request, (event) => {
              if (firstAt === undefined && event.type !== "block_stop") {
                firstAt = performance.now();
                const ttft = (firstAt - started) / 1000;
                metrics?.timeToFirstToken.observe({ model }, ttft);
                span.setAttribute("gen_ai.response.time_to_first_chunk", ttft);
              }
              onEvent(event);
            });
            const u = result.usage;
            span.setAttributes({
              "gen_ai.response.model": result.model,
              "gen_ai.response.finish_reasons": [result.stopReason],
              "gen_ai.usage.input_tokens": u.inputTokens,
              "gen_ai.usage.output_tokens": u.outputTokens,
              "gen_ai.usage.cache_read.input_tokens": u.cacheReadInputTokens,
              "gen_ai.usage.cache_creation.input_tokens": u.cacheCreationInputTokens,
            });
            return result;
          } catch (err) {
            const reason = err instanceof ModelError ? err.reason : "INTERNAL";
            metrics?.modelErrors.inc({ model, reason });
            span.setAttribute("error.type", reason);
            span.setStatus({ code: SpanStatusCode.ERROR, message: String(err) });
            throw err;
          } finally {
            metrics?.modelStepSeconds.observe({ model }, (performance.now() - started) / 1000);
            span.end();
          }
        },
      );
    },
  };
  if (inner.features) observed.features = (model) => inner.features!(model);
  return observed;
}
