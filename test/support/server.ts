// Starts the real server (`node --import tsx src/main.ts`) as a child process on a free port,
// for tests that talk to it over sockets with real clients.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

export interface StartedServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** Sends SIGTERM and resolves with the exit code (-1 when killed by a signal). */
  stop(): Promise<number>;
  /** Kills the server at once (a crash), then resolves. */
  crash(): Promise<void>;
  /** Every line the server printed (stdout and stderr), as it comes. */
  logs: string[];
  /** The server's process id (with `processGroup`, also its process group's). */
  pid: number;
  /**
   * Resolves when the process has ended; `expected` is false when it ended on its own (neither
   * stop() nor crash() was called first).
   */
  exited: Promise<ServerExit>;
}

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  expected: boolean;
}

export interface StartServerOptions {
  /** Extra environment; overrides the defaults (PORT=0, HOST=127.0.0.1, a temp DATA_DIR). */
  env?: Record<string, string>;
  /** How long to wait for the "listening" log line; 60 s by default. */
  timeoutMs?: number;
  /**
   * Start the server in a process group of its own (`detached`): crash() then kills the whole
   * group (the server and its sandboxes) and stop() ends what is left of the group after the
   * server exits. Default false.
   */
  processGroup?: boolean;
  /** Extra arguments to node before the script (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
}

/** Spawns the server and resolves once it logs `{"msg":"listening","port":...}`. */
export async function startServer(options: StartServerOptions = {}): Promise<StartedServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "agent-runtime-test-"));
  const timeoutMs = options.timeoutMs ?? 60_000;
  const logs: string[] = [];
  // process.execPath directly (no npx, no shell), so the child's PID is the server's.
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), "--import", "tsx", "src/main.ts"],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        PORT: "0",
        HOST: "127.0.0.1",
        DATA_DIR: dataDir,
        // In-memory persistence, whatever the developer's shell says.
        MONGODB_URI: "",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: options.processGroup ?? false,
    },
  );

  let ending = false;
  const ended = new Promise<ServerExit>((resolveExit) => {
    child.once("close", (code, signal) => resolveExit({ code, signal, expected: ending }));
  });
  const exited = ended.then(({ code, signal }) => code ?? (signal ? -1 : 0));
  const group = options.processGroup ?? false;
  const signalAll = (signal: NodeJS.Signals) => {
    if (group && child.pid) {
      try {
        process.kill(-child.pid, signal);
        return;
      } catch {
        // the group is gone
      }
    }
    child.kill(signal);
  };
  // Never leave a server behind when the test process ends without stopping it.
  const killOnExit = () => signalAll("SIGKILL");
  process.once("exit", killOnExit);
  void ended.then(() => process.removeListener("exit", killOnExit));
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await rm(dataDir, { recursive: true, force: true });
  };

  let port: number;
  try {
    port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `server did not log "listening" within ${timeoutMs} ms; logs:\n${logs.join("\n")}`,
          ),
        );
      }, timeoutMs);
      const onLine = (line: string, fromStdout: boolean) => {
        logs.push(line);
        if (!fromStdout) return;
        const found = listeningPort(line);
        if (found !== undefined) {
          clearTimeout(timer);
          resolvePort(found);
        }
      };
      collectLines(child, "stdout", (line) => onLine(line, true));
      collectLines(child, "stderr", (line) => onLine(line, false));
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot spawn the server: ${err.message}`));
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(
          new Error(`server exited with code ${code} before listening; logs:\n${logs.join("\n")}`),
        );
      });
    });
  } catch (err) {
    ending = true;
    signalAll("SIGKILL");
    await cleanup();
    throw err;
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    logs,
    pid: child.pid ?? 0,
    exited: ended,
    async stop() {
      ending = true;
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const killer = setTimeout(() => signalAll("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(killer);
      if (group) signalAll("SIGKILL");
      await cleanup();
      return code;
    },
    async crash() {
      ending = true;
      signalAll("SIGKILL");
      await exited;
      await cleanup();
    },
  };
}

function listeningPort(line: string): number | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const entry = JSON.parse(line) as { msg?: unknown; port?: unknown };
    if (entry.msg === "listening" && typeof entry.port === "number" && entry.port > 0) {
      return entry.port;
    }
  } catch {
    // Not a JSON log line.
  }
  return undefined;
}

function collectLines(
  child: ChildProcess,
  stream: "stdout" | "stderr",
  onLine: (line: string) => void,
): void {
  let rest = "";
  const source = child[stream];
  if (!source) return;
  source.setEncoding("utf8");
  source.on("data", (chunk: string) => {
    rest += chunk;
    let newline = rest.indexOf("\n");
    while (newline >= 0) {
      onLine(rest.slice(0, newline));
      rest = rest.slice(newline + 1);
      newline = rest.indexOf("\n");
    }
  });
  source.on("end", () => {
    if (rest) onLine(rest);
    rest = "";
  });
}
