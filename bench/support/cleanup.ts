// Stopping what a bench started (FerretDB, PostgreSQL, servers) when it is interrupted: Ctrl-C
// or SIGTERM would otherwise end the process without its `finally` blocks.

const cleanups = new Set<() => Promise<unknown>>();
let installed = false;

/** Runs `fn` if the process is interrupted before `release()` is called. */
export function onInterrupt(fn: () => Promise<unknown>): () => void {
  if (!installed) {
    installed = true;
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        console.error(`${signal}: cleaning up`);
        void Promise.allSettled([...cleanups].map((c) => c())).then(() => process.exit(130));
      });
    }
  }
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** A progress line on stderr, with the seconds since the previous one. */
export function progress(): (what: string) => void {
  let last = performance.now();
  return (what) => {
    const now = performance.now();
    console.error(`  [${((now - last) / 1000).toFixed(1)}s] ${what}`);
    last = now;
  };
}
