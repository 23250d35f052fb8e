import { hostname } from "node:os";
import { AppError, notFound } from "../../domain/errors.js";
import type { Lease } from "../../domain/types.js";
import type { Logger } from "../../ports/logger.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";

/** A replica's lease of a session lasts this long unless renewed (every third of it). */
export const DEFAULT_LEASE_TTL_MS = 10_000;

/** The reason of the error `acquire` throws for a session another replica runs. */
export const OWNED_ELSEWHERE = "SESSION_OWNED_ELSEWHERE";

/**
 * This replica's leases of the sessions it runs: taken when a session is loaded, renewed every
 * third of their time while it stays loaded, given back when it is unloaded. A lease found
 * taken over at a renewal is reported through `lost`. One that cannot be renewed because the
 * store does not answer is kept: a replica that takes the session over meanwhile makes the store
 * refuse this one's writes, and those report it lost.
 */
export class Leases {
  readonly replicaId: string;
  readonly ttlMs: number;
  private readonly timer: NodeJS.Timeout;
  private renewing = false;

  constructor(
    private readonly o: {
      store: PersistenceAdapter;
      logger: Logger;
      replicaId?: string | undefined;
      ttlMs?: number | undefined;
      /** The leases to renew: those of the loaded sessions, each with its setter. */
      held: () => { sessionId: string; lease: Lease; renewed: (l: Lease) => void }[];
      lost: (sessionId: string, token: number) => void;
    },
  ) {
    this.replicaId = o.replicaId ?? hostname();
    this.ttlMs = o.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.timer = setInterval(() => void this.renew(), this.ttlMs / 3);
    this.timer.unref();
  }

  /** Takes the session's lease; NOT_FOUND, or OWNED_ELSEWHERE while another replica holds it. */
  async acquire(sessionId: string): Promise<Lease> {
    const now = Date.now();
    const taken = await this.o.store.acquireLease(
      sessionId,
      this.replicaId,
      new Date(now),
      new Date(now + this.ttlMs),
    );
    if ("missing" in taken) throw notFound("session", sessionId, "session_id");
    if ("heldBy" in taken) {
      throw new AppError(
        "unavailable",
        OWNED_ELSEWHERE,
        `session ${sessionId} runs on replica ${taken.heldBy.owner}`,
        undefined,
        { owner: taken.heldBy.owner, retryable: "true" },
      );
    }
    return taken.lease;
  }

  /** Gives a lease back (best effort: otherwise it expires). */
  async release(sessionId: string, lease: Lease): Promise<void> {
    await this.o.store
      .releaseLease(sessionId, lease)
      .catch((err: unknown) =>
        this.o.logger.warn("giving a lease back failed; it expires", { sessionId, err }),
      );
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async renew(): Promise<void> {
    if (this.renewing) return;
    const held = this.o.held();
    if (held.length === 0) return;
    this.renewing = true;
    const expiresAt = new Date(Date.now() + this.ttlMs);
    try {
      const lost = new Set(await this.o.store.renewLeases(held, expiresAt));
      for (const { sessionId, lease, renewed } of held) {
        if (lost.has(sessionId)) this.o.lost(sessionId, lease.token);
        else renewed({ ...lease, expiresAt });
      }
    } catch {
      // The store does not answer. The sessions stay here: if another replica takes one over
      // meanwhile, the store refuses this one's writes (fencing) and it lets go then.
    } finally {
      this.renewing = false;
    }
  }
}
