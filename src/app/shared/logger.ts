// Structured logs: one JSON object per line on stdout.

import type { Logger } from "../../ports/logger.js";
import { activeTraceIds } from "../observe/tracing.js";

export type { Logger };

export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(
  level: LogLevel = "info",
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Logger {
  const log =
    (at: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (ORDER[at] < ORDER[level]) return;
      const extra: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(fields)) {
        extra[k] = v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v;
      }
      // Inside a span (tracing on), the line carries its trace and span ids.
      const ids = activeTraceIds();
      write(JSON.stringify({ time: new Date().toISOString(), level: at, msg, ...ids, ...extra }));
    };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** A logger that drops everything, for embedders and tests that do not want logs. */
export const silentLogger: Logger = createLogger("error", () => {});
