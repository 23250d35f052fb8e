// What the console received, for tests and for a person debugging in the browser's devtools:
// `window.agentRuntimeConsole.sequences[sessionId]` lists every event sequence the session view
// applied since it opened, in order, and `reconnects[sessionId]` how often its feed reconnected.

import type { SessionEvent } from "./deps.js";

interface Observed {
  sequences: Record<string, number[]>;
  /** The events' sequence, turn, subagent and kind (`blockDelta`, `turnCompleted`, ...). */
  events: Record<string, { sequence: number; turnId: string; subagentId: string; kind: string }[]>;
  reconnects: Record<string, number>;
}

declare global {
  interface Window {
    agentRuntimeConsole?: Observed;
  }
}

function observed(): Observed {
  window.agentRuntimeConsole ??= { sequences: {}, events: {}, reconnects: {} };
  return window.agentRuntimeConsole;
}

/** A session view opened: its feed starts again from the first event. */
export function resetEvents(sessionId: string): void {
  observed().sequences[sessionId] = [];
  observed().events[sessionId] = [];
  observed().reconnects[sessionId] = 0;
}

export function recordEvent(sessionId: string, event: SessionEvent): void {
  const { sequences, events } = observed();
  const sequence = Number(event.sequence);
  const kind = event.payload.case ?? "";
  if (!sequences[sessionId]) sequences[sessionId] = [];
  if (!events[sessionId]) events[sessionId] = [];
  sequences[sessionId].push(sequence);
  events[sessionId].push({ sequence, turnId: event.turnId, subagentId: event.subagentId, kind });
}

export function recordReconnects(sessionId: string, count: number): void {
  observed().reconnects[sessionId] = count;
}
