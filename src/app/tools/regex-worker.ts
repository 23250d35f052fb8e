// Regular expressions from the model run here, in a worker thread, never on the server's event
// loop: Grep's pattern, and the expression picomatch makes of a Glob or Grep glob (`*a*a*a*b`
// backtracks too). A pattern like `(a+)+$` on a line of `a`s can run for hours, and JavaScript
// cannot interrupt a running match; terminating the thread it runs in can. So each tool call gets
// its own worker and a time budget for all its matching, and a worker past the budget is ended.
//
// Why not grep or rg in the sandbox: the tools promise JavaScript RegExp syntax (grep -E has no
// `\d`, lookarounds or `(?:...)`, and rg is not in every image), a command per call costs more
// than a thread does with a remote sandbox, and the sandbox's own limits would then decide how
// long a search may take. Why not reject risky patterns: no check tells them all apart.

import { Worker } from "node:worker_threads";
import { abortReason, ToolInputError } from "./paths.js";

/** Time each tool call may spend matching, in total. */
export const REGEX_BUDGET_MS = 5_000;

/** Plain JavaScript, so the worker runs the same whether the server runs from .ts or .js files. */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
parentPort.on("message", ({ op, source, flags, input }) => {
  const regexp = new RegExp(source, flags);
  const out = [];
  if (op === "test") {
    for (let i = 0; i < input.length; i++) if (regexp.test(input[i])) out.push(i);
  } else {
    for (let m = regexp.exec(input); m !== null; m = regexp.exec(input)) {
      out.push(m.index, m.index + m[0].length);
      if (m[0].length === 0) regexp.lastIndex++;
    }
  }
  parentPort.postMessage(out);
});
`;

/** Runs `use` with a RegexWorker (see there), and ends the worker after it. */
export async function withRegexWorker<T>(
  signal: AbortSignal,
  what: string,
  use: (worker: RegexWorker) => Promise<T>,
): Promise<T> {
  const worker = new RegexWorker(signal, what);
  try {
    return await use(worker);
  } finally {
    worker.close();
  }
}

type Task =
  | { op: "test"; source: string; flags: string; input: string[] }
  | { op: "matchAll"; source: string; flags: string; input: string };

/**
 * Runs one tool call's matching, one task at a time, within REGEX_BUDGET_MS in total. Past the budget
 * a task rejects with a ToolInputError saying that `what` was too slow; on abort, with the
 * signal's reason. `close` ends the thread.
 */
export class RegexWorker {
  private worker: Worker | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private spentMs = 0;
  private closed = false;

  private readonly tooSlow: string;

  constructor(
    private readonly signal: AbortSignal,
    what: string,
  ) {
    this.tooSlow =
      `${what} took over ${REGEX_BUDGET_MS / 1000} s to match and was stopped; simplify it (nested or ` +
      "repeated wildcards can take exponential time) or search fewer files";
  }

  /** Indexes of the strings `regexp` matches. */
  test(regexp: RegExp, strings: string[]): Promise<number[]> {
    const flags = regexp.flags.replace(/[gy]/g, "");
    return this.run({ op: "test", source: regexp.source, flags, input: strings });
  }

  /** `[start, end, start, end, ...]` of every match of `regexp` in `text`. */
  matchAll(regexp: RegExp, text: string): Promise<number[]> {
    const flags = `${regexp.flags.replace(/[gy]/g, "")}g`;
    return this.run({ op: "matchAll", source: regexp.source, flags, input: text });
  }

  /** Ends the thread; later tasks reject. */
  close(): void {
    this.closed = true;
    void this.worker?.terminate();
    this.worker = undefined;
  }

  private run(task: Task): Promise<number[]> {
    const result = this.queue.then(() => this.execute(task));
    this.queue = result.catch(() => {});
    return result;
  }

  private execute(task: Task): Promise<number[]> {
    this.signal.throwIfAborted();
    if (this.spentMs >= REGEX_BUDGET_MS) throw new ToolInputError(this.tooSlow);
    if (this.closed) throw new Error("the regular expression worker was closed");
    if (!this.worker) {
      this.worker = new Worker(WORKER_SOURCE, { eval: true });
      // A worker left behind must not keep the process alive.
      this.worker.unref();
    }
    const worker = this.worker;
    const started = performance.now();
    return new Promise<number[]>((resolve, reject) => {
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        this.signal.removeEventListener("abort", onAbort);
        worker.off("message", onMessage).off("error", onError).off("exit", onExit);
        this.spentMs += performance.now() - started;
        fn();
      };
      const onMessage = (matches: number[]) => settle(() => resolve(matches));
      const onError = (error: Error) => {
        this.close();
        settle(() => reject(error));
      };
      const onExit = () => {
        this.close();
        settle(() => reject(new Error("the regular expression worker ended")));
      };
      const onAbort = () => {
        this.close();
        settle(() => reject(abortReason(this.signal)));
      };
      const timer = setTimeout(() => {
        this.close();
        settle(() => {
          this.spentMs = REGEX_BUDGET_MS;
          reject(new ToolInputError(this.tooSlow));
        });
      }, REGEX_BUDGET_MS - this.spentMs);
      worker.on("message", onMessage).on("error", onError).on("exit", onExit);
      this.signal.addEventListener("abort", onAbort, { once: true });
      worker.postMessage(task);
    });
  }
}
