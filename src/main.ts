// The standalone server: configuration from the environment, then the same library hosts embed.

import { LocalSandboxProvider } from "./adapters/local-sandbox/provider.js";
import { MemoryPersistence } from "./adapters/memory/persistence.js";
import { MemorySecrets } from "./adapters/memory/secrets.js";
import { createModalProvider } from "./adapters/modal/provider.js";
import { startTracing } from "./adapters/observe/tracing.js";
import { createLogger } from "./app/shared/logger.js";
import { ConfigError, loadConfig } from "./config.js";
import type { PersistenceAdapter } from "./ports/persistence.js";
import type { SandboxProvider } from "./ports/sandbox.js";
import type { SecretStore } from "./ports/secrets.js";
import type { WebhookStore } from "./ports/webhooks.js";
import { createAgentRuntime } from "./runtime.js";
import { listen } from "./server.js";
import { OPEN_TENANT } from "./transport/auth.js";

async function main(): Promise<void> {
  const config = loadConfig();
  // A reader of the logs that goes away (a closed pipe) must not take the server with it: from
  // then on the logs are dropped.
  let stdoutGone = false;
  process.stdout.on("error", () => {
    stdoutGone = true;
  });
  const logger = createLogger(config.logLevel, (line) => {
    if (!stdoutGone) process.stdout.write(`${line}\n`);
  });
  // OpenTelemetry traces when the standard OTEL_* variables ask for them.
  const tracing = startTracing(process.env);
  if (tracing) logger.info("tracing: on (OpenTelemetry)");
  // Nothing that escapes may end the server: log it, and count it, so it can be found and fixed.
  let escaped = 0;
  process.on("unhandledRejection", (err) => {
    escaped++;
    logger.error("unhandled rejection (a bug: please report it)", { err, escapedErrors: escaped });
  });
  process.on("uncaughtException", (err) => {
    escaped++;
    logger.error("uncaught exception (a bug: please report it)", { err, escapedErrors: escaped });
  });

  let persistence: PersistenceAdapter;
  let secrets: SecretStore;
  let webhookStore: WebhookStore | undefined;
  if (config.mongodbUri) {
    const { MongoPersistence } = await import("./adapters/mongodb/persistence.js");
    const { MongoWebhooks } = await import("./adapters/mongodb/webhooks.js");
    let mongo: InstanceType<typeof MongoPersistence>;
    let mongoWebhooks: InstanceType<typeof MongoWebhooks>;
    // A store that is not up yet (or busy: replicas starting together build the same indexes)
    // is waited for, with backoff: starting is no crash loop.
    for (let delay = 1_000; ; delay = Math.min(delay * 2, 30_000)) {
      let connected: InstanceType<typeof MongoPersistence> | undefined;
      try {
        connected = await MongoPersistence.connect(config.mongodbUri, config.mongodbDb, {
          operationTimeoutMs: config.mongodbTimeoutMs,
          maxPoolSize: config.mongodbMaxPoolSize,
          onRetry: (e) => logger.debug("store call retried", { ...e }),
        });
        mongoWebhooks = new MongoWebhooks(connected.database, {
          operationTimeoutMs: config.mongodbTimeoutMs,
        });
        await mongoWebhooks.ensureIndexes();
        mongo = connected;
        break;
      } catch (err) {
        await connected?.close().catch(() => undefined);
        logger.error("cannot reach MongoDB; trying again", { retryInMs: delay, err });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    persistence = mongo;
    logger.info("persistence: mongodb", { db: config.mongodbDb });
    const { MongoSecrets } = await import("./adapters/mongodb/secrets.js");
    // The same database and client; its index was made with the others by connect().
    secrets = new MongoSecrets(mongo.database, {
      operationTimeoutMs: config.mongodbTimeoutMs,
      ...(config.secretsKey ? { key: config.secretsKey } : {}),
    });
    webhookStore = mongoWebhooks;
    if (config.secretsKey) logger.info("secrets: stored encrypted (SECRETS_KEY)");
    else logger.warn("secrets: stored as given; set SECRETS_KEY to store them encrypted");
  } else {
    persistence = new MemoryPersistence();
    secrets = new MemorySecrets();
    if (config.secretsKey) logger.warn("SECRETS_KEY is unused: secrets are in memory");
    logger.warn("persistence: in memory; everything is lost at exit (set MONGODB_URI to keep it)");
  }

  // The default provider first; the other one too when it can run, for profiles that ask.
  const providers: SandboxProvider[] = [];
  const modal = config.modal
    ? createModalProvider({
        tokenId: config.modal.tokenId,
        tokenSecret: config.modal.tokenSecret,
        appName: config.modal.appName,
        defaultImage: config.modal.image,
        logger,
      })
    : undefined;
  if (config.sandboxProvider === "modal" && modal) providers.push(modal);
  try {
    providers.push(
      await LocalSandboxProvider.create({
        dataDir: config.dataDir,
        allowUnisolated: config.allowUnisolatedSandbox,
        logger,
      }),
    );
  } catch (err) {
    // Without bubblewrap the local provider refuses; that stops the server only when it is the default.
    if (config.sandboxProvider === "local") throw new ConfigError((err as Error).message);
    logger.warn("local sandbox unavailable", { reason: (err as Error).message });
  }
  if (config.sandboxProvider === "local" && modal) providers.push(modal);
  if (!process.env.ANTHROPIC_API_KEY) {
    logger.warn(
      "ANTHROPIC_API_KEY is not set: Anthropic turns fail with MODEL_NOT_CONFIGURED; the demo profile works",
    );
  }

  const runtime = await createAgentRuntime({
    persistence,
    secrets,
    ...(webhookStore ? { webhookStore } : {}),
    apiKeys: config.apiKeys,
    corsOrigins: config.corsOrigins,
    logger,
    sandboxProviders: providers,
    idleTimeoutMs: config.idleTimeoutMs,
    ...(config.mongodbUri ? { recoveryGraceMs: config.recoveryGraceMs } : {}),
    syncIntervalMs: config.syncIntervalMs,
    ...(config.replicaId ? { replicaId: config.replicaId } : {}),
    leaseTtlMs: config.leaseTtlMs,
    feedPollMs: config.feedPollMs,
    ...(config.defaultModel ? { defaultModel: config.defaultModel } : {}),
    tenantMonthlyBudgetMicroUsd: config.tenantMonthlyBudgetMicroUsd,
    metrics: config.metrics,
    metricsPublic: config.metricsPublic,
    demoProfileTenants: config.demoProfile
      ? config.apiKeys.size > 0
        ? [...new Set(config.apiKeys.values())]
        : [OPEN_TENANT]
      : [],
  });
  // Listen before recovery: health answers NOT_SERVING until it is done, in the background.
  await runtime.start();
  const server = await listen(runtime, { port: config.port, host: config.host });
  if (config.apiKeys.size === 0) {
    logger.warn("no API keys configured: the server is open and listens on loopback only", {
      setting: "AGENT_RUNTIME_API_KEYS",
    });
  }
  logger.info("sandboxes", {
    default: providers[0]?.name,
    available: providers.map((p) => p.name),
  });
  logger.info("listening", {
    port: server.port,
    host: server.host,
    url: `http://${server.host.includes(":") ? `[${server.host}]` : server.host}:${server.port}`,
    tenants: new Set(config.apiKeys.values()).size,
  });
  runtime.recovered.then(
    () => logger.info("ready: recovery done"),
    (err: unknown) => logger.error("recovery failed", { err }),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("shutting down", { signal });
    const closed = server.close(config.shutdownGraceMs);
    await runtime.shutdown();
    await closed;
    await persistence.close?.();
    await tracing
      ?.shutdown()
      .catch((err: unknown) => logger.warn("flushing traces failed", { err }));
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
