// A real MongoDB-wire server for tests: FerretDB v1 over SQLite, built by scripts/setup-ferretdb.sh
// and started here, one per call, on a free port with a fresh data directory. With MONGODB_URI set,
// that server is used instead. Each call gives a fresh random database name so test files do not
// see each other's data. Nothing is skipped: when the server cannot start, this throws.

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { MongoClient } from "mongodb";

export interface MongoServer {
  /** Connection string of the server (no database in it). */
  uri: string;
  /** A database name of its own for the caller (random). */
  dbName: string;
  /** Stops the server this started (and removes its data); with MONGODB_URI, drops dbName. */
  stop(): Promise<void>;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const FERRETDB = join(ROOT, ".tools/bin/ferretdb");
const SETUP = join(ROOT, "scripts/setup-ferretdb.sh");

/** How long a start may take, including a first build of FerretDB (minutes on a fresh machine). */
export const MONGO_START_TIMEOUT_MS = 15 * 60_000;

export function randomDbName(prefix = "test"): string {
  return `${prefix}_${randomBytes(6).toString("hex")}`;
}

export async function startMongo(): Promise<MongoServer> {
  const dbName = randomDbName();
  const external = process.env.MONGODB_URI;
  if (external) {
    await waitForPing(external, 30_000, () => undefined);
    return { uri: external, dbName, stop: () => dropDatabase(external, dbName) };
  }
  await ensureFerretDB();
  let lastError: unknown;
  // A free port can be taken between choosing it and FerretDB binding it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startFerretDB(dbName);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

/** Builds FerretDB when its binary is missing (the script serializes parallel builds). */
async function ensureFerretDB(): Promise<void> {
  if (existsSync(FERRETDB)) return;
  const child = spawn("bash", [SETUP], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c: Buffer) => {
    output += c.toString("utf8");
  });
  child.stderr.on("data", (c: Buffer) => {
    output += c.toString("utf8");
  });
  const code = await new Promise<number | null>((resolveCode, reject) => {
    child.once("error", reject);
    child.once("close", resolveCode);
  });
  if (code !== 0 || !existsSync(FERRETDB)) {
    throw new Error(
      `scripts/setup-ferretdb.sh failed (exit ${code}); FerretDB is needed for the MongoDB tests\n${output}`,
    );
  }
}

async function startFerretDB(dbName: string): Promise<MongoServer> {
  const dataDir = await mkdtemp(join(tmpdir(), "ar-ferretdb-"));
  const port = await freePort();
  const child = spawn(
    FERRETDB,
    [
      "--handler=sqlite",
      `--sqlite-url=file:${dataDir}/`,
      `--listen-addr=127.0.0.1:${port}`,
      "--telemetry=disable",
      "--state-dir=-",
      "--debug-addr=-",
      "--log-level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const collect = (chunk: Buffer) => {
    if (output.length < 20_000) output += chunk.toString("utf8");
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  // Never leave a server behind, even when the test process ends without calling stop().
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const stop = async () => {
    process.removeListener("exit", killOnExit);
    await killChild(child, exited);
    await rm(dataDir, { recursive: true, force: true });
  };

  const uri = `mongodb://127.0.0.1:${port}/`;
  try {
    await waitForPing(uri, 30_000, () =>
      child.exitCode !== null || child.signalCode !== null
        ? `FerretDB exited (${child.exitCode ?? child.signalCode}):\n${output}`
        : undefined,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { uri, dbName, stop };
}

/** Waits until the server answers a ping; `failure` says why to stop waiting early. */
async function waitForPing(
  uri: string,
  timeoutMs: number,
  failure: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const reason = failure();
    if (reason) throw new Error(reason);
    const client = new MongoClient(uri, {
      serverSelectionTimeoutMS: 1_000,
      connectTimeoutMS: 1_000,
    });
    try {
      await client.connect();
      await client.db("admin").command({ ping: 1 });
      return;
    } catch (err) {
      lastError = err;
    } finally {
      await client.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no MongoDB ping from ${uri} within ${timeoutMs} ms: ${String(lastError)}`);
}

async function dropDatabase(uri: string, dbName: string): Promise<void> {
  const client = new MongoClient(uri);
  try {
    await client.connect();
    await client.db(dbName).dropDatabase();
  } finally {
    await client.close();
  }
}

async function killChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => (port ? resolvePort(port) : reject(new Error("no free port"))));
    });
  });
}
