// Issue 10's proof: one scenario (test/clients/scenario.json), run by the TypeScript, Python and
// Go SDKs against one real server with API keys, each through a proxy that cuts every connection
// in the middle of the turn's feed. Each client must resume with no gap or duplicate, read the
// file the agent wrote, and read a NOT_FOUND's reason from its typed error.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CutProxy, startCutProxy } from "./support/cut-proxy.js";
import {
  loadScenario,
  runProgram,
  SCENARIO_FILE,
  ScenarioObserver,
} from "./support/scenario-harness.js";
import { REPO_ROOT, type StartedServer, startServer } from "./support/server.js";

const KEY = "clients-scenario-key-0123456789";
const scenario = loadScenario();
let server: StartedServer;
const proxies: CutProxy[] = [];

beforeAll(async () => {
  server = await startServer({ env: { AGENT_RUNTIME_API_KEYS: `${KEY}=scenario` } });
});

afterAll(async () => {
  for (const proxy of proxies) await proxy.close();
  if (server) await server.stop();
});

interface Runner {
  language: string;
  /** The runner's file, which must exist. */
  file: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  timeoutMs: number;
}

const RUNNERS: Runner[] = [
  {
    language: "typescript",
    file: "sdk/ts/scenario/run.ts",
    command: process.execPath,
    args: ["--import", "tsx", "sdk/ts/scenario/run.ts", SCENARIO_FILE],
    timeoutMs: 60_000,
  },
  {
    language: "python",
    file: "sdk/python/scenario_runner.py",
    command: join(REPO_ROOT, ".venv/bin/python"),
    args: ["sdk/python/scenario_runner.py", SCENARIO_FILE],
    env: {
      // Lines must reach the harness as they are printed, not when the runner exits.
      PYTHONUNBUFFERED: "1",
      // This checkout's SDK and generated code, before whatever the venv has installed.
      PYTHONPATH: [
        join(REPO_ROOT, "sdk/python"),
        join(REPO_ROOT, "gen/python"),
        process.env.PYTHONPATH,
      ]
        .filter(Boolean)
        .join(":"),
    },
    timeoutMs: 90_000,
  },
  {
    language: "go",
    file: "sdk/go/cmd/scenario",
    command: "go",
    args: ["run", "./sdk/go/cmd/scenario", SCENARIO_FILE],
    env: { PATH: `/usr/local/go/bin:${process.env.PATH ?? ""}` },
    // The first `go run` compiles the program.
    timeoutMs: 240_000,
  },
];

describe("the shared client scenario", () => {
  for (const runner of RUNNERS) {
    it(
      `runs with the ${runner.language} SDK, resuming across a cut connection`,
      async () => {
        expect(
          existsSync(join(REPO_ROOT, runner.file)),
          `${runner.file} does not exist: the ${runner.language} SDK's scenario runner is missing`,
        ).toBe(true);
        const proxy = await startCutProxy(server.port);
        proxies.push(proxy);
        const name = `${runner.language}-${Date.now().toString(36)}`;
        const observer = new ScenarioObserver(
          scenario,
          { url: server.url, apiKey: KEY },
          proxy,
          name,
        );
        const result = await runProgram(
          observer,
          runner.command,
          runner.args,
          {
            ...runner.env,
            AGENT_RUNTIME_URL: proxy.url,
            AGENT_RUNTIME_API_KEY: KEY,
            SCENARIO_NAME: name,
          },
          runner.timeoutMs,
        );
        await observer.finish();
        const context = `runner stderr:\n${result.stderr.slice(-4000)}\nlines:\n${JSON.stringify(observer.lines).slice(0, 4000)}`;
        expect(result.code, `the runner's exit code; ${context}`).toBe(0);
        expect(observer.failures(), context).toEqual([]);
        expect(proxy.cuts).toBeGreaterThan(0);
      },
      runner.timeoutMs + 30_000,
    );
  }
});
