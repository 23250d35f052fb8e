import type { PersistenceAdapter } from "../../ports/persistence.js";

/**
 * The store as the runtime uses it, telling `onUnavailable` of every call that fails with
 * STORE_UNAVAILABLE, so the health check can look at once instead of at its next tick.
 * Calls and results pass through unchanged.
 */
export function observeStore(
  store: PersistenceAdapter,
  onUnavailable: () => void,
): PersistenceAdapter {
  const seen = (err: unknown) => {
    if ((err as { reason?: unknown } | null)?.reason === "STORE_UNAVAILABLE") onUnavailable();
    throw err;
  };
  return new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result = value.apply(target, args);
        return result instanceof Promise ? result.catch(seen) : result;
      };
    },
  });
}
