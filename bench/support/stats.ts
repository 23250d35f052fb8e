// Figures the bench scripts print: percentiles, durations, and a header naming the machine.

import os from "node:os";

/** The q-quantile (0..1) of ascending `sorted` (nearest rank); NaN when empty. */
export function pct(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : NaN;
}

/** Ascending copy. */
export function sorted(values: number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** `12ms`, `1.23ms` below 10, `-` for NaN. */
export function ms(n: number): string {
  if (Number.isNaN(n)) return "-";
  return n < 10 ? `${n.toFixed(2)}ms` : `${Math.round(n)}ms`;
}

/** One line: the bench's name, Node, OS, CPUs, load average, time. */
export function machineHeader(name: string): string {
  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(" ");
  return `${name}  node ${process.version}  ${os.platform()}/${os.arch()}  ${cpus.length} CPUs (${cpus[0]?.model.trim()})  load ${load}  ${new Date().toISOString()}`;
}

/** Left-aligned columns: every row padded to the widest cell of each column. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
