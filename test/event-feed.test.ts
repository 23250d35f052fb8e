import { describe, expect, it } from "vitest";
import { MemoryPersistence } from "../src/adapters/memory/persistence.js";
import { EventFeed, FEED_MEMORY_EVENTS } from "../src/app/feed/event-feed.js";
import { SUBSCRIBER_BUFFER_EVENTS } from "../src/app/feed/subscriber.js";
import { silentLogger } from "../src/app/shared/logger.js";
import { AppError } from "../src/domain/errors.js";
import type { SessionEvent, SessionRecord } from "../src/domain/types.js";

async function storeWithSession(): Promise<{ store: MemoryPersistence; id: string }> {
  const store = new MemoryPersistence();
  const now = new Date();
  const record: SessionRecord = {
    id: "ses_00000000000000000000000001",
    tenantId: "t",
    agentProfileId: "prf_00000000000000000000000001",
    name: "",
    metadata: {},
    options: { model: "" },
    state: "idle",
    usage: {
      inputTokens: 0,
      outputTokens: 0,
      cacheReadInputTokens: 0,
      cacheCreationInputTokens: 0,
      costMicroUsd: 0,
    },
    lastSequence: 0,
    queuedMessages: [],
    createTime: now,
    updateTime: now,
    lastActivityTime: now,
  };
  await store.createSessionRecord(record);
  return { store, id: record.id };
}

const text = (value: string) => ({
  type: "block_delta" as const,
  blockId: "blk",
  delta: { kind: "text" as const, value },
});

async function take(it: AsyncIterator<SessionEvent>, n: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value.sequence);
  }
  return out;
}

describe("EventFeed", () => {
  it("numbers events 1, 2, 3 with no gaps and saves them in order", async () => {
    const { store, id } = await storeWithSession();
    const feed = await EventFeed.open(id, 0, store, silentLogger);
    for (let i = 0; i < 50; i++) feed.emit(text(`t${i}`));
    await feed.flush();
    const saved = await store.readEvents(id, 0, 1000);
    expect(saved.map((e) => e.sequence)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect((await store.loadSession(id))?.lastSequence).toBe(50);
  });

  it("continues after the last stored event even when the record lags behind", async () => {
    const { store, id } = await storeWithSession();
    const first = await EventFeed.open(id, 0, store, silentLogger);
    for (let i = 0; i < 3; i++) first.emit(text("x"));
    await first.flush();
    await store.updateSessionRecord(id, { lastSequence: 1 }); // as if the record write was lost
    const again = await EventFeed.open(id, 1, store, silentLogger);
    expect(again.emit(text("y")).sequence).toBe(4);
  });

  it("replays then follows live with no gap and no duplicate at the seam", async () => {
    const { store, id } = await storeWithSession();
    const feed = await EventFeed.open(id, 0, store, silentLogger);
    for (let i = 0; i < 10; i++) feed.emit(text("a"));
    const sub = feed.subscribe(3);
    const it = sub[Symbol.asyncIterator]();
    const firstTwo = await take(it, 2);
    // Events emitted while the subscriber is still replaying.
    for (let i = 0; i < 5; i++) feed.emit(text("b"));
    const rest = await take(it, 10);
    expect([...firstTwo, ...rest]).toEqual([4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    sub.close();
    expect((await it.next()).done).toBe(true);
  });

  it("replays from storage what memory no longer holds", async () => {
    const { store, id } = await storeWithSession();
    const feed = await EventFeed.open(id, 0, store, silentLogger);
    const total = FEED_MEMORY_EVENTS + 700;
    for (let i = 0; i < total; i++) {
      feed.emit(text("z"));
      if (i % 100 === 0) await feed.flush();
    }
    await feed.flush();
    const sub = feed.subscribe(0);
    const seqs = await take(sub[Symbol.asyncIterator](), total);
    expect(seqs).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    sub.close();
  });

  it("ends a subscriber that falls too far behind with ResourceExhausted, others unaffected", async () => {
    const { store, id } = await storeWithSession();
    const feed = await EventFeed.open(id, 0, store, silentLogger);
    const slow = feed.subscribe(0);
    const fast = feed.subscribe(0);
    const fastIt = fast[Symbol.asyncIterator]();
    const got: number[] = [];
    for (let i = 0; i < SUBSCRIBER_BUFFER_EVENTS + 5; i++) {
      feed.emit(text("."));
      if (i % 1000 === 0) got.push(...(await take(fastIt, got.length === 0 ? 1 : 1000)));
    }
    const slowIt = slow[Symbol.asyncIterator]();
    const err = await slowIt.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("resource_exhausted");
    expect((err as AppError).reason).toBe("SUBSCRIBER_TOO_SLOW");
    const restOfFast = await take(fastIt, SUBSCRIBER_BUFFER_EVENTS + 5 - got.length);
    expect([...got, ...restOfFast]).toEqual(
      Array.from({ length: SUBSCRIBER_BUFFER_EVENTS + 5 }, (_, i) => i + 1),
    );
    fast.close();
  });

  it("recovers from storage failures without losing or repeating an event", async () => {
    const { store, id } = await storeWithSession();
    let failUpdate = 1;
    let failAppendHalfway = 1;
    const flaky = Object.create(store) as MemoryPersistence;
    flaky.updateSessionRecord = async (...args) => {
      if (failUpdate-- > 0) throw new Error("record write lost");
      return store.updateSessionRecord(...args);
    };
    flaky.appendEvents = async (sessionId, events) => {
      if (events.length > 1 && failAppendHalfway-- > 0) {
        await store.appendEvents(sessionId, events.slice(0, 1));
        throw new Error("connection dropped half way");
      }
      return store.appendEvents(sessionId, events);
    };
    const feed = await EventFeed.open(id, 0, flaky, silentLogger);
    feed.emit(text("a"));
    await feed.flush();
    for (let i = 0; i < 5; i++) feed.emit(text("b"));
    await feed.flush();
    const saved = await store.readEvents(id, 0, 100);
    expect(saved.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("ends every subscription cleanly when the feed ends", async () => {
    const { store, id } = await storeWithSession();
    const feed = await EventFeed.open(id, 0, store, silentLogger);
    feed.emit(text("a"));
    const sub = feed.subscribe(0);
    const it = sub[Symbol.asyncIterator]();
    expect((await it.next()).value?.sequence).toBe(1);
    const pending = it.next();
    feed.end();
    expect((await pending).done).toBe(true);
  });

  it("moves its events after another writer's that took their sequences, delivering all in order", async () => {
    const { store, id } = await storeWithSession();
    const feed = await EventFeed.open(id, 0, store, silentLogger);
    const sub = feed.subscribe(0)[Symbol.asyncIterator]();
    feed.emit(text("mine 1"));
    await feed.flush();
    // A killed server's last write lands late, at the sequences this feed assigns next.
    await store.appendEvents(id, [
      { sessionId: id, sequence: 2, time: new Date(1), payload: text("theirs 2") },
      { sessionId: id, sequence: 3, time: new Date(1), payload: text("theirs 3") },
    ]);
    feed.emit(text("mine 2"));
    feed.emit(text("mine 3"));
    await feed.flush();
    const stored = await store.readEvents(id, 0, 100);
    const shown = (e: SessionEvent) => (e.payload as { delta: { value: string } }).delta.value;
    expect(stored.map((e) => `${e.sequence}:${shown(e)}`)).toEqual([
      "1:mine 1",
      "2:theirs 2",
      "3:theirs 3",
      "4:mine 2",
      "5:mine 3",
    ]);
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await sub.next();
      seen.push(`${r.value!.sequence}:${shown(r.value!)}`);
    }
    expect(seen).toEqual(stored.map((e) => `${e.sequence}:${shown(e)}`));
    expect(feed.sequence).toBe(5);
    feed.end();
  });
});
