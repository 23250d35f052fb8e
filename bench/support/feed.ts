// Reading a session's stored feed through the API, for checking what live subscribers got.

import type { Client } from "@connectrpc/connect";
import type { SessionEvent } from "#gen/event_pb.js";
import type { SessionService } from "#gen/session_service_pb.js";

export type SessionClient = Client<typeof SessionService>;

/**
 * The stored feed, replayed from 0: up to the session's last sequence, then until nothing more
 * comes for a moment (last_sequence is best effort).
 */
export async function readFeed(
  sessions: SessionClient,
  sessionId: string,
): Promise<SessionEvent[]> {
  const { session } = await sessions.getSession({ sessionId });
  const target = Number(session?.lastSequence ?? 0n);
  const events: SessionEvent[] = [];
  const abort = new AbortController();
  const hard = setTimeout(() => abort.abort(), 60_000);
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    clearTimeout(idle);
    if (Number(events.at(-1)?.sequence ?? 0) >= target) idle = setTimeout(() => abort.abort(), 300);
  };
  armIdle();
  try {
    for await (const res of sessions.streamEvents(
      { sessionId, afterSequence: 0n },
      { signal: abort.signal },
    )) {
      events.push(res.event!);
      armIdle();
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    clearTimeout(hard);
    clearTimeout(idle);
  }
  return events;
}

/** What a subscriber got compared with the stored feed. */
export interface FeedCheck {
  lost: number;
  duplicates: number;
  outOfOrder: number;
  gaps: number;
}

export function checkFeed(received: SessionEvent[], stored: SessionEvent[]): FeedCheck {
  const check: FeedCheck = { lost: 0, duplicates: 0, outOfOrder: 0, gaps: 0 };
  const seen = new Map<number, number>();
  let last = 0;
  for (const e of received) {
    const seq = Number(e.sequence);
    seen.set(seq, (seen.get(seq) ?? 0) + 1);
    if (seq <= last) check.outOfOrder++;
    last = Math.max(last, seq);
  }
  for (const n of seen.values()) if (n > 1) check.duplicates += n - 1;
  const storedSeqs = new Set(stored.map((e) => Number(e.sequence)));
  for (const seq of storedSeqs) if (!seen.has(seq)) check.lost++;
  const max = Math.max(0, ...storedSeqs);
  for (let seq = 1; seq <= max; seq++) if (!storedSeqs.has(seq)) check.gaps++;
  return check;
}
