import { Mutex } from "async-mutex";

/**
 * One FIFO mutex per key (a session id), created on first use and dropped when nobody holds or
 * waits for it, so a lock exists only while it is in use.
 */
export class KeyedLock {
  private readonly locks = new Map<string, { mutex: Mutex; users: number }>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let entry = this.locks.get(key);
    if (!entry) {
      entry = { mutex: new Mutex(), users: 0 };
      this.locks.set(key, entry);
    }
    entry.users++;
    try {
      return await entry.mutex.runExclusive(fn);
    } finally {
      if (--entry.users === 0) this.locks.delete(key);
    }
  }

  /** Whether anyone holds or waits for the key's lock. */
  isBusy(key: string): boolean {
    return this.locks.has(key);
  }
}
