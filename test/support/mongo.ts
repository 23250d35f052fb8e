// A real MongoDB-wire server for tests: FerretDB v1, built by scripts/setup-ferretdb.sh, over
// SQLite (the default) or over PostgreSQL 15 (Debian's, a private cluster in a temp dir). One
// FerretDB per call, on a free port with fresh data. With MONGODB_URI set, that server is used
// instead (unless the caller needs a server of its own to inject faults: `own: true`). Each call
// gives a fresh random database name so test files do not see each other's data. Nothing is
// skipped: when a server cannot start, this throws.
//
// PostgreSQL: one cluster per test process (started by the first call, stopped when the last
// user stops), one PostgreSQL database per FerretDB. FerretDB v1 wedges for good once its
// PostgreSQL pool is exhausted (every later query times out, even after clients go away), so the
// pool is sized well above what the tests open: `pool_max_conns=PG_POOL_MAX_CONNS` (200) with
// PostgreSQL's `max_connections` above it. The MongoDB driver opens at most `maxPoolSize` (100 by
// default) connections per client and FerretDB uses at most one PostgreSQL connection per
// MongoDB operation, so one server process plus the test's own client stay below 200.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { MongoClient } from "mongodb";

export type MongoBackend = "sqlite" | "postgresql";

export interface MongoServer {
  /** Connection string of the server (no database in it). */
  uri: string;
  /** A database name of its own for the caller (random). */
  dbName: string;
  /** What serves `uri`: FerretDB over SQLite or PostgreSQL, or the server of MONGODB_URI. */
  backend: MongoBackend | "external";
  /** FerretDB's process id (changes at restart); undefined for an external server. */
  readonly pid: number | undefined;
  /** SIGKILL to FerretDB; resolves once it is gone. The data stays for restart(). */
  kill(): Promise<void>;
  /** SIGSTOP to FerretDB: its sockets stay open and nothing answers. */
  pause(): void;
  /** SIGCONT to FerretDB. */
  resume(): void;
  /** Starts FerretDB again (stopping it first if it runs) on the same data and port; waits for a ping. */
  restart(): Promise<void>;
  /** Stops the server this started (and removes its data); with MONGODB_URI, drops dbName. */
  stop(): Promise<void>;
  /** What FerretDB printed (the first 20,000 characters of each run). */
  logs(): string;
}

export interface StartMongoOptions {
  /** Default "sqlite". Ignored when MONGODB_URI is set (unless `own`). */
  backend?: MongoBackend;
  /** Start a FerretDB of our own even when MONGODB_URI is set (fault tests kill it). */
  own?: boolean;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const FERRETDB = join(ROOT, ".tools/bin/ferretdb");
const SETUP = join(ROOT, "scripts/setup-ferretdb.sh");
const PG_BIN = "/usr/lib/postgresql/15/bin";
/** FerretDB's PostgreSQL pool (its default, 50, wedges FerretDB under load: see above). */
export const PG_POOL_MAX_CONNS = 200;
/** PostgreSQL's max_connections: the pool, plus room for psql and PostgreSQL's own. */
const PG_MAX_CONNECTIONS = PG_POOL_MAX_CONNS + 30;

const execFileP = promisify(execFile);

/** How long a start may take, including a first build of FerretDB (minutes on a fresh machine). */
export const MONGO_START_TIMEOUT_MS = 15 * 60_000;

export function randomDbName(prefix = "test"): string {
  return `${prefix}_${randomBytes(6).toString("hex")}`;
}

export async function startMongo(options: StartMongoOptions = {}): Promise<MongoServer> {
  const dbName = randomDbName();
  const external = process.env.MONGODB_URI;
  if (external && !options.own) {
    await waitForPing(external, 30_000, () => undefined);
    const unsupported = () => {
      throw new Error("faults cannot be injected into the server of MONGODB_URI");
    };
    return {
      uri: external,
      dbName,
      backend: "external",
      pid: undefined,
      kill: async () => unsupported(),
      pause: unsupported,
      resume: unsupported,
      restart: async () => unsupported(),
      stop: () => dropDatabase(external, dbName),
      logs: () => "",
    };
  }
  const backend = options.backend ?? "sqlite";
  await ensureSetup(backend);
  let lastError: unknown;
  // A free port can be taken between choosing it and FerretDB binding it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startFerretDB(dbName, backend);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

/** Builds FerretDB (and installs PostgreSQL) when missing; the script serializes parallel runs. */
async function ensureSetup(backend: MongoBackend): Promise<void> {
  const needPg = backend === "postgresql" && !existsSync(join(PG_BIN, "initdb"));
  if (existsSync(FERRETDB) && !needPg) return;
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
  if (code !== 0 || !existsSync(FERRETDB) || (needPg && !existsSync(join(PG_BIN, "initdb")))) {
    throw new Error(
      `scripts/setup-ferretdb.sh failed (exit ${code}); FerretDB${needPg ? " and PostgreSQL 15 are" : " is"} needed for the MongoDB tests\n${output}`,
    );
  }
}

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  output: { text: string };
}

async function startFerretDB(dbName: string, backend: MongoBackend): Promise<MongoServer> {
  const port = await freePort();
  let dataDir: string | undefined;
  let pgDatabase: string | undefined;
  let cluster: PgCluster | undefined;
  let handlerArgs: string[];
  if (backend === "sqlite") {
    dataDir = await mkdtemp(join(tmpdir(), "ar-ferretdb-"));
    handlerArgs = ["--handler=sqlite", `--sqlite-url=file:${dataDir}/`];
  } else {
    cluster = await acquireCluster();
    pgDatabase = `ferretdb_${randomBytes(6).toString("hex")}`;
    try {
      await cluster.sql(`CREATE DATABASE ${pgDatabase}`);
    } catch (err) {
      await releaseCluster();
      throw err;
    }
    handlerArgs = [
      "--handler=postgresql",
      `--postgresql-url=postgres://postgres@127.0.0.1:${cluster.port}/${pgDatabase}?pool_max_conns=${PG_POOL_MAX_CONNS}`,
    ];
  }
  const args = [
    ...handlerArgs,
    `--listen-addr=127.0.0.1:${port}`,
    "--telemetry=disable",
    "--state-dir=-",
    "--debug-addr=-",
    "--log-level=warn",
  ];
  const uri = `mongodb://127.0.0.1:${port}/`;
  let running: Running | undefined;
  let allLogs = "";

  const launch = async () => {
    // Its own process group, like every server the tests start; the PID is FerretDB itself.
    const child = spawn(FERRETDB, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    const output = { text: "" };
    const collect = (chunk: Buffer) => {
      if (output.text.length < 20_000) output.text += chunk.toString("utf8");
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
    running = { child, exited, output };
    await waitForPing(uri, 30_000, () =>
      child.exitCode !== null || child.signalCode !== null
        ? `FerretDB exited (${child.exitCode ?? child.signalCode}):\n${output.text}`
        : undefined,
    );
  };
  const halt = async (signal: NodeJS.Signals) => {
    const r = running;
    if (!r) return;
    running = undefined;
    allLogs += r.output.text;
    if (r.child.exitCode === null && r.child.signalCode === null) {
      r.child.kill("SIGCONT");
      r.child.kill(signal);
      const timer = setTimeout(() => r.child.kill("SIGKILL"), 5_000);
      await r.exited;
      clearTimeout(timer);
    }
  };

  // Never leave a server behind, even when the test process ends without calling stop().
  const killOnExit = () => {
    running?.child.kill("SIGKILL");
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  process.once("exit", killOnExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", killOnExit);
    await halt("SIGTERM");
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (cluster && pgDatabase) {
      await cluster
        .sql(`DROP DATABASE IF EXISTS ${pgDatabase} WITH (FORCE)`)
        .catch(() => undefined);
      await releaseCluster();
    }
  };

  try {
    await launch();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    uri,
    dbName,
    backend,
    get pid() {
      return running?.child.pid;
    },
    kill: () => halt("SIGKILL"),
    pause() {
      running?.child.kill("SIGSTOP");
    },
    resume() {
      running?.child.kill("SIGCONT");
    },
    async restart() {
      await halt("SIGTERM");
      let lastError: unknown;
      // The port was just released: a few tries cover a slow release.
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await launch();
          return;
        } catch (err) {
          lastError = err;
          await halt("SIGKILL");
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      throw lastError;
    },
    stop,
    logs: () => allLogs + (running?.output.text ?? ""),
  };
}

// --- PostgreSQL: one private cluster per test process ---

interface PgCluster {
  port: number;
  /** Runs one SQL statement as the superuser (through psql). */
  sql(statement: string): Promise<void>;
  stop(): Promise<void>;
}

let clusterStarting: Promise<PgCluster> | undefined;
let clusterUsers = 0;

async function acquireCluster(): Promise<PgCluster> {
  clusterUsers++;
  clusterStarting ??= startCluster();
  try {
    return await clusterStarting;
  } catch (err) {
    clusterUsers--;
    clusterStarting = undefined;
    throw err;
  }
}

async function releaseCluster(): Promise<void> {
  clusterUsers--;
  if (clusterUsers > 0 || !clusterStarting) return;
  const starting = clusterStarting;
  clusterStarting = undefined;
  await (await starting).stop();
}

/** initdb refuses root: as root, the cluster belongs to the `postgres` user. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  const fields = line?.split(":");
  if (!fields || fields.length < 4) {
    throw new Error(
      "running as root, but there is no `postgres` user to own the PostgreSQL cluster",
    );
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

async function startCluster(): Promise<PgCluster> {
  const user = postgresUser();
  const dir = await mkdtemp(join(tmpdir(), "ar-postgres-"));
  const data = join(dir, "data");
  const socketDir = join(dir, "run");
  await mkdir(socketDir);
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(socketDir, user.uid, user.gid);
  }
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  let postmaster: ChildProcess | undefined;
  const killOnExit = () => {
    // A fast shutdown cannot be awaited here: end the whole group at once.
    if (postmaster?.pid) {
      try {
        process.kill(-postmaster.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", killOnExit);
  const fail = async (err: unknown): Promise<never> => {
    process.removeListener("exit", killOnExit);
    killOnExit();
    throw err;
  };

  try {
    await execFileP(
      join(PG_BIN, "initdb"),
      [
        "-D",
        data,
        "-U",
        "postgres",
        "--auth=trust",
        "--no-sync",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
      ],
      { ...as, cwd: dir },
    );
  } catch (err) {
    return fail(new Error(`initdb failed: ${(err as Error).message}`));
  }

  let port = 0;
  let output = "";
  for (let attempt = 0; attempt < 3 && !postmaster; attempt++) {
    port = await freePort();
    // fsync off: the tests kill FerretDB and the runtime, never the machine.
    const child = spawn(
      join(PG_BIN, "postgres"),
      [
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        socketDir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        `max_connections=${PG_MAX_CONNECTIONS}`,
        "-c",
        "fsync=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "logging_collector=off",
      ],
      { ...as, cwd: dir, stdio: ["ignore", "pipe", "pipe"], detached: true },
    );
    output = "";
    const collect = (chunk: Buffer) => {
      if (output.length < 20_000) output += chunk.toString("utf8");
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const deadline = Date.now() + 30_000;
    let ready = false;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      try {
        await execFileP(join(PG_BIN, "pg_isready"), ["-q", "-h", "127.0.0.1", "-p", String(port)]);
        ready = true;
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (ready) {
      postmaster = child;
    } else {
      child.kill("SIGKILL");
    }
  }
  if (!postmaster) {
    return fail(new Error(`PostgreSQL did not start:\n${output}`));
  }
  const pm = postmaster;
  const exited = new Promise<void>((r) => {
    if (pm.exitCode !== null || pm.signalCode !== null) r();
    else pm.once("exit", () => r());
  });

  return {
    port,
    async sql(statement) {
      await execFileP(join(PG_BIN, "psql"), [
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-c",
        statement,
      ]);
    },
    async stop() {
      process.removeListener("exit", killOnExit);
      // Fast shutdown; the whole group if it takes too long.
      pm.kill("SIGINT");
      const timer = setTimeout(() => {
        try {
          process.kill(-(pm.pid ?? 0), "SIGKILL");
        } catch {
          // already gone
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
    },
  };
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
      socketTimeoutMS: 2_000,
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

/** A TCP port nobody listens on right now, on loopback. */
export function freePort(): Promise<number> {
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
