// Every limit the runtime enforces, named once: the API, the tools and the sandboxes read these,
// and the README's limits table lists them.

export const LIMITS = {
  /** Names of profiles and sessions, in characters. */
  maxNameLength: 200,
  maxDescriptionLength: 2_000,
  maxSystemPromptLength: 200_000,
  maxModelIdLength: 128,
  maxRequestIdLength: 128,
  maxMetadataEntries: 32,
  maxMetadataKeyLength: 64,
  maxMetadataValueLength: 1_024,
  maxTools: 32,
  maxSubagents: 16,
  maxSubagentNameLength: 64,
  maxEnvEntries: 64,
  maxEnvValueLength: 8_192,
  maxProviderOptions: 32,
  /** Max model steps per turn a profile may ask for. */
  maxMaxTurns: 500,
  maxOutputTokens: 128_000,
  maxThinkingBudgetTokens: 100_000,
  minThinkingBudgetTokens: 1_024,
  /** Workspace path length in UTF-8 bytes. */
  maxPathBytes: 1_024,
  /** One segment (file or directory name) of a workspace path, in UTF-8 bytes (NAME_MAX). */
  maxPathSegmentBytes: 255,
  /** A session's workspace together: the bytes of every file. */
  maxWorkspaceBytes: 100 * 1024 * 1024,
  /** A session's workspace: how many files it may hold. */
  maxWorkspaceFiles: 10_000,
  /** One workspace file, in bytes. */
  maxFileBytes: 10 * 1024 * 1024,
  /** Files in a profile's default_files or a session's initial_files. */
  maxInitialFiles: 100,
  /** A session's initial files together, in bytes. */
  maxInitialFilesBytes: 50 * 1024 * 1024,
  /** A profile's default files together, in bytes (a profile is stored as one document). */
  maxProfileFilesBytes: 8 * 1024 * 1024,
  /** Characters in one message. */
  maxMessageTextLength: 100_000,
  maxAttachments: 10,
  maxAttachmentBytes: 5 * 1024 * 1024,
  /** Messages waiting behind the running turn of one session. */
  maxQueuedMessages: 100,
  /** Largest request the server reads, in bytes. */
  maxRequestBytes: 64 * 1024 * 1024,
  /** Events a StreamEvents reader may fall behind before its stream ends (RESOURCE_EXHAUSTED). */
  maxSubscriberLagEvents: 10_000,
  /** Instructions file content, a skill's SKILL.md body, a command's prompt: characters. */
  maxInstructionsLength: 100_000,
  maxSkills: 32,
  maxCommands: 64,
  maxMcpServers: 16,
  /** Headers, arguments or environment entries of one MCP server. */
  maxMcpEntries: 64,
  /** npm or pip specs of a profile or a skill. */
  maxDependencies: 64,
  maxDependencySpecLength: 256,
  /** Names of skills, commands, MCP servers, instructions files. */
  maxItemNameLength: 64,
  maxSecretNameLength: 128,
  /** One secret's value, in UTF-8 bytes. */
  maxSecretValueBytes: 64 * 1024,
  maxSecretsPerTenant: 1_000,
  /** Items of the agent's to-do list (TodoWrite). */
  maxTodos: 100,
  /** One to-do item's content or activeForm, in characters. */
  maxTodoTextLength: 2_000,
  /** Rules in each of a profile's allow, ask and deny lists. */
  maxPermissionRules: 100,
  maxPermissionRuleLength: 1_000,
  /** The longest a tool call may wait for an answer when a profile sets a limit: 30 days. */
  maxApprovalTimeoutSeconds: 30 * 24 * 3600,
  maxCustomTools: 64,
  /** A custom tool's input JSON Schema, in characters. */
  maxCustomToolSchemaLength: 64 * 1024,
  /** An answer's message to the model, in characters. */
  maxAnswerMessageLength: 10_000,
  /** A custom tool's result, in characters. */
  maxCustomToolOutputLength: 1_000_000,
  /** A tool call's id (tool_use_id), in characters. */
  maxToolUseIdLength: 256,
  /**
   * Answers taken but not yet in the decision log (kept on the session record meanwhile); more
   * are refused as STORE_UNAVAILABLE until the log can be written.
   */
  maxUnloggedToolDecisions: 20,
  /** Webhook endpoints per tenant. */
  maxWebhooksPerTenant: 20,
  /** A webhook endpoint's URL, in characters. */
  maxWebhookUrlLength: 2_048,
  /** A webhook secret's random bytes (`whsec_` + base64): at least, at most. */
  minWebhookSecretBytes: 24,
  maxWebhookSecretBytes: 64,
  defaultPageSize: 50,
  maxPageSize: 500,
  defaultBlockPageSize: 100,
  maxBlockPageSize: 1_000,
  defaultFilePageSize: 100,
  maxFilePageSize: 1_000,
} as const;

export const DEFAULTS = {
  maxTurns: 50,
  maxOutputTokens: 8_192,
  thinkingBudgetTokens: 4_096,
} as const;

/** Tools a profile may name. */
export const KNOWN_TOOLS = [
  "Read",
  "Write",
  "Edit",
  "Bash",
  "Glob",
  "Grep",
  "Task",
  "TodoWrite",
  "Skill",
  "WebSearch",
  "WebFetch",
] as const;

/** The instructions file when a profile names none. */
export const DEFAULT_INSTRUCTIONS_FILE = "CLAUDE.md";

/** How webhooks are delivered (src/app/webhooks/). */
export const WEBHOOK_LIMITS = {
  /** One attempt: past it the attempt counts as failed. */
  attemptTimeoutMs: 10_000,
  /** A delivery is retried for this long after it was created, then marked FAILED. */
  retryWindowMs: 24 * 3600 * 1000,
  /** Waits between attempts (the last one repeats until the window ends). */
  retryDelaysMs: [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000],
  /** Attempts in flight at once, over every endpoint. */
  maxConcurrentAttempts: 8,
  /** The endpoint's answer kept for the delivery's last_error, in characters. */
  maxErrorChars: 500,
  /** How often the store is asked for deliveries due (others are sent at once). */
  pollIntervalMs: 5_000,
} as const;

/** How the runtime uses a profile's MCP servers (src/app/mcp/). */
export const MCP_LIMITS = {
  /** Starting or connecting one server, its initialize and tools/list included. */
  connectTimeoutMs: 30_000,
  /** One tool call; past it the call is cancelled and the model gets an error result. */
  toolCallTimeoutMs: 120_000,
  /** One JSON-RPC message of a stdio server, in bytes: a longer line ends the connection. */
  maxMessageBytes: 8 * 1024 * 1024,
  /** The end of a stdio server's stderr kept for its failure message, in characters. */
  stderrTailChars: 2_000,
  /** A tool result's text for the model, in characters; past it the middle is cut. */
  maxResultChars: 30_000,
  /** Tools of one server offered to the model. */
  maxToolsPerServer: 128,
} as const;
