import type {
  AgentProfile,
  Block,
  FileInfo,
  SandboxSettings,
  SessionEvent,
  SessionRecord,
  ToolDecision,
} from "../../domain/types.js";
import type { Page } from "../../ports/persistence.js";
import { fromBson, fromPairs, type Pair, toBson, toPairs } from "./bson.js";

// The stored form of each record. Records keep the domain field names; the id is `_id`; values
// go through toBson/fromBson and free-form maps through toPairs/fromPairs (bson.ts). A record
// created with a request id also stores `requestKey = JSON.stringify([tenantId, requestId])`
// under a unique sparse index (idempotent creates).

export type SessionDoc = Omit<SessionRecord, "id" | "metadata"> & {
  _id: string;
  metadata: Pair[];
  requestKey?: string;
};

type SandboxDoc = Omit<SandboxSettings, "env" | "providerOptions"> & {
  env: Pair[];
  providerOptions: Pair[];
};

export type ProfileDoc = Omit<AgentProfile, "id" | "sandbox"> & {
  _id: string;
  sandbox: SandboxDoc;
  requestKey?: string;
};

export interface FileDoc {
  sessionId: string;
  path: string;
  size: number;
  sha256: string;
  modifyTime: Date;
  content: Uint8Array;
}

export type EventDoc = SessionEvent;

export type BlockDoc = Block & { sessionId: string };

/**
 * One piece of a transcript entry (transcripts.ts): an entry is stored in `parts` pieces of its
 * JSON text, most in one. `_id` is `${sessionId}/${index}/${part}`.
 */
export interface TranscriptEntryDoc {
  _id: string;
  sessionId: string;
  index: number;
  part: number;
  parts: number;
  /** sha256 (hex) of the chain of the entry before ("" before the first) and this entry's JSON. */
  chain: string;
  json: string;
}

/** A whole transcript in one document, as versions before entries stored it; read, then removed. */
export interface LegacyTranscriptDoc {
  _id: string;
  transcript: string;
  updateTime: Date;
}

export function sessionToDoc(s: SessionRecord): SessionDoc {
  const { id, metadata, ...rest } = s;
  const doc: SessionDoc = { _id: id, ...toBson(rest), metadata: toPairs(metadata) };
  if (s.requestId !== undefined) doc.requestKey = requestKey(s.tenantId, s.requestId);
  return doc;
}

export function sessionFromDoc(doc: SessionDoc): SessionRecord {
  const { _id, metadata, requestKey: _, ...rest } = doc;
  return { id: _id, ...fromBson(rest), metadata: fromPairs(metadata) };
}

export function profileToDoc(p: AgentProfile): ProfileDoc {
  const { id, sandbox, ...rest } = p;
  const { env, providerOptions, ...sandboxRest } = sandbox;
  const doc: ProfileDoc = {
    _id: id,
    ...toBson(rest),
    sandbox: {
      ...toBson(sandboxRest),
      env: toPairs(env),
      providerOptions: toPairs(providerOptions),
    },
  };
  if (p.requestId !== undefined) doc.requestKey = requestKey(p.tenantId, p.requestId);
  return doc;
}

export function profileFromDoc(doc: ProfileDoc): AgentProfile {
  const { _id, sandbox, requestKey: _, ...rest } = doc;
  const { env, providerOptions, ...sandboxRest } = sandbox;
  return {
    id: _id,
    ...fromBson(rest),
    sandbox: {
      ...fromBson(sandboxRest),
      env: fromPairs(env),
      providerOptions: fromPairs(providerOptions),
    },
  };
}

/** The file's description, without its content. */
export function fileInfoFromDoc(doc: Omit<FileDoc, "content">): FileInfo {
  return { path: doc.path, size: doc.size, sha256: doc.sha256, modifyTime: doc.modifyTime };
}

/**
 * A page of a list query that asked for `limit + 1` documents: the first `limit` as records
 * and, when there were more, the cursor of the last one.
 */
export function pageOf<D, R, C>(
  docs: D[],
  limit: number,
  fromDoc: (doc: D) => R,
  cursorOf: (last: R) => C,
): Page<R, C> {
  const items = docs.slice(0, limit).map(fromDoc);
  const last = items[items.length - 1];
  const page: Page<R, C> = { items };
  if (last && docs.length > items.length) page.next = cursorOf(last);
  return page;
}

function requestKey(tenantId: string, requestId: string): string {
  return JSON.stringify([tenantId, requestId]);
}

/** A secret: `_id` is `tenantId/name`; the value as given, or sealed (secret-cipher.ts). */
export interface SecretDoc {
  _id: string;
  tenantId: string;
  name: string;
  value?: string;
  sealed?: SealedValue;
  createTime: Date;
  updateTime: Date;
}

/** A value encrypted with AES-256-GCM; base64 fields; `kid` names the key (a fingerprint). */
export interface SealedValue {
  alg: "A256GCM";
  kid: string;
  iv: string;
  tag: string;
  data: string;
}

/** A session's usage in one calendar month (UTC), keyed `tenantId/month/sessionId`. */
export interface TenantUsageDoc {
  _id: string;
  tenantId: string;
  month: string;
  sessionId: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
  costMicroUsd: number;
  webSearchRequests: number;
  webFetchRequests: number;
  updateTime: Date;
}

/** A decision in the log (decisions.ts): `_id` = `sessionId/toolUseId` (a call is answered once). */
export type DecisionDoc = ToolDecision & { _id: string; sessionId: string };

/** A session feed's head (`_id` = session id): the claim of its last batch (coordination.ts). */
export interface FeedHeadDoc {
  _id: string;
  /** The lease token of the feed's writer; a lower one may not write. */
  token: number;
  /** The last sequence claimed. */
  last?: number;
  /** The last batch claimed, until the next replaces it. */
  tail?: EventDoc[];
}

/** A claim that one caller wins (`_id` unique): `lease/<session>/<token>`, `command/<id>`. */
export interface ClaimDoc {
  _id: string;
  sessionId: string;
  by: string;
  token?: number;
}

/** A command for the replica that runs its session (`_id` = command id). */
export interface CommandDoc {
  _id: string;
  sessionId: string;
  kind: string;
  args: string;
  owner: string;
  createTime: Date;
  takenBy?: string;
  outcome?: string;
}
