import { leaseLost } from "../../domain/errors.js";
import type { Lease, SessionEvent, SessionRecord } from "../../domain/types.js";
import type {
  CoordinationStore,
  LeaseResult,
  SessionCommand,
  StoreChange,
} from "../../ports/coordination.js";

/**
 * MemoryPersistence's leases, feed claims and commands (its base class, holding the session
 * records the leases live on). One process holds them all, so this is mainly the reference for
 * the behaviour suite.
 */
export class MemoryCoordination implements CoordinationStore {
  protected readonly sessions = new Map<string, SessionRecord>();
  private readonly heads = new Map<string, { token: number; last: number; tail: SessionEvent[] }>();
  private readonly commands = new Map<string, SessionCommand & { takenBy?: string }>();
  private readonly watchers = new Set<(change: StoreChange) => void>();

  /** Throws LEASE_LOST unless `fence` is the session's current lease token. */
  protected checkFence(sessionId: string, fence: number | undefined): void {
    if (fence === undefined) return;
    const lease = this.sessions.get(sessionId)?.lease;
    if (lease?.token !== fence) throw leaseLost(sessionId, fence);
  }

  /** Claims `events` in the feed's head for `fence` (appendEvents with a fence). */
  protected claimBatch(sessionId: string, events: SessionEvent[], fence: number): void {
    const head = this.heads.get(sessionId);
    if (head && head.token > fence) throw leaseLost(sessionId, fence);
    const last = Math.max(head?.last ?? 0, ...events.map((e) => e.sequence));
    this.heads.set(sessionId, { token: fence, last, tail: structuredClone(events) });
    // After the events are stored (appendEvents runs to its end without awaiting).
    queueMicrotask(() => this.notify({ feed: sessionId }));
  }

  protected forget(sessionId: string): void {
    this.heads.delete(sessionId);
    for (const [id, c] of this.commands) if (c.sessionId === sessionId) this.commands.delete(id);
  }

  async acquireLease(
    sessionId: string,
    owner: string,
    now: Date,
    expiresAt: Date,
  ): Promise<LeaseResult> {
    const s = this.sessions.get(sessionId);
    if (!s) return { missing: true };
    const held = s.lease;
    if (held && held.owner !== owner && held.expiresAt > now) {
      return { heldBy: structuredClone(held) };
    }
    const lease: Lease = { owner, token: (held?.token ?? 0) + 1, expiresAt: new Date(expiresAt) };
    s.lease = lease;
    return { lease: structuredClone(lease) };
  }

  async renewLeases(
    leases: { sessionId: string; lease: Lease }[],
    expiresAt: Date,
  ): Promise<string[]> {
    const lost: string[] = [];
    for (const { sessionId, lease } of leases) {
      const held = this.sessions.get(sessionId)?.lease;
      if (!held || held.owner !== lease.owner || held.expiresAt.getTime() <= 0)
        lost.push(sessionId);
      else held.expiresAt = new Date(expiresAt);
    }
    return lost;
  }

  async releaseLease(sessionId: string, lease: Lease): Promise<void> {
    const held = this.sessions.get(sessionId)?.lease;
    if (held && held.token === lease.token && held.owner === lease.owner) {
      held.expiresAt = new Date(0);
    }
  }

  async claimFeed(sessionId: string, fence: number): Promise<SessionEvent[]> {
    const head = this.heads.get(sessionId);
    if (head && head.token > fence) throw leaseLost(sessionId, fence);
    this.heads.set(sessionId, { token: fence, last: head?.last ?? 0, tail: head?.tail ?? [] });
    return structuredClone(head?.tail ?? []);
  }

  async feedHeads(sessionIds: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const id of sessionIds) {
      const head = this.heads.get(id);
      if (head) out.set(id, head.last);
    }
    return out;
  }

  async enqueueCommand(command: SessionCommand): Promise<void> {
    if (!this.commands.has(command.id)) this.commands.set(command.id, structuredClone(command));
    this.notify({ commandFor: command.owner });
  }

  async pendingCommands(owner: string, limit: number): Promise<SessionCommand[]> {
    return [...this.commands.values()]
      .filter((c) => c.owner === owner && c.takenBy === undefined)
      .sort((a, b) => a.createTime.getTime() - b.createTime.getTime() || cmp(a.id, b.id))
      .slice(0, Math.max(0, limit))
      .map(({ takenBy: _, ...c }) => structuredClone(c));
  }

  async takeCommand(commandId: string, by: string): Promise<boolean> {
    const c = this.commands.get(commandId);
    if (!c || (c.takenBy !== undefined && c.takenBy !== by)) return false;
    c.takenBy = by;
    return true;
  }

  async finishCommand(commandId: string, outcome: string): Promise<void> {
    const c = this.commands.get(commandId);
    if (c) c.outcome = outcome;
  }

  async loadCommand(commandId: string): Promise<SessionCommand | null> {
    const c = this.commands.get(commandId);
    if (!c) return null;
    const { takenBy: _, ...command } = c;
    return structuredClone(command);
  }

  async deleteCommand(commandId: string): Promise<void> {
    this.commands.delete(commandId);
  }

  async watchChanges(changed: (change: StoreChange) => void): Promise<() => void> {
    this.watchers.add(changed);
    return () => this.watchers.delete(changed);
  }

  private notify(change: StoreChange): void {
    for (const w of this.watchers) w(change);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
