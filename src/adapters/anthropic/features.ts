// What the Messages API does itself for a model: server-side compaction (`compact_20260112`) and
// context editing (`clear_tool_uses_20250919`). A model id not known here gets the runtime's own
// compaction and clearing (src/app/turns/compaction.ts), which work with any model.

import type { ModelFeatures } from "../../ports/model.js";
import { usesAdaptiveThinking } from "./thinking.js";

/**
 * Server-side compaction and context editing are sent to the current generation only: Claude
 * 4.6 and later (Opus 4.6/4.7/4.8, Sonnet 4.6, the Claude 5 family, Fable, Mythos), the models
 * that think adaptively. Older ids (Haiku 4.5, Sonnet 4.5, ...) and unknown ids get the
 * runtime's own methods.
 */
export function anthropicFeatures(model: string): ModelFeatures {
  const current = usesAdaptiveThinking(model) && model !== "claude-mythos-preview";
  return { serverCompaction: current, serverToolClearing: current };
}
