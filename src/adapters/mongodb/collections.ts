import { type Collection, type Db, type Document, MongoServerError } from "mongodb";
import type {
  BlockDoc,
  ClaimDoc,
  CommandDoc,
  DecisionDoc,
  EventDoc,
  FeedHeadDoc,
  FileDoc,
  LegacyTranscriptDoc,
  ProfileDoc,
  SecretDoc,
  SessionDoc,
  TenantUsageDoc,
  TranscriptEntryDoc,
} from "./documents.js";
import { type CollectionName, INDEXES, RETIRED_INDEXES } from "./indexes.js";
import { type ResilienceSettings, runOperation } from "./resilience.js";

// The adapter's collections in one database, and their indexes.

export interface Collections {
  sessions: Collection<SessionDoc>;
  profiles: Collection<ProfileDoc>;
  files: Collection<FileDoc>;
  events: Collection<EventDoc>;
  blocks: Collection<BlockDoc>;
  /** Transcript entries; also the transcripts of earlier versions, one document each. */
  transcripts: Collection<TranscriptEntryDoc>;
  /** The same collection, for the documents of earlier versions (`_id` = session id). */
  legacyTranscripts: Collection<LegacyTranscriptDoc>;
  secrets: Collection<SecretDoc>;
  usage: Collection<TenantUsageDoc>;
  /** The answers to waiting tool calls, one document each (decisions.ts). */
  tool_decisions: Collection<DecisionDoc>;
  /** Each feed's head: its writer's token and last claimed batch (coordination.ts). */
  feed_heads: Collection<FeedHeadDoc>;
  /** Claims exactly one caller wins: lease tokens, commands taken. */
  claims: Collection<ClaimDoc>;
  /** Commands for the replica that runs their session. */
  commands: Collection<CommandDoc>;
}

/** Runs one adapter operation: a deadline, bounded retries of transient errors (resilience.ts). */
export type Run = <T>(operation: string, attempt: () => Promise<T>) => Promise<T>;

const INDEX_NOT_FOUND = 27;
const NAMESPACE_NOT_FOUND = 26;

export function collectionsOf(db: Db, prefix: string): Collections {
  return {
    sessions: db.collection(`${prefix}sessions`),
    profiles: db.collection(`${prefix}profiles`),
    files: db.collection(`${prefix}files`),
    events: db.collection(`${prefix}events`),
    blocks: db.collection(`${prefix}blocks`),
    transcripts: db.collection(`${prefix}transcripts`),
    legacyTranscripts: db.collection(`${prefix}transcripts`),
    secrets: db.collection(`${prefix}secrets`),
    usage: db.collection(`${prefix}usage`),
    tool_decisions: db.collection(`${prefix}tool_decisions`),
    feed_heads: db.collection(`${prefix}feed_heads`),
    claims: db.collection(`${prefix}claims`),
    commands: db.collection(`${prefix}commands`),
  };
}

/**
 * Creates the indexes in indexes.ts and drops retired ones; safe to call again. One index per
 * command: FerretDB v1.24 drops the connection when one createIndexes command names several
 * existing indexes.
 */
export async function ensureIndexes(
  collections: Collections,
  settings: ResilienceSettings,
): Promise<void> {
  const collection = (name: CollectionName) => collections[name] as unknown as Collection<Document>;
  await runOperation(
    settings,
    "ensureIndexes",
    async () => {
      await Promise.all(
        Object.entries(INDEXES).map(async ([name, indexes]) => {
          const target = collection(name as CollectionName);
          for (const { serves: _, ...index } of indexes) await target.createIndexes([index]);
        }),
      );
      for (const [name, index] of RETIRED_INDEXES) {
        await collection(name)
          .dropIndex(index)
          .catch((err: unknown) => {
            const gone =
              err instanceof MongoServerError &&
              (err.code === INDEX_NOT_FOUND || err.code === NAMESPACE_NOT_FOUND);
            if (!gone) throw err;
          });
      }
    },
    settings.indexTimeoutMs,
  );
}
