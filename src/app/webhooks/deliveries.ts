// The delivery worker: stored session events that trigger a webhook become stored deliveries
// (one per endpoint that wants them), sent at once and retried with backoff for a day. Nothing
// here is awaited by a turn: the store hands events over after they are stored, and every
// failure is logged, never thrown back.

import { WEBHOOK_LIMITS } from "../../domain/limits.js";
import type { SessionEvent } from "../../domain/types.js";
import { deliveryIdFor, type Webhook, type WebhookDelivery } from "../../domain/webhooks.js";
import type { Logger } from "../../ports/logger.js";
import type { WebhookStore } from "../../ports/webhooks.js";
import { signedHeaders } from "./signing.js";
import { payloadOf, type Trigger, triggerOf } from "./triggers.js";

/** One HTTP POST; resolves with the answer's status (and some of its text), throws when none. */
export type WebhookPost = (
  url: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
) => Promise<{ status: number; text?: string }>;

export type AttemptResult = "delivered" | "failed" | "gave_up";

export interface WebhookDeliveriesOptions {
  store: WebhookStore;
  /** The session's tenant (undefined: unknown session, nothing is sent). */
  tenantOf: (sessionId: string) => Promise<string | undefined>;
  post: WebhookPost;
  logger: Logger;
  /** Waits between attempts; default WEBHOOK_LIMITS.retryDelaysMs. */
  retryDelaysMs?: readonly number[];
  /** How long after its creation a delivery is retried; default a day. */
  retryWindowMs?: number;
  pollIntervalMs?: number;
  attemptTimeoutMs?: number;
  /** Told of every attempt (metrics). */
  onAttempt?: (delivery: WebhookDelivery, result: AttemptResult) => void;
}

/** Tries to store a new delivery again after a store failure: waits in ms. */
const ENQUEUE_RETRY_MS = [1_000, 5_000, 30_000];

export class WebhookDeliveries {
  private readonly delays: readonly number[];
  private readonly windowMs: number;
  private readonly inFlight = new Set<string>();
  private poller: NodeJS.Timeout | undefined;
  private wake: { at: number; timer: NodeJS.Timeout } | undefined;
  private stopped = true;
  /** An attempt was put off for want of room: look again when one ends. */
  private putOff = false;

  constructor(private readonly o: WebhookDeliveriesOptions) {
    this.delays = o.retryDelaysMs?.length ? o.retryDelaysMs : WEBHOOK_LIMITS.retryDelaysMs;
    this.windowMs = o.retryWindowMs ?? WEBHOOK_LIMITS.retryWindowMs;
  }

  /** Starts polling the store for deliveries due (those of before a restart included). */
  start(): void {
    this.stopped = false;
    this.poller = setInterval(
      () => this.tick(),
      this.o.pollIntervalMs ?? WEBHOOK_LIMITS.pollIntervalMs,
    );
    this.poller.unref();
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.poller);
    clearTimeout(this.wake?.timer);
    this.wake = undefined;
  }

  /** Called with each batch of stored events; returns at once. */
  eventsStored(sessionId: string, events: SessionEvent[]): void {
    const triggered: Array<[SessionEvent, Trigger]> = [];
    for (const e of events) {
      const t = triggerOf(e);
      if (t) triggered.push([e, t]);
    }
    if (triggered.length === 0 || this.stopped) return;
    void this.enqueue(sessionId, triggered, 0);
  }

  private async enqueue(sessionId: string, triggered: Array<[SessionEvent, Trigger]>, n: number) {
    try {
      const tenantId = await this.o.tenantOf(sessionId);
      if (!tenantId) return;
      const hooks = await this.o.store.listWebhooks(tenantId);
      for (const [event, trigger] of triggered) {
        for (const hook of hooks) {
          if (!hook.eventTypes.includes(trigger.type)) continue;
          const now = new Date();
          const delivery: WebhookDelivery = {
            id: deliveryIdFor(hook.id, sessionId, event.sequence),
            webhookId: hook.id,
            tenantId,
            eventType: trigger.type,
            sessionId,
            ...(typeof trigger.data.turn_id === "string" ? { turnId: trigger.data.turn_id } : {}),
            sequence: event.sequence,
            payload: payloadOf(trigger, event),
            status: "pending",
            attempts: 0,
            createTime: now,
            nextAttemptTime: now,
          };
          await this.o.store.addDelivery(delivery);
          void this.attempt(delivery, hook);
        }
      }
    } catch (err) {
      const delay = ENQUEUE_RETRY_MS[n];
      if (delay === undefined || this.stopped) {
        this.o.logger.error("webhook deliveries lost: the store did not take them", {
          sessionId,
          err,
        });
        return;
      }
      this.o.logger.warn("storing webhook deliveries failed; trying again", { sessionId, err });
      setTimeout(() => void this.enqueue(sessionId, triggered, n + 1), delay).unref();
    }
  }

  /** Sends the deliveries due now. */
  private tick(): void {
    if (this.stopped) return;
    const room = WEBHOOK_LIMITS.maxConcurrentAttempts - this.inFlight.size;
    if (room <= 0) return;
    this.o.store.dueDeliveries(new Date(), room + this.inFlight.size).then(
      (due) => {
        for (const d of due) void this.attempt(d);
      },
      (err: unknown) => this.o.logger.warn("reading webhook deliveries due failed", { err }),
    );
  }

  private wakeAt(at: number): void {
    if (this.stopped || (this.wake && this.wake.at <= at)) return;
    clearTimeout(this.wake?.timer);
    const timer = setTimeout(
      () => {
        this.wake = undefined;
        this.tick();
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
    this.wake = { at, timer };
  }

  private async attempt(d: WebhookDelivery, known?: Webhook): Promise<void> {
    if (this.stopped || this.inFlight.has(d.id)) return;
    // Past the limit the delivery stays due: the next poll sends it.
    if (this.inFlight.size >= WEBHOOK_LIMITS.maxConcurrentAttempts) {
      this.putOff = true;
      return;
    }
    this.inFlight.add(d.id);
    try {
      const hook = known ?? (await this.o.store.loadWebhook(d.webhookId));
      if (!hook) return; // deleted: its deliveries went with it
      const now = new Date();
      let status = 0;
      let error = "";
      try {
        const timeout = AbortSignal.timeout(
          this.o.attemptTimeoutMs ?? WEBHOOK_LIMITS.attemptTimeoutMs,
        );
        const headers = signedHeaders(hook.secret, d.id, d.payload, now);
        const r = await this.o.post(hook.url, headers, d.payload, timeout);
        status = r.status;
        if (status < 200 || status > 299)
          error = `the endpoint answered ${status}${r.text ? `: ${r.text}` : ""}`;
      } catch (err) {
        error =
          err instanceof Error
            ? err.cause instanceof Error
              ? `${err.message}: ${err.cause.message}`
              : err.message
            : String(err);
      }
      const attempts = d.attempts + 1;
      const { nextAttemptTime: _n, lastError: _e, ...rest } = d;
      let next: WebhookDelivery;
      let result: AttemptResult;
      if (!error) {
        next = {
          ...rest,
          attempts,
          status: "delivered",
          lastAttemptTime: now,
          lastStatusCode: status,
        };
        result = "delivered";
      } else {
        const at = now.getTime() + this.delays[Math.min(attempts, this.delays.length) - 1]!;
        const giveUp = at - d.createTime.getTime() > this.windowMs;
        next = {
          ...rest,
          attempts,
          status: giveUp ? "failed" : "pending",
          lastAttemptTime: now,
          lastStatusCode: status,
          lastError: error.slice(0, WEBHOOK_LIMITS.maxErrorChars),
          ...(giveUp ? {} : { nextAttemptTime: new Date(at) }),
        };
        result = giveUp ? "gave_up" : "failed";
        if (!giveUp) this.wakeAt(at);
      }
      await this.o.store.updateDelivery(next);
      this.o.onAttempt?.(next, result);
    } catch (err) {
      // The store failed: the delivery stays as stored and the poll tries it again.
      this.o.logger.warn("a webhook delivery could not be recorded", { deliveryId: d.id, err });
    } finally {
      this.inFlight.delete(d.id);
      if (this.putOff) {
        this.putOff = false;
        this.tick();
      }
    }
  }
}
