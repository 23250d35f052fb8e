// Checks a reviewer makes on the tree: no import circle in src/, no source file over 400 lines,
// and the layers' arrows point inward (domain imports nothing of ours but domain; ports only
// domain; app no adapter or transport; adapters no app or transport; testing, the behaviour
// suites the package exports for adapter authors, only domain and ports).

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");
const MAX_LINES = 400;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith(".ts")
        ? [join(dir, e.name)]
        : [],
  );
}

/** Every relative import of a file (type-only ones too), as source paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) => m[1]!);
  return specs.map((s) => resolve(dirname(file), s.replace(/\.js$/, ".ts")));
}

const files = sources(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f).filter((i) => i.startsWith(SRC))]));
const rel = (f: string) => relative(SRC, f);

describe("the source tree", () => {
  it("has no import circle", () => {
    const cycles: string[] = [];
    const state = new Map<string, "visiting" | "done">();
    const stack: string[] = [];
    const visit = (f: string) => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "visiting") {
        cycles.push([...stack.slice(stack.indexOf(f)), f].map(rel).join(" -> "));
        return;
      }
      state.set(f, "visiting");
      stack.push(f);
      for (const next of graph.get(f) ?? []) visit(next);
      stack.pop();
      state.set(f, "done");
    };
    for (const f of files) visit(f);
    expect(cycles).toEqual([]);
  });

  it("has no source file over 400 lines", () => {
    const long = files
      .map((f) => ({ file: rel(f), lines: readFileSync(f, "utf8").split("\n").length - 1 }))
      .filter((f) => f.lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  it("keeps the layers' arrows pointing inward", () => {
    const allowed: Record<string, string[]> = {
      domain: ["domain"],
      ports: ["domain", "ports"],
      app: ["domain", "ports", "app"],
      adapters: ["domain", "ports", "adapters"],
      transport: ["domain", "ports", "app", "transport"],
      testing: ["domain", "ports", "testing"],
    };
    const wrong: string[] = [];
    for (const [file, imports] of graph) {
      const layer = rel(file).split("/")[0]!;
      const ok = allowed[layer];
      if (!ok) continue; // the composition root (runtime.ts, main.ts, server.ts, index.ts)
      for (const i of imports) {
        if (!ok.includes(rel(i).split("/")[0]!)) wrong.push(`${rel(file)} -> ${rel(i)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
