// Command-line flags of the bench scripts: `--name=value`, each with an environment variable and
// a default, in that order of precedence (flag, variable, default).

export interface FlagSpec {
  /** Environment variable that sets it when no flag does. */
  env: string;
  default: string;
  /** One line for the usage message. */
  help: string;
}

export type Flags<K extends string> = Record<K, string>;

/** Parses process.argv; an unknown flag throws with the usage. */
export function parseFlags<K extends string>(
  specs: Record<K, FlagSpec>,
  argv = process.argv.slice(2),
): Flags<K> {
  const values = {} as Flags<K>;
  for (const [name, spec] of Object.entries(specs) as [K, FlagSpec][]) {
    values[name] = process.env[spec.env] || spec.default;
  }
  for (const arg of argv) {
    const [key = "", value = ""] = arg.replace(/^--/, "").split(/=(.*)/s);
    if (!(key in specs)) throw new Error(`unknown argument ${arg}\n${usage(specs)}`);
    values[key as K] = value === "" && !arg.includes("=") ? "true" : value;
  }
  return values;
}

export function usage(specs: Record<string, FlagSpec>): string {
  return Object.entries(specs)
    .map(([name, s]) => `  --${name}=...  (${s.env}, default ${s.default || "none"}): ${s.help}`)
    .join("\n");
}

/** A whole number >= min, or throws naming the flag. */
export function wholeNumber(name: string, raw: string, min = 1): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name} must be a whole number >= ${min}`);
  return n;
}

/** A comma-separated list, each item one of `allowed`. */
export function listOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T[] {
  const items = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item as T)) {
      throw new Error(`--${name}: unknown ${item} (${allowed.join(", ")})`);
    }
  }
  return items as T[];
}
