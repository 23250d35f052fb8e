// The webhook stores: one behaviour suite against MemoryWebhooks and MongoWebhooks (FerretDB,
// or the server of MONGODB_URI).

import { type Db, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryWebhooks } from "../src/adapters/memory/webhooks.js";
import { MongoWebhooks } from "../src/adapters/mongodb/webhooks.js";
import { deliveryIdFor, type Webhook, type WebhookDelivery } from "../src/domain/webhooks.js";
import type { WebhookStore } from "../src/ports/webhooks.js";
import {
  MONGO_START_TIMEOUT_MS,
  type MongoServer,
  randomDbName,
  startMongo,
} from "./support/mongo.js";

let server: MongoServer | undefined;
let client: MongoClient | undefined;
let startError: unknown;

beforeAll(async () => {
  try {
    server = await startMongo();
    client = await MongoClient.connect(server.uri);
  } catch (err) {
    startError = err;
  }
}, MONGO_START_TIMEOUT_MS);

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

function freshDb(): Db {
  if (startError) throw startError;
  if (!server || !client) throw new Error("the MongoDB server did not start");
  return client.db(`${server.dbName}_${randomDbName("w")}`);
}

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
const hook = (id: string, tenantId: string, ms: number): Webhook => ({
  id,
  tenantId,
  url: `https://example.com/${id}`,
  secret: "whsec_AAAA",
  eventTypes: ["turn.completed", "session.idle"],
  description: "",
  createTime: at(ms),
});
const delivery = (webhookId: string, seq: number, ms: number): WebhookDelivery => ({
  id: deliveryIdFor(webhookId, "ses_1", seq),
  webhookId,
  tenantId: "acme",
  eventType: "turn.completed",
  sessionId: "ses_1",
  turnId: "trn_1",
  sequence: seq,
  payload: `{"seq":${seq}}`,
  status: "pending",
  attempts: 0,
  createTime: at(ms),
  nextAttemptTime: at(ms),
});

function storeSuite(label: string, create: () => Promise<WebhookStore>): void {
  describe(label, () => {
    it("creates, lists by tenant oldest first, loads and deletes endpoints", async () => {
      const store = await create();
      await store.createWebhook(hook("whk_b", "acme", 2));
      await store.createWebhook(hook("whk_a", "acme", 1));
      await store.createWebhook(hook("whk_c", "globex", 0));
      await store.createWebhook(hook("whk_a", "acme", 1)); // a retried create
      expect((await store.listWebhooks("acme")).map((w) => w.id)).toEqual(["whk_a", "whk_b"]);
      expect(await store.loadWebhook("whk_c")).toEqual(hook("whk_c", "globex", 0));
      expect(await store.loadWebhook("whk_none")).toBeNull();
      await store.addDelivery(delivery("whk_a", 1, 10));
      expect(await store.deleteWebhook("whk_a")).toBe(true);
      expect(await store.deleteWebhook("whk_a")).toBe(false);
      expect(await store.listDeliveries("whk_a", undefined, 10)).toEqual([]);
      expect((await store.listWebhooks("acme")).map((w) => w.id)).toEqual(["whk_b"]);
    });

    it("keeps the first of two adds, replaces on update, pages newest first, finds what is due", async () => {
      const store = await create();
      await store.createWebhook(hook("whk_a", "acme", 0));
      const first = delivery("whk_a", 1, 10);
      await store.addDelivery(first);
      await store.addDelivery({ ...first, payload: "other" });
      expect(await store.listDeliveries("whk_a", undefined, 10)).toEqual([first]);
      for (let i = 2; i <= 5; i++) await store.addDelivery(delivery("whk_a", i, 10 * i));
      await store.addDelivery(delivery("whk_b", 9, 5));

      const page1 = await store.listDeliveries("whk_a", undefined, 2);
      expect(page1.map((d) => d.sequence)).toEqual([5, 4]);
      const last = page1.at(-1)!;
      const page2 = await store.listDeliveries(
        "whk_a",
        { createTime: last.createTime, id: last.id },
        10,
      );
      expect(page2.map((d) => d.sequence)).toEqual([3, 2, 1]);

      const { nextAttemptTime: _n, ...rest } = delivery("whk_a", 2, 20);
      await store.updateDelivery({
        ...rest,
        status: "delivered",
        attempts: 1,
        lastStatusCode: 204,
        lastAttemptTime: at(25),
      });
      await store.updateDelivery({
        ...delivery("whk_a", 3, 30),
        nextAttemptTime: at(1_000),
        attempts: 1,
        lastError: "the endpoint answered 500",
        lastStatusCode: 500,
      });
      await store.updateDelivery({ ...delivery("whk_z", 1, 0) }); // unknown: nothing stored
      expect(await store.listDeliveries("whk_z", undefined, 10)).toEqual([]);

      const due = await store.dueDeliveries(at(100), 10);
      expect(due.map((d) => `${d.webhookId}:${d.sequence}`)).toEqual([
        "whk_b:9",
        "whk_a:1",
        "whk_a:4",
        "whk_a:5",
      ]);
      expect((await store.dueDeliveries(at(100), 2)).length).toBe(2);
      const later = await store.dueDeliveries(at(2_000), 10);
      expect(later.map((d) => d.sequence)).toContain(3);
      const [delivered] = (await store.listDeliveries("whk_a", undefined, 10)).filter(
        (d) => d.sequence === 2,
      );
      expect(delivered).toEqual({
        ...rest,
        status: "delivered",
        attempts: 1,
        lastStatusCode: 204,
        lastAttemptTime: at(25),
      });
    });
  });
}

storeSuite("MemoryWebhooks", async () => new MemoryWebhooks());
storeSuite("MongoWebhooks", async () => {
  const store = new MongoWebhooks(freshDb());
  await store.ensureIndexes();
  await store.ensureIndexes(); // as every start after the first does
  return store;
});
