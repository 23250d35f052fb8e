// The standalone server keeps working, and stops on SIGTERM, when whoever read its logs went away.

import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { REPO_ROOT } from "./support/server.js";

it("goes on serving and exits 0 on SIGTERM after its stdout pipe closed", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "ar-stdout-"));
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, LOG_LEVEL: "debug" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let buffered = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        const match = /"msg":"listening"[^\n]*"port":(\d+)/.exec(buffered);
        if (match) resolve(Number(match[1]));
      });
      child.on("exit", (code) => reject(new Error(`exited early (${code})`)));
    });
    // The reader goes away; every later log line finds a closed pipe.
    child.stdout!.destroy();
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(res.status).toBe(200);
      await fetch(`http://127.0.0.1:${port}/nowhere`); // logged, at debug level
    }
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  } finally {
    child.kill("SIGKILL");
    await rm(dataDir, { recursive: true, force: true });
  }
}, 60_000);
