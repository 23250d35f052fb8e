import { invalidField } from "../../domain/errors.js";
import { DEFAULTS, KNOWN_TOOLS, LIMITS } from "../../domain/limits.js";
import { normalizeWorkspacePath } from "../../domain/paths.js";
import type { McpServer } from "../../domain/profile-extras.js";
import { type AgentProfile, type FileContent, profileExtras } from "../../domain/types.js";
import { isValidToolName } from "../mcp/tools.js";
import { checkLength, checkMetadata } from "../shared/validate.js";
import { checkProfileExtras, ENV_NAME } from "./check-profile-extras.js";
import { checkBudget, checkCustomTools, checkPermissions } from "./check-waiting.js";

/** What a caller sets on a profile: everything but id, tenant and timestamps. */
export type ProfileInput = Omit<
  AgentProfile,
  "id" | "tenantId" | "createTime" | "updateTime" | "requestId"
>;

const MODEL_ID = /^[A-Za-z0-9._:@/-]*$/;
const SUBAGENT_NAME = /^[A-Za-z0-9_-]+$/;

export function checkModel(field: string, model: string): void {
  checkLength(field, model, LIMITS.maxModelIdLength);
  if (!MODEL_ID.test(model)) throw invalidField(field, "is not a model id");
}

/** Tools a subagent has only through the turn: it may name them when the profile has them. */
const TURN_ONLY_TOOLS = ["Skill", "TodoWrite", "WebSearch", "WebFetch"];

/**
 * A profile's or a subagent's tool names. A subagent (`parent` given; no Task) may also name one
 * of the profile's MCP servers' tools, `mcp__<server>__<tool>` (one the server's allowed_tools
 * offers), and Skill, TodoWrite, WebSearch and WebFetch only when the profile has them.
 */
function checkTools(
  field: string,
  tools: string[],
  allowTask: boolean,
  parent?: { tools: readonly string[]; mcpServers: readonly McpServer[] },
): void {
  const mcpServers = parent?.mcpServers;
  if (tools.length > LIMITS.maxTools) throw invalidField(field, "has too many tools");
  const seen = new Set<string>();
  tools.forEach((tool, i) => {
    if (mcpServers && tool.startsWith("mcp__")) {
      checkMcpToolName(`${field}[${i}]`, tool, mcpServers);
    } else if (
      !(KNOWN_TOOLS as readonly string[]).includes(tool) ||
      (!allowTask && tool === "Task")
    ) {
      const known = KNOWN_TOOLS.filter((t) => allowTask || t !== "Task").join(", ");
      throw invalidField(`${field}[${i}]`, `unknown tool ${JSON.stringify(tool)}; known: ${known}`);
    }
    if (parent && TURN_ONLY_TOOLS.includes(tool) && !parent.tools.includes(tool)) {
      throw invalidField(`${field}[${i}]`, `${tool} is not among the profile's tools`);
    }
    if (seen.has(tool)) throw invalidField(`${field}[${i}]`, `duplicate tool ${tool}`);
    seen.add(tool);
  });
}

function checkMcpToolName(field: string, tool: string, servers: readonly McpServer[]): void {
  if (!isValidToolName(tool))
    throw invalidField(field, `${JSON.stringify(tool)} is not a tool name`);
  const server = servers.find((m) => tool.startsWith(`mcp__${m.name}__`));
  const name = server ? tool.slice(`mcp__${server.name}__`.length) : "";
  if (!server || name === "") {
    const known = servers.map((m) => m.name).join(", ") || "none";
    throw invalidField(
      field,
      `${JSON.stringify(tool)} names no MCP server of the profile (mcp__<server>__<tool>; servers: ${known})`,
    );
  }
  if (server.allowedTools.length > 0 && !server.allowedTools.includes(name)) {
    throw invalidField(
      field,
      `${JSON.stringify(tool)}: ${name} is not in the allowed_tools of MCP server ${server.name}`,
    );
  }
}

/** Validates files and normalizes their paths; returns the total size. */
export function checkFiles(
  field: string,
  files: FileContent[],
  maxTotalBytes: number,
): FileContent[] {
  if (files.length > LIMITS.maxInitialFiles) {
    throw invalidField(field, `must have at most ${LIMITS.maxInitialFiles} files`);
  }
  let total = 0;
  const seen = new Set<string>();
  return files.map((file, i) => {
    const path = normalizeWorkspacePath(file.path, `${field}[${i}].path`);
    if (seen.has(path)) throw invalidField(`${field}[${i}].path`, `duplicate path ${path}`);
    seen.add(path);
    if (file.content.byteLength > LIMITS.maxFileBytes) {
      throw invalidField(`${field}[${i}].content`, `must be at most ${LIMITS.maxFileBytes} bytes`);
    }
    total += file.content.byteLength;
    if (total > maxTotalBytes) {
      throw invalidField(field, `files must total at most ${maxTotalBytes} bytes`);
    }
    return { path, content: file.content };
  });
}

/** Validates a whole profile input and returns it normalized. */
export function checkProfile(input: ProfileInput, prefix = "profile"): ProfileInput {
  const f = (name: string) => `${prefix}.${name}`;
  checkLength(f("name"), input.name, LIMITS.maxNameLength, true);
  checkLength(f("description"), input.description, LIMITS.maxDescriptionLength);
  checkLength(f("system_prompt"), input.systemPrompt, LIMITS.maxSystemPromptLength);
  checkModel(f("model"), input.model);
  checkTools(f("tools"), input.tools, true);
  if (
    !Number.isInteger(input.maxTurns) ||
    input.maxTurns < 0 ||
    input.maxTurns > LIMITS.maxMaxTurns
  ) {
    throw invalidField(
      f("max_turns"),
      `must be 0 (default ${DEFAULTS.maxTurns}) to ${LIMITS.maxMaxTurns}`,
    );
  }
  if (input.subagents.length > LIMITS.maxSubagents) {
    throw invalidField(f("subagents"), `must have at most ${LIMITS.maxSubagents} entries`);
  }
  const names = new Set<string>();
  input.subagents.forEach((sub, i) => {
    const s = (name: string) => f(`subagents[${i}].${name}`);
    checkLength(s("name"), sub.name, LIMITS.maxSubagentNameLength, true);
    if (!SUBAGENT_NAME.test(sub.name))
      throw invalidField(s("name"), "may hold letters, digits, - and _");
    if (names.has(sub.name)) throw invalidField(s("name"), `duplicate subagent ${sub.name}`);
    names.add(sub.name);
    checkLength(s("description"), sub.description, LIMITS.maxDescriptionLength);
    checkLength(s("prompt"), sub.prompt, LIMITS.maxSystemPromptLength);
    checkTools(s("tools"), sub.tools, false, {
      tools: input.tools,
      mcpServers: profileExtras(input as AgentProfile).mcpServers,
    });
    checkModel(s("model"), sub.model);
  });
  const defaultFiles = checkFiles(
    f("default_files"),
    input.defaultFiles,
    LIMITS.maxProfileFilesBytes,
  );
  const env = Object.entries(input.sandbox.env);
  if (env.length > LIMITS.maxEnvEntries) {
    throw invalidField(f("sandbox.env"), `must have at most ${LIMITS.maxEnvEntries} entries`);
  }
  for (const [name, value] of env) {
    if (!ENV_NAME.test(name))
      throw invalidField(f("sandbox.env"), `${JSON.stringify(name)} is not a variable name`);
    if (value.length > LIMITS.maxEnvValueLength || value.includes("\0")) {
      throw invalidField(
        `${f("sandbox.env")}[${name}]`,
        `must be at most ${LIMITS.maxEnvValueLength} characters without NUL`,
      );
    }
  }
  checkLength(f("sandbox.image"), input.sandbox.image, 512);
  if (!(input.sandbox.cpu >= 0 && input.sandbox.cpu <= 64))
    throw invalidField(f("sandbox.cpu"), "must be 0 to 64");
  if (
    !Number.isInteger(input.sandbox.memoryMib) ||
    input.sandbox.memoryMib < 0 ||
    input.sandbox.memoryMib > 262_144
  ) {
    throw invalidField(f("sandbox.memory_mib"), "must be 0 to 262144");
  }
  if (Object.keys(input.sandbox.providerOptions).length > LIMITS.maxProviderOptions) {
    throw invalidField(
      f("sandbox.provider_options"),
      `must have at most ${LIMITS.maxProviderOptions} entries`,
    );
  }
  checkMetadata(f("sandbox.provider_options"), input.sandbox.providerOptions);
  const out = input.maxOutputTokens;
  if (!Number.isInteger(out) || out < 0 || out > LIMITS.maxOutputTokens) {
    throw invalidField(
      f("max_output_tokens"),
      `must be 0 (default ${DEFAULTS.maxOutputTokens}) to ${LIMITS.maxOutputTokens}`,
    );
  }
  const budget = input.thinking.budgetTokens;
  if (
    !Number.isInteger(budget) ||
    (budget !== 0 &&
      (budget < LIMITS.minThinkingBudgetTokens || budget > LIMITS.maxThinkingBudgetTokens))
  ) {
    throw invalidField(
      f("thinking.budget_tokens"),
      `must be 0 (default ${DEFAULTS.thinkingBudgetTokens}) or ${LIMITS.minThinkingBudgetTokens} to ${LIMITS.maxThinkingBudgetTokens}`,
    );
  }
  if (input.thinking.enabled) {
    const effectiveBudget = budget || DEFAULTS.thinkingBudgetTokens;
    const effectiveOut = out || DEFAULTS.maxOutputTokens;
    if (effectiveBudget >= effectiveOut) {
      throw invalidField(f("thinking.budget_tokens"), "must be less than max_output_tokens");
    }
  }
  const used = defaultFiles.reduce((n, file) => n + file.content.byteLength, 0);
  const extras = checkProfileExtras(
    profileExtras(input as AgentProfile),
    input.sandbox,
    prefix,
    LIMITS.maxProfileFilesBytes - used,
  );
  const customTools = input.customTools ?? [];
  checkCustomTools(f("custom_tools"), customTools);
  if (input.permissions) {
    checkPermissions(
      f("permissions"),
      input.permissions,
      customTools.map((t) => t.name),
    );
  }
  if (input.budget) checkBudget(f("budget"), input.budget);
  return { ...input, ...extras, defaultFiles };
}
