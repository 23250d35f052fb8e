import type { Filter } from "mongodb";
import type { AgentProfile } from "../../domain/types.js";
import type { Page, ProfileQuery } from "../../ports/persistence.js";
import type { Collections, Run } from "./collections.js";
import { type ProfileDoc, pageOf, profileFromDoc, profileToDoc } from "./documents.js";
import { insertIdempotent } from "./writes.js";

/** Agent profiles: MongoPersistence's profile methods. */
export class MongoProfiles {
  constructor(
    private readonly collections: Collections,
    private readonly run: Run,
  ) {}

  async listAgentProfiles(query: ProfileQuery): Promise<Page<AgentProfile, string>> {
    if (query.limit <= 0) return { items: [] };
    const filter: Filter<ProfileDoc> = { tenantId: query.tenantId };
    if (query.afterId !== undefined) filter._id = { $gt: query.afterId };
    const docs = await this.run("listAgentProfiles", () =>
      this.collections.profiles
        .find(filter)
        .sort({ _id: 1 })
        .limit(query.limit + 1)
        .toArray(),
    );
    return pageOf(docs, query.limit, profileFromDoc, (last) => last.id);
  }

  async loadAgentProfile(agentProfileId: string): Promise<AgentProfile | null> {
    const doc = await this.run("loadAgentProfile", () =>
      this.collections.profiles.findOne({ _id: agentProfileId }),
    );
    return doc ? profileFromDoc(doc) : null;
  }

  async createAgentProfile(profile: AgentProfile): Promise<AgentProfile> {
    const doc = profileToDoc(profile);
    const stored = await this.run("createAgentProfile", () =>
      insertIdempotent(this.collections.profiles, doc, profileFromDoc),
    );
    return profileFromDoc(stored);
  }

  async updateAgentProfile(profile: AgentProfile): Promise<void> {
    const { _id, ...rest } = profileToDoc(profile);
    await this.run("updateAgentProfile", () => this.collections.profiles.replaceOne({ _id }, rest));
  }

  async deleteAgentProfile(agentProfileId: string): Promise<void> {
    await this.run("deleteAgentProfile", () =>
      this.collections.profiles.deleteOne({ _id: agentProfileId }),
    );
  }

  async profileInUse(agentProfileId: string): Promise<boolean> {
    const doc = await this.run("profileInUse", () =>
      this.collections.sessions.findOne({ agentProfileId }, { projection: { _id: 1 } }),
    );
    return doc !== null;
  }
}
