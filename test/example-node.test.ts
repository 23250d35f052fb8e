// examples/node/run-turn.ts, run as a user would (a child process with the environment set)
// against the real server with API keys.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, type StartedServer, startServer } from "./support/server.js";

const KEY = "example-node-key-0123456789";
const EXAMPLE = "examples/node/run-turn.ts";
let server: StartedServer;

beforeAll(async () => {
  server = await startServer({ env: { AGENT_RUNTIME_API_KEYS: `${KEY}=acme` } });
});

afterAll(async () => {
  await server?.stop();
});

const run = (env: Record<string, string>) =>
  promisify(execFile)(process.execPath, ["--import", "tsx", EXAMPLE, "hi there"], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    timeout: 60_000,
  });

describe("examples/node", () => {
  it("is under 40 lines", () => {
    expect(
      readFileSync(join(REPO_ROOT, EXAMPLE), "utf8").trimEnd().split("\n").length,
    ).toBeLessThan(40);
  });

  it("runs a turn of the demo profile and prints the conversation", async () => {
    const { stdout } = await run({ AGENT_RUNTIME_URL: server.url, AGENT_RUNTIME_API_KEY: KEY });
    const lines = stdout.split("\n");
    expect(lines[0]).toBe("user: hi there");
    expect(stdout).toMatch(/^tool Write .*-> Created/m);
    expect(stdout).toMatch(/^tool Bash .*ls -la notes/m);
    expect(stdout).toMatch(/^turn trn_\w+: COMPLETED$/m);
    expect(stdout).toContain("> hi there");
  });

  it("prints a typed error's reason and exits 1", async () => {
    const failed = await run({
      AGENT_RUNTIME_URL: server.url,
      AGENT_RUNTIME_API_KEY: "wrong-key-0123456789",
    }).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toMatch(/^UNAUTHENTICATED /);
  });
});
