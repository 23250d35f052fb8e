// The local sandbox's dependencies, secret environment and per-command network, through the
// provider: what a restarted server's provider finds again, and what the installer may reach.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalSandboxProvider } from "../src/adapters/local-sandbox/provider.js";
import { silentLogger } from "../src/app/shared/logger.js";
import { defaultSettings } from "./sandbox.suite.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const SESSION = "ses_depstest01";
const CONNECT = `python3 -c "import socket; socket.create_connection(('pypi.org', 443), 5)" && echo OPEN || echo CLOSED`;

describe("local sandbox extras", () => {
  it("opens the network for one command only, and a re-attached sandbox keeps secrets and packages", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "ar-deps-"));
    dirs.push(dataDir);
    const provider = await LocalSandboxProvider.create({ dataDir, logger: silentLogger });
    const progress: string[] = [];
    const sandbox = await provider.create({
      sessionId: SESSION,
      settings: defaultSettings(),
      secretEnv: { TOKEN: "t0ken" },
      dependencies: { npm: ["is-number@7.0.0"], pip: ["six==1.16.0"] },
      onProgress: (m) => progress.push(m),
    });
    expect(progress.filter((m) => m.startsWith("installing dependencies"))).toHaveLength(1);
    expect((await sandbox.exec({ command: CONNECT })).stdout.trim()).toBe("CLOSED");
    expect((await sandbox.exec({ command: CONNECT, allowNetwork: true })).stdout.trim()).toBe(
      "OPEN",
    );
    // The packages are read-only for the agent.
    const write = await sandbox.exec({ command: 'touch "$AGENT_DEPS_DIR/python/x"' });
    expect(write.exitCode).not.toBe(0);

    // A restarted server's provider finds the sandbox with its secret and its packages.
    const again = await LocalSandboxProvider.create({ dataDir, logger: silentLogger });
    const attached = await again.attach(sandbox.id, SESSION);
    const r = await attached!.exec({
      command:
        `python3 -c "import six; print(six.__version__)" && echo "token=$TOKEN" && ` +
        `node -e "console.log('is-number', require('is-number')(5))"`,
    });
    expect(r.stdout).toContain("1.16.0");
    expect(r.stdout).toContain("token=t0ken");
    expect(r.stdout).toContain("is-number true");
    await attached!.terminate();
  }, 120_000);
});
