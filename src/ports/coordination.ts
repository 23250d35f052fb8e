import type { Lease, SessionEvent } from "../domain/types.js";

export type { Lease };

// Coordination of several replicas on one store: which replica runs a session (its lease),
// fencing of the writes of a replica that lost it, the feed's claim, and commands for a session
// that another replica runs. See ARCHITECTURE.md, "Several replicas".

/** What acquireLease found: the lease taken, another replica's lease, or no such session. */
export type LeaseResult = { lease: Lease } | { heldBy: Lease } | { missing: true };

/** A call on a session that another replica runs, stored for it to pick up (SessionCommands). */
export interface SessionCommand {
  id: string;
  sessionId: string;
  /** Which use case (`send_message`, `cancel_turn`, ...). */
  kind: string;
  /** Its arguments, as JSON text. */
  args: string;
  /** The replica meant to run it (the session's lease holder when it was stored). */
  owner: string;
  createTime: Date;
  /** Once done: the outcome, as JSON text (a result or an error). */
  outcome?: string;
}

export interface CoordinationStore {
  /**
   * Takes the session's lease for `owner` until `expiresAt` when no other replica holds it
   * (never taken, expired at `now`, released) or `owner` holds it: a new lease with the next
   * token. Exclusive even on a store that applies updates as read-modify-write: of two
   * replicas taking the same token, one wins.
   */
  acquireLease(sessionId: string, owner: string, now: Date, expiresAt: Date): Promise<LeaseResult>;
  /**
   * Extends leases one replica holds (all of one owner) until `expiresAt`, in few writes; returns
   * the sessions whose lease it no longer has: another owner holds it, or it was given back.
   * (One owner's older token is not told apart: fencing refuses its writes.)
   */
  renewLeases(leases: { sessionId: string; lease: Lease }[], expiresAt: Date): Promise<string[]>;
  /** Gives the lease back (it expires now) if still held; the token is kept. */
  releaseLease(sessionId: string, lease: Lease): Promise<void>;
  /**
   * Claims the session's feed for the holder of lease token `fence`: later appends with an older
   * fence are refused (LEASE_LOST). Returns the events of the last batch claimed before (they
   * were claimed before being inserted, so some may be missing: the caller stores them again).
   */
  claimFeed(sessionId: string, fence: number): Promise<SessionEvent[]>;
  /** The last sequence claimed in each session's feed (absent: nothing claimed yet). */
  feedHeads(sessionIds: string[]): Promise<Map<string, number>>;
  /** Stores a command for the replica that runs its session. */
  enqueueCommand(command: SessionCommand): Promise<void>;
  /** Commands for `owner` not yet taken, oldest first. */
  pendingCommands(owner: string, limit: number): Promise<SessionCommand[]>;
  /** Takes a command to run it: true for exactly one caller. */
  takeCommand(commandId: string, by: string): Promise<boolean>;
  /** Stores the outcome of a command taken. */
  finishCommand(commandId: string, outcome: string): Promise<void>;
  /** The command as stored (with its outcome once done); null once removed. */
  loadCommand(commandId: string): Promise<SessionCommand | null>;
  /** Removes a command (its sender read the outcome, or gave up). */
  deleteCommand(commandId: string): Promise<void>;
  /**
   * Optional: tells, as the store notices, that a feed's head moved or a command was stored
   * (MongoDB: change streams, on a replica set). Resolves to a function that stops it, or to
   * undefined when the deployment cannot (then replicas find both by polling alone).
   */
  watchChanges?(changed: (change: StoreChange) => void): Promise<(() => void) | undefined>;
}

/** What watchChanges reports: a feed whose head moved, or a command stored for an owner. */
export type StoreChange = { feed: string } | { commandFor: string };
