// What a model step costs, in USD. The table is the operator's to maintain: prices change, and
// a model missing here costs 0 (its tokens are still counted). Check
// https://platform.claude.com/docs/en/about-claude/pricing when models or prices change.
//
// Sources: Anthropic's pricing page and model overview pages as published up to November 2026.
// Cache writes are the 5-minute rate (the adapter only sets `{type: "ephemeral"}`, 5 minutes).
// Cache reads are NOT a fixed 0.1x of input on the newest models: Opus 5.5 and Sonnet 5.5
// (since 2026-10-07) read at 0.05x, Fable/Mythos 5.1 and Fable 5.2 at 0.025x. Cache writes are
// 1.25x input throughout.

import type { ModelUsage } from "../../ports/model.js";

/** The model new profiles get: current, and not on the SDK's deprecation list. */
export const DEFAULT_MODEL = "claude-sonnet-5-5";

/** USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  /** 5-minute cache write. */
  cacheWrite: number;
  cacheRead: number;
  /** Some models price a whole request higher when its prompt exceeds a threshold. */
  longPrompt?: { thresholdTokens: number } & Omit<ModelPrice, "longPrompt">;
}

const price = (input: number, output: number, cacheWrite: number, cacheRead: number) => ({
  input,
  output,
  cacheWrite,
  cacheRead,
});

export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  "claude-fable-5-2": price(8, 40, 10, 0.2),
  // Mythos has shared Fable's pricing at every version so far; 5.2 assumed the same.
  "claude-mythos-5-2": price(8, 40, 10, 0.2),
  "claude-fable-5-1": price(10, 50, 12.5, 0.25),
  "claude-mythos-5-1": price(10, 50, 12.5, 0.25),
  "claude-fable-5": price(10, 50, 12.5, 1),
  "claude-mythos-5": price(10, 50, 12.5, 1),
  "claude-opus-5-5": price(4, 20, 5, 0.2),
  "claude-sonnet-5-5": price(2, 10, 2.5, 0.1),
  // Haiku 5.5: a request whose prompt (input + cache reads + cache writes) exceeds 100k tokens
  // pays the higher rates on all of its tokens, output included.
  "claude-haiku-5-5": {
    ...price(0.1, 0.5, 0.125, 0.01),
    longPrompt: { thresholdTokens: 100_000, ...price(0.5, 2.5, 0.625, 0.05) },
  },
  "claude-opus-5": price(5, 25, 6.25, 0.5),
  "claude-sonnet-5": price(2, 10, 2.5, 0.2),
  "claude-opus-4-8": price(5, 25, 6.25, 0.5),
  "claude-opus-4-7": price(5, 25, 6.25, 0.5),
  // Invitation-only preview, $25/$125 as announced (cache rates at the standard 1.25x / 0.1x);
  // past its end of life (2026-06-30) but still in the SDK's list.
  "claude-mythos-preview": price(25, 125, 31.25, 2.5),
  "claude-opus-4-6": price(5, 25, 6.25, 0.5),
  "claude-sonnet-4-6": price(3, 15, 3.75, 0.3),
  "claude-haiku-4-5": price(1, 5, 1.25, 0.1),
  "claude-opus-4-5": price(5, 25, 6.25, 0.5),
  // Deprecated: end of life 2026-11-30.
  "claude-sonnet-4-5": price(3, 15, 3.75, 0.3),
};

/** Web search: $10 per 1,000 searches, in micro-dollars per search. Web fetch costs tokens only. */
export const WEB_SEARCH_MICRO_USD = 10_000;

/**
 * Context windows in tokens, by model id prefix (longest prefix wins); ids not listed get
 * DEFAULT_CONTEXT_WINDOW. The operator's to maintain, like the prices. The standard window is
 * listed: the 1M-token windows some models offer behind a beta are not requested, and a window
 * too small only compacts earlier. Compaction starts at 80% of it unless a profile says.
 */
export const CONTEXT_WINDOWS: Readonly<Record<string, number>> = {
  "claude-opus-4": 200_000,
  "claude-sonnet-4": 200_000,
  "claude-haiku-4": 200_000,
  "claude-opus-5": 200_000,
  "claude-sonnet-5": 200_000,
  "claude-haiku-5": 200_000,
  "claude-fable-5": 200_000,
  "claude-mythos": 200_000,
  demo: 200_000,
};
export const DEFAULT_CONTEXT_WINDOW = 200_000;

export function contextWindowOf(model: string): number {
  let best = "";
  for (const prefix of Object.keys(CONTEXT_WINDOWS)) {
    if (model.startsWith(prefix) && prefix.length > best.length) best = prefix;
  }
  return CONTEXT_WINDOWS[best] ?? DEFAULT_CONTEXT_WINDOW;
}

/** The price of a model id: exact, or a table id followed by a date (`-20251001`, `@20251001`). */
export function priceOf(model: string): ModelPrice | undefined {
  const exact = MODEL_PRICES[model];
  if (exact) return exact;
  const dated = /^(.+?)[-@]\d{8}$/.exec(model);
  return dated?.[1] ? MODEL_PRICES[dated[1]] : undefined;
}

/**
 * What one step's usage costs, in whole micro-dollars (rounded here, the one place money is
 * rounded); web searches at WEB_SEARCH_MICRO_USD each; tokens cost 0 for a model the table does
 * not know. Prices are USD per million tokens, so tokens
 * times price is micro-dollars.
 */
export function costOf(model: string, usage: ModelUsage): number {
  const searches = (usage.webSearchRequests ?? 0) * WEB_SEARCH_MICRO_USD;
  const base = priceOf(model);
  if (!base) return searches;
  const promptTokens =
    usage.inputTokens + usage.cacheReadInputTokens + usage.cacheCreationInputTokens;
  const rates =
    base.longPrompt && promptTokens > base.longPrompt.thresholdTokens ? base.longPrompt : base;
  return (
    searches +
    Math.round(
      usage.inputTokens * rates.input +
        usage.outputTokens * rates.output +
        usage.cacheCreationInputTokens * rates.cacheWrite +
        usage.cacheReadInputTokens * rates.cacheRead,
    )
  );
}
