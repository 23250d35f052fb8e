import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "#grpc/health/v1/health_pb.js";

/** Serving status for grpc.health.v1: "" (the server) and every served service. */
export class HealthState {
  private serving = true;
  private readonly listeners = new Set<() => void>();
  constructor(readonly services: readonly string[]) {}

  statusOf(service: string): Status | undefined {
    if (service !== "" && !this.services.includes(service)) return undefined;
    return this.serving ? Status.SERVING : Status.NOT_SERVING;
  }

  isServing(): boolean {
    return this.serving;
  }

  /** Called at shutdown: health checks answer NOT_SERVING from now on. */
  setNotServing(): void {
    this.serving = false;
    for (const listener of this.listeners) listener();
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
          if (status === Status.NOT_SERVING) return;
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
