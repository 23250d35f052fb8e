// What the console received, for tests and for a person debugging in the browser's devtools:
// `window.agentRuntimeConsole.sequences[sessionId]` lists every event sequence the session view
// applied since it opened, in order, and `reconnects[sessionId]` how often its feed reconnected.

import type { SessionEvent } from "./deps.js";

interface Observed {
  sequences: Record<string, number[]>;
  reconnects: Record<string, number>;
}

declare global {
  interface Window {
    agentRuntimeConsole?: Observed;
  }
}

function observed(): Observed {
  window.agentRuntimeConsole ??= { sequences: {}, reconnects: {} };
  return window.agentRuntimeConsole;
}

/** A session view opened: its feed starts again from the first event. */
export function resetEvents(sessionId: string): void {
  observed().sequences[sessionId] = [];
  observed().reconnects[sessionId] = 0;
}

export function recordEvent(sessionId: string, event: SessionEvent): void {
  const sequences = observed().sequences;
  sequences[sessionId] = [...(sequences[sessionId] ?? []), Number(event.sequence)];
}

export function recordReconnects(sessionId: string, count: number): void {
  observed().reconnects[sessionId] = count;
}
