// Records the persistence behaviour suite stores and compares.

import { newId } from "../domain/ids.js";
import {
  type AgentProfile,
  type Block,
  emptyUsage,
  type SessionEvent,
  type SessionRecord,
  type Turn,
} from "../domain/types.js";
import type { StoredFile } from "../ports/persistence.js";

export const BASE_TIME = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

export function at(offsetMs: number): Date {
  return new Date(BASE_TIME + offsetMs);
}

export function allBytes(): Uint8Array {
  return Uint8Array.from({ length: 256 }, (_, i) => i);
}

/** Metadata keys MongoDB field names cannot hold as they are. */
export function awkwardMap(): Record<string, string> {
  const map: Record<string, string> = {
    "a.b": "dotted",
    $dollar: "dollar",
    "with space": "",
    "ünïcødé ✓": "ß😀",
    empty: "",
  };
  Object.defineProperty(map, "__proto__", {
    value: "proto",
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return map;
}

export function makeTurn(overrides: Partial<Turn> = {}): Turn {
  return {
    id: newId("trn"),
    userBlockId: newId("blk"),
    startTime: at(1_000),
    usage: { ...emptyUsage(), inputTokens: 12, costMicroUsd: 123 },
    ...overrides,
  };
}

export function makeSession(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: newId("ses"),
    tenantId: "tenant-a",
    agentProfileId: "prf_default",
    name: "a session",
    metadata: { team: "core" },
    options: { model: "claude-sonnet-5-5" },
    state: "idle",
    usage: emptyUsage(),
    lastSequence: 0,
    queuedMessages: [],
    createTime: at(0),
    updateTime: at(0),
    lastActivityTime: at(0),
    ...overrides,
  };
}

/** A session with every optional field set and every kind of value in it. */
export function makeFullSession(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return makeSession({
    name: "full ✓",
    metadata: awkwardMap(),
    state: "running",
    usage: {
      inputTokens: 1_000_000,
      outputTokens: 7,
      cacheReadInputTokens: 3,
      cacheCreationInputTokens: 4,
      costMicroUsd: 12_345_679,
    },
    lastSequence: 2 ** 40 + 1,
    currentTurn: makeTurn({ outcome: "interrupted", endTime: at(2_000), startSequence: 41 }),
    queuedMessages: [
      {
        turnId: newId("trn"),
        text: "next, please",
        attachments: [{ name: "all.bin", mediaType: "application/octet-stream", data: allBytes() }],
        enqueueTime: at(3_000),
      },
      { turnId: newId("trn"), text: "", attachments: [], enqueueTime: at(3_001) },
    ],
    sandbox: { provider: "local", sandboxId: "sbx_123" },
    createTime: at(10),
    updateTime: at(20),
    lastActivityTime: at(30),
    requestId: "req-full",
    ...overrides,
  });
}

export function makeProfile(overrides: Partial<AgentProfile> = {}): AgentProfile {
  return {
    id: newId("prf"),
    tenantId: "tenant-a",
    name: "coder",
    description: "writes code",
    systemPrompt: "You are helpful.",
    modelProvider: "anthropic",
    model: "claude-sonnet-5-5",
    tools: ["bash", "read_file"],
    maxTurns: 25,
    subagents: [
      {
        name: "reviewer",
        description: "reviews",
        prompt: "Review it.",
        tools: ["read_file"],
        model: "",
      },
    ],
    defaultFiles: [
      { path: "README.md", content: new TextEncoder().encode("# hi\n") },
      { path: ".hidden/all.bin", content: allBytes() },
    ],
    sandbox: {
      provider: "local",
      networkAllowed: false,
      env: { PATH_EXTRA: "/opt/bin", EMPTY: "" },
      image: "",
      cpu: 1.5,
      memoryMib: 2048,
      providerOptions: awkwardMap(),
    },
    thinking: { enabled: true, budgetTokens: 4096 },
    maxOutputTokens: 8192,
    createTime: at(0),
    updateTime: at(0),
    ...overrides,
  };
}

export function makeBlock(overrides: Partial<Block> = {}): Block {
  return {
    id: newId("blk"),
    turnId: "trn_1",
    createTime: at(5),
    sequence: 1,
    content: { type: "assistant_text", text: "hello" },
    ...overrides,
  };
}

export function makeEvent(sessionId: string, sequence: number): SessionEvent {
  return {
    sessionId,
    sequence,
    time: at(sequence),
    turnId: "trn_1",
    payload: {
      type: "block_delta",
      blockId: "blk_1",
      delta: { kind: "text", value: `#${sequence}` },
    },
  };
}

export function fileOf(path: string, content: Uint8Array, modifyTime = at(100)): StoredFile {
  return { info: { path, size: content.length, sha256: `sha-of-${path}`, modifyTime }, content };
}

export function isPlainUint8Array(value: unknown): boolean {
  return value instanceof Uint8Array && Object.getPrototypeOf(value) === Uint8Array.prototype;
}

export function ids(items: { id: string }[]): string[] {
  return items.map((i) => i.id);
}

/** Newest activity first, then id descending: the order listSessions promises. */
export function sessionOrder(a: SessionRecord, b: SessionRecord): number {
  const byTime = b.lastActivityTime.getTime() - a.lastActivityTime.getTime();
  return byTime !== 0 ? byTime : a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}
