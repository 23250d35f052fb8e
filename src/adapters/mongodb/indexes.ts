// Every index the MongoDB adapter creates, with the queries each one serves. ensureIndexes()
// creates them; test/mongo-indexes.test.ts records every query the adapter sends and checks that
// one of these (or the implicit `_id` index) serves its filter and sort, equality fields first.

export type CollectionName =
  | "sessions"
  | "profiles"
  | "files"
  | "events"
  | "blocks"
  | "transcripts"
  | "secrets"
  | "usage"
  | "tool_decisions"
  | "feed_heads"
  | "claims"
  | "commands";

export interface IndexSpec {
  name: string;
  key: Record<string, 1 | -1>;
  unique?: boolean;
  /** FerretDB v1 has no partialFilterExpression; its unique indexes skip absent fields anyway. */
  sparse?: boolean;
  /** The adapter methods whose queries it serves. */
  serves: string;
}

/** Newest activity first, then id descending: the order of listSessions. */
const ACTIVITY = { lastActivityTime: -1, _id: -1 } as const;

export const INDEXES: Readonly<Record<CollectionName, readonly IndexSpec[]>> = {
  sessions: [
    {
      name: "request_key",
      key: { requestKey: 1 },
      unique: true,
      sparse: true,
      serves: "createSessionRecord (idempotent by tenant and request id)",
    },
    { name: "tenant_activity", key: { tenantId: 1, ...ACTIVITY }, serves: "listSessions" },
    {
      name: "tenant_profile_activity",
      key: { tenantId: 1, agentProfileId: 1, ...ACTIVITY },
      serves: "listSessions by agent profile",
    },
    {
      name: "tenant_state_activity",
      key: { tenantId: 1, state: 1, ...ACTIVITY },
      serves: "listSessions by state",
    },
    {
      name: "tenant_profile_state_activity",
      key: { tenantId: 1, agentProfileId: 1, state: 1, ...ACTIVITY },
      serves: "listSessions by agent profile and state",
    },
    { name: "agent_profile", key: { agentProfileId: 1 }, serves: "profileInUse" },
    { name: "state", key: { state: 1 }, serves: "listAllSessions by state" },
    {
      name: "file_events_pending",
      key: { fileEventsPending: 1 },
      sparse: true,
      serves: "listAllSessions with file events pending (recovery)",
    },
  ],
  profiles: [
    {
      name: "request_key",
      key: { requestKey: 1 },
      unique: true,
      sparse: true,
      serves: "createAgentProfile (idempotent by tenant and request id)",
    },
    { name: "tenant_id", key: { tenantId: 1, _id: 1 }, serves: "listAgentProfiles" },
  ],
  files: [
    {
      name: "session_path",
      key: { sessionId: 1, path: 1 },
      unique: true,
      serves:
        "saveWorkspaceFile, readWorkspaceFile, deleteSessionFile, listWorkspaceFiles, workspaceUsage, deleteSession",
    },
  ],
  events: [
    {
      name: "session_sequence",
      key: { sessionId: 1, sequence: 1 },
      unique: true,
      serves: "appendEvents (one event per sequence), readEvents, deleteSession",
    },
  ],
  blocks: [
    {
      name: "session_block",
      key: { sessionId: 1, id: 1 },
      unique: true,
      serves: "saveBlock, deleteSession",
    },
    {
      name: "session_sequence_id",
      key: { sessionId: 1, sequence: 1, id: 1 },
      serves: "listBlocks (sorted by sequence, then id)",
    },
  ],
  transcripts: [
    {
      // Sparse: the collection also holds transcripts of earlier versions, one document per
      // session keyed by `_id` alone, which have none of these fields.
      name: "session_index_part",
      key: { sessionId: 1, index: 1, part: 1 },
      unique: true,
      sparse: true,
      serves:
        "loadTranscript (sorted by index, then part), saveTranscript (cutting the tail), deleteSession",
    },
  ],
  // Keyed by `tenantId/name` (`_id`): setSecret, deleteSecret.
  secrets: [
    {
      name: "tenant_name",
      key: { tenantId: 1, name: 1 },
      unique: true,
      serves: "listSecrets (sorted by name), resolve",
    },
  ],
  // One record per tenant, month and session (`_id`), counted with $inc.
  usage: [
    {
      name: "tenant_month",
      key: { tenantId: 1, month: 1 },
      serves: "tenantUsage and addTenantUsage's total (the sum over the month's sessions)",
    },
  ],
  // The `tool_decisions` collection; keyed by `sessionId/toolUseId` (`_id`): appendToolDecision.
  tool_decisions: [
    {
      name: "session_time_call",
      key: { sessionId: 1, decideTime: 1, toolUseId: 1 },
      serves: "listToolDecisions (sorted by decide time, then tool use id), deleteSession",
    },
  ],
  // Keyed by session id (`_id`): claimFeed, appendEvents with a fence, feedHeads.
  feed_heads: [],
  // Keyed by what is claimed (`_id`): acquireLease, takeCommand.
  claims: [
    {
      name: "session_token",
      key: { sessionId: 1, token: 1 },
      serves: "acquireLease (removing older tokens' claims), deleteSession",
    },
  ],
  commands: [
    {
      name: "owner_time",
      key: { owner: 1, createTime: 1, _id: 1 },
      serves: "pendingCommands (a replica's, sorted by create time)",
    },
    { name: "session", key: { sessionId: 1 }, serves: "deleteSession" },
  ],
};

/** Indexes earlier versions created that no query needs any more; dropped by ensureIndexes(). */
export const RETIRED_INDEXES: readonly (readonly [CollectionName, string])[] = [
  // {sessionId, sequence}: listBlocks sorts by id too, now served by session_sequence_id.
  ["blocks", "session_sequence"],
];

/**
 * The only query that reads a whole collection on purpose: listAllSessions() without a filter,
 * which returns every session (recovery at start).
 */
export const FULL_SCANS: readonly { collection: CollectionName; method: string }[] = [
  { collection: "sessions", method: "listAllSessions" },
];
