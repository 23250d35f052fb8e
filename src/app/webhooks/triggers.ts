// Which stored session events make a webhook, and the payload each one sends: ids and the
// event's sequence, so the receiver fetches the rest through the API.

import type { SessionEvent } from "../../domain/types.js";
import type { WebhookEventType } from "../../domain/webhooks.js";

/** Characters of a turn's end reason put in a payload. */
const MAX_REASON_CHARS = 500;

export interface Trigger {
  type: WebhookEventType;
  /** The payload's `data`. */
  data: Record<string, unknown>;
}

export function triggerOf(event: SessionEvent): Trigger | undefined {
  const p = event.payload;
  const base = {
    session_id: event.sessionId,
    sequence: event.sequence,
    ...(event.turnId ? { turn_id: event.turnId } : {}),
  };
  switch (p.type) {
    case "turn_completed": {
      const outcome = p.turn.outcome ?? "completed";
      return {
        type: outcome === "failed" ? "turn.failed" : "turn.completed",
        data: { ...base, turn_id: p.turn.id, outcome, reason: p.reason.slice(0, MAX_REASON_CHARS) },
      };
    }
    case "tool_call_waiting":
      return {
        type: "approval.requested",
        data: {
          ...base,
          turn_id: p.call.turnId,
          tool_use_id: p.call.toolUseId,
          tool_name: p.call.toolName,
          kind: p.call.kind,
        },
      };
    case "status_changed":
      // The change a turn's end causes carries its turn id; sandbox starts and stops do not.
      return p.state === "idle" && event.turnId ? { type: "session.idle", data: base } : undefined;
    case "budget_exceeded":
      return { type: "budget.reached", data: { ...base, scope: p.scope, limit: p.limit } };
    default:
      return undefined;
  }
}

/** The delivery's body (Standard Webhooks: type, timestamp, data). */
export function payloadOf(trigger: Trigger, event: SessionEvent): string {
  return JSON.stringify({
    type: trigger.type,
    timestamp: event.time.toISOString(),
    data: trigger.data,
  });
}
