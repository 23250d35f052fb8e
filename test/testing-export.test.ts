// The README's "Writing your own persistence adapter" example, run as written: the behaviour
// suite reached through the package's exports ("agent-runtime/testing", a self-reference by
// package name) against MemoryPersistence. The test at the end keeps the README's copy the same.

// --- the README example, from here ---
import { MemoryPersistence } from "agent-runtime"; // your adapter instead
import { persistenceSuite } from "agent-runtime/testing";

persistenceSuite("MemoryPersistence", {
  // A fresh, empty store for every test (a new database, say).
  create: async () => new MemoryPersistence(),
  // Optional: after every test, given what create() returned (default: its close()).
  cleanup: async (adapter) => adapter.close?.(),
});

// --- to here ---

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

describe("README: Writing your own persistence adapter", () => {
  it("shows the example this file runs", () => {
    const source = readFileSync(fileURLToPath(import.meta.url), "utf8");
    const example =
      /\/\/ --- the README example, from here ---\n([\s\S]*?)\/\/ --- to here ---/.exec(
        source,
      )![1]!;
    const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
    expect(readme).toContain(`\`\`\`ts\n${example.trim()}\n\`\`\``);
  });
});
