// A memory store whose calls fail on demand, as an outage would: for the fault tests.

import { MemoryPersistence } from "../../src/adapters/memory/persistence.js";
import { AppError } from "../../src/domain/errors.js";
import type { PersistenceAdapter } from "../../src/ports/persistence.js";

export /** A memory store whose methods fail while they are in `failing` (as an outage would). */
function faultyStore(): {
  store: PersistenceAdapter;
  failing: Set<string>;
  /** Fails the calls it says yes to, too. */
  failWhen: { test?: ((name: string, args: unknown[]) => boolean) | undefined };
  calls: Map<string, number>;
} {
  const inner = new MemoryPersistence();
  const failing = new Set<string>();
  const failWhen: { test?: ((name: string, args: unknown[]) => boolean) | undefined } = {};
  const calls = new Map<string, number>();
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function" || typeof name !== "string") return value;
      return (...args: unknown[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        if (failing.has(name) || failWhen.test?.(name, args)) {
          return Promise.reject(
            new AppError("unavailable", "STORE_UNAVAILABLE", `injected: ${name} fails`),
          );
        }
        return value.apply(target, args);
      };
    },
  });
  return { store, failing, failWhen, calls };
}
