// Records for tests that talk to a store directly.

import { newId } from "../domain/ids.js";
import { emptyUsage, type SessionRecord } from "../domain/types.js";

/** A new idle session record of `tenantId`, with `overrides` on top. */
export function makeSession(
  tenantId: string,
  overrides: Partial<SessionRecord> = {},
): SessionRecord {
  const now = new Date();
  return {
    id: newId("ses"),
    tenantId,
    agentProfileId: `prf_${tenantId}`,
    name: tenantId,
    metadata: {},
    options: { model: "m" },
    state: "idle",
    usage: emptyUsage(),
    lastSequence: 0,
    queuedMessages: [],
    createTime: now,
    updateTime: now,
    lastActivityTime: now,
    ...overrides,
  };
}
