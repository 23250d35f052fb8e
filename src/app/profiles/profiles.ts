import { AppError, notFound } from "../../domain/errors.js";
import { newId } from "../../domain/ids.js";
import { LIMITS } from "../../domain/limits.js";
import { type AgentProfile, profileExtras } from "../../domain/types.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";
import { applyMask, type MaskFields } from "../shared/field-mask.js";
import { checkRequestId, decodePageToken, encodePageToken, pageSize } from "../shared/validate.js";
import { checkProfile, type ProfileInput } from "./check-profile.js";

export type { ProfileInput };

/** Update mask paths of a profile and where they live. */
export const PROFILE_FIELDS: MaskFields = {
  name: ["name"],
  description: ["description"],
  system_prompt: ["systemPrompt"],
  model_provider: ["modelProvider"],
  model: ["model"],
  tools: ["tools"],
  max_turns: ["maxTurns"],
  subagents: ["subagents"],
  default_files: ["defaultFiles"],
  sandbox: ["sandbox"],
  "sandbox.provider": ["sandbox", "provider"],
  "sandbox.network_allowed": ["sandbox", "networkAllowed"],
  "sandbox.env": ["sandbox", "env"],
  "sandbox.image": ["sandbox", "image"],
  "sandbox.cpu": ["sandbox", "cpu"],
  "sandbox.memory_mib": ["sandbox", "memoryMib"],
  "sandbox.provider_options": ["sandbox", "providerOptions"],
  thinking: ["thinking"],
  "thinking.enabled": ["thinking", "enabled"],
  "thinking.budget_tokens": ["thinking", "budgetTokens"],
  max_output_tokens: ["maxOutputTokens"],
  "sandbox.secret_env": ["sandbox", "secretEnv"],
  instructions: ["instructions"],
  "instructions.file_name": ["instructions", "fileName"],
  "instructions.content": ["instructions", "content"],
  skills: ["skills"],
  commands: ["commands"],
  mcp_servers: ["mcpServers"],
  dependencies: ["dependencies"],
  "dependencies.npm": ["dependencies", "npm"],
  "dependencies.pip": ["dependencies", "pip"],
  context: ["context"],
  "context.compaction_threshold_tokens": ["context", "compactionThresholdTokens"],
  "context.compaction_disabled": ["context", "compactionDisabled"],
  "context.clear_tool_results_threshold_tokens": ["context", "clearToolResultsThresholdTokens"],
  "context.clear_tool_results_keep": ["context", "clearToolResultsKeep"],
  permissions: ["permissions"],
  custom_tools: ["customTools"],
  budget: ["budget"],
};

const isString = (p: unknown): p is string => typeof p === "string";

/** The agent profile use cases. Every call is scoped to a tenant. */
export class Profiles {
  constructor(
    private readonly store: PersistenceAdapter,
    /** Told of every stored update (sessions waiting for a budget check it again). */
    private readonly onUpdated: (profileId: string) => void = () => {},
  ) {}

  async create(tenantId: string, input: ProfileInput, requestId = ""): Promise<AgentProfile> {
    checkRequestId("request_id", requestId);
    const checked = checkProfile(input);
    const now = new Date();
    const profile: AgentProfile = {
      ...checked,
      id: newId("prf", now.getTime()),
      tenantId,
      createTime: now,
      updateTime: now,
      ...(requestId ? { requestId } : {}),
    };
    return this.store.createAgentProfile(profile);
  }

  /** The tenant's profile, or NotFound (also for another tenant's). */
  async get(tenantId: string, id: string, field = "agent_profile_id"): Promise<AgentProfile> {
    const profile = await this.store.loadAgentProfile(id);
    if (!profile || profile.tenantId !== tenantId) throw notFound("agent profile", id, field);
    return profile;
  }

  async list(
    tenantId: string,
    size: number,
    token: string,
  ): Promise<{ profiles: AgentProfile[]; nextPageToken: string }> {
    const limit = pageSize("page_size", size, LIMITS.defaultPageSize, LIMITS.maxPageSize);
    const afterId = decodePageToken("page_token", token, "profiles", isString);
    const page = await this.store.listAgentProfiles({
      tenantId,
      limit,
      ...(afterId ? { afterId } : {}),
    });
    return {
      profiles: page.items,
      nextPageToken: page.next ? encodePageToken("profiles", page.next) : "",
    };
  }

  async update(
    tenantId: string,
    id: string,
    patch: ProfileInput,
    mask: string[],
  ): Promise<AgentProfile> {
    const current = await this.get(tenantId, id, "profile.id");
    if (mask.length === 0) return current;
    const merged = checkProfile(
      applyMask(
        { ...current, ...profileExtras(current) } as ProfileInput,
        patch,
        mask,
        PROFILE_FIELDS,
      ),
    );
    const updated: AgentProfile = {
      ...current,
      ...merged,
      id: current.id,
      tenantId,
      createTime: current.createTime,
      updateTime: new Date(),
    };
    await this.store.updateAgentProfile(updated);
    this.onUpdated(updated.id);
    return updated;
  }

  async delete(tenantId: string, id: string): Promise<void> {
    await this.get(tenantId, id);
    if (await this.store.profileInUse(id)) {
      throw new AppError(
        "failed_precondition",
        "PROFILE_IN_USE",
        `agent profile ${id} has sessions; delete them first`,
        "agent_profile_id",
      );
    }
    await this.store.deleteAgentProfile(id);
  }
}
