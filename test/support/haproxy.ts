// Starts HAProxy (the Debian package, scripts/setup-system.sh) in the foreground on a free port
// in front of given backend ports, with the configuration of the deploy recipe
// (deploy/haproxy/render.sh), for tests that go through a load balancer.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./server.js";

const execFileP = promisify(execFile);

export interface StartedHaproxy {
  /** `http://127.0.0.1:<port>`: HTTP/1.1 and h2c. */
  url: string;
  port: number;
  /** What HAProxy printed. */
  logs: string[];
  /** Stops HAProxy and removes its configuration. */
  stop(): Promise<void>;
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

/**
 * HAProxy on 127.0.0.1 in front of `backendPorts` (on 127.0.0.1); resolves once a request to
 * /healthz through it is answered 200, i.e. once it passes requests to a healthy replica.
 */
export async function startHaproxy(
  backendPorts: number[],
  timeoutMs = 30_000,
): Promise<StartedHaproxy> {
  const dir = await mkdtemp(join(tmpdir(), "ar-haproxy-"));
  const port = await freePort();
  const { stdout: config } = await execFileP("bash", [
    join(REPO_ROOT, "deploy/haproxy/render.sh"),
    `127.0.0.1:${port}`,
    ...backendPorts.map((p) => `127.0.0.1:${p}`),
  ]);
  const configPath = join(dir, "haproxy.cfg");
  await writeFile(configPath, config);

  const logs: string[] = [];
  const child: ChildProcess = spawn("haproxy", ["-db", "-f", configPath], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => logs.push(...chunk.split("\n").filter(Boolean)));
  }
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  let spawnError: Error | undefined;
  child.once("error", (err) => {
    spawnError = err;
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const stop = async () => {
    process.removeListener("exit", killOnExit);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(killer);
    await rm(dir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError || child.exitCode !== null) {
      await stop(); // also waits for its last output
      throw new Error(
        `haproxy did not start (${spawnError?.message ?? `exit ${child.exitCode}`}):\n${logs.join("\n")}`,
      );
    }
    const status = await fetch(`${url}/healthz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy at ${url} never answered /healthz with 200:\n${logs.join("\n")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, port, logs, stop };
}
