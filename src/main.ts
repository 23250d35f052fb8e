// The standalone server: configuration from the environment, then the same library hosts embed.

import { MemoryPersistence } from "./adapters/memory/persistence.js";
import { createLogger } from "./app/logger.js";
import { ConfigError, loadConfig } from "./config.js";
import type { PersistenceAdapter } from "./ports/persistence.js";
import { createAgentRuntime } from "./runtime.js";
import { listen } from "./server.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);

  let persistence: PersistenceAdapter;
  if (config.mongodbUri) {
    const { MongoPersistence } = await import("./adapters/mongodb/persistence.js");
    persistence = await MongoPersistence.connect(config.mongodbUri, config.mongodbDb);
    logger.info("persistence: mongodb", { db: config.mongodbDb });
  } else {
    persistence = new MemoryPersistence();
    logger.warn("persistence: in memory; everything is lost at exit (set MONGODB_URI to keep it)");
  }

  const runtime = await createAgentRuntime({
    persistence,
    apiKeys: config.apiKeys,
    corsOrigins: config.corsOrigins,
    logger,
  });
  await runtime.start();
  const server = await listen(runtime, { port: config.port, host: config.host });
  if (config.apiKeys.size === 0) {
    logger.warn("no API keys configured: the server is open and listens on loopback only", {
      setting: "AGENT_RUNTIME_API_KEYS",
    });
  }
  logger.info("listening", {
    port: server.port,
    host: server.host,
    url: `http://${server.host.includes(":") ? `[${server.host}]` : server.host}:${server.port}`,
    tenants: new Set(config.apiKeys.values()).size,
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("shutting down", { signal });
    const closed = server.close(config.shutdownGraceMs);
    await runtime.shutdown();
    await closed;
    await persistence.close?.();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`agent-runtime: configuration error: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `agent-runtime: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exit(1);
});
