// Which extended-thinking setting a model takes.

import type { ThinkingConfigParam } from "@anthropic-ai/sdk/resources/messages";

/**
 * Claude 4.6 and later think "adaptively": Opus 4.7, the Mythos models and the Claude 5 family
 * reject `{type: "enabled", budget_tokens}` with a 400, and it is deprecated on Opus/Sonnet 4.6
 * (the SDK warns). Those get `{type: "adaptive", display: "summarized"}` (newer models omit the
 * thinking text by default) and the budget is not sent. Older or unrecognised ids get the budget
 * form, whose max_tokens must exceed the budget: when it would not, the budget is added on top
 * of maxOutputTokens so the answer keeps its own allowance.
 */
export function thinkingFor(
  model: string,
  budgetTokens: number,
  maxOutputTokens: number,
): { thinking: ThinkingConfigParam; maxTokens: number } {
  if (usesAdaptiveThinking(model)) {
    return { thinking: { type: "adaptive", display: "summarized" }, maxTokens: maxOutputTokens };
  }
  return {
    thinking: { type: "enabled", budget_tokens: budgetTokens },
    maxTokens: maxOutputTokens > budgetTokens ? maxOutputTokens : budgetTokens + maxOutputTokens,
  };
}

export function usesAdaptiveThinking(model: string): boolean {
  if (model.startsWith("claude-mythos")) return true;
  const match = /^claude-(?:opus|sonnet|haiku|fable)-(\d+)(?:-(\d{1,2}))?(?:[-@]\d{8})?$/.exec(
    model,
  );
  if (!match) return false;
  const major = Number(match[1]);
  const minor = match[2] === undefined ? 0 : Number(match[2]);
  return major > 4 || (major === 4 && minor >= 6);
}
