import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "#grpc/health/v1/health_pb.js";

/**
 * Serving status for grpc.health.v1 and /healthz: "" (the server) and every served service.
 * SERVING while every condition holds: the store answers, restart recovery is done, the server
 * is not shutting down.
 */
export class HealthState {
  private readonly failing = new Set<string>();
  private readonly listeners = new Set<() => void>();
  constructor(readonly services: readonly string[]) {}

  statusOf(service: string): Status | undefined {
    if (service !== "" && !this.services.includes(service)) return undefined;
    return this.isServing() ? Status.SERVING : Status.NOT_SERVING;
  }

  isServing(): boolean {
    return this.failing.size === 0;
  }

  /** Whether a condition holds (conditions never set hold). */
  isOk(condition: string): boolean {
    return !this.failing.has(condition);
  }

  /** Sets a condition; watchers hear of a change of the overall status. */
  set(condition: string, ok: boolean): void {
    const before = this.isServing();
    if (ok) this.failing.delete(condition);
    else this.failing.add(condition);
    if (before !== this.isServing()) for (const listener of this.listeners) listener();
  }

  /** The conditions that do not hold, for /healthz. */
  get failingConditions(): string[] {
    return [...this.failing];
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function registerHealth(router: ConnectRouter, health: HealthState): void {
  router.service(Health, {
    check(req) {
      const status = health.statusOf(req.service);
      if (status === undefined)
        throw new ConnectError(`unknown service ${req.service}`, Code.NotFound);
      return { status };
    },
    list() {
      const statuses: Record<string, { status: Status }> = {};
      for (const name of ["", ...health.services])
        statuses[name] = { status: health.statusOf(name)! };
      return { statuses };
    },
    async *watch(req, ctx) {
      let changed: (() => void) | undefined;
      const off = health.onChange(() => changed?.());
      try {
        let last: Status | undefined;
        while (!ctx.signal.aborted) {
          const status = health.statusOf(req.service) ?? Status.SERVICE_UNKNOWN;
          if (status !== last) yield { status };
          last = status;
          if (!health.isOk("shutting_down")) return;
          await new Promise<void>((resolve) => {
            changed = resolve;
            ctx.signal.addEventListener("abort", () => resolve(), { once: true });
          });
        }
      } finally {
        off();
      }
    },
  });
}
