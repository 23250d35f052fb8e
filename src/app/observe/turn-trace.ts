// A turn's trace: the span of the RPC that accepted its message is remembered by turn id, and
// the turn's span (with every model step, tool call, sandbox and store call under it) continues
// that trace, so a caller's `traceparent` reaches into the turn.

import type { SpanContext } from "@opentelemetry/api";
import type { LoadedSession } from "../sessions/loaded-session.js";
import { activeSpanContext, inSpan } from "./tracing.js";

/** Turns whose origin is remembered until they start (older ones are forgotten first). */
const MAX_ORIGINS = 10_000;
const origins = new Map<string, SpanContext>();

/** Called where a message is accepted (inside its RPC's span, when tracing is on). */
export function rememberTurnOrigin(turnId: string): void {
  const origin = activeSpanContext();
  if (!origin) return;
  if (origins.size >= MAX_ORIGINS) origins.delete(origins.keys().next().value!);
  origins.set(turnId, origin);
}

/**
 * Runs a turn (or its resumption after answers) in its span: a child of the RPC that accepted
 * the message when this process did, else a trace of its own (recovery, a resumed turn).
 */
export function traceTurn(
  session: LoadedSession,
  turnId: string,
  resumed: boolean,
  run: () => Promise<void>,
): Promise<void> {
  const origin = origins.get(turnId);
  origins.delete(turnId);
  const attributes = {
    "agentruntime.session.id": session.id,
    "agentruntime.tenant.id": session.record.tenantId,
    "agentruntime.turn.id": turnId,
    "agentruntime.turn.resumed": resumed,
    "gen_ai.operation.name": "invoke_agent",
  };
  return inSpan(resumed ? "resume turn" : "turn", attributes, run, {
    parent: origin,
    root: !origin,
    ...(origin ? { links: [{ context: origin }] } : {}),
  });
}
