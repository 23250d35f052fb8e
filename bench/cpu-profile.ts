/**
 * Summarises a V8 CPU profile (`node --cpu-prof` writes one at exit): self time by area (npm
 * package, folder of src/, Node internals, GC) and by function.
 *
 *   node --import tsx bench/cpu-profile.ts <file.cpuprofile> [--top=20]
 */
import { formatSummary, readProfile, summariseProfile } from "./support/cpuprofile.js";

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--"));
const top = Number(/^--top=(\d+)$/.exec(args.find((a) => a.startsWith("--top=")) ?? "")?.[1] ?? 20);
if (!file) {
  console.error("usage: node --import tsx bench/cpu-profile.ts <file.cpuprofile> [--top=20]");
  process.exit(2);
}
try {
  console.log(formatSummary(summariseProfile(readProfile(file)), top));
} catch (err) {
  console.error(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
}
