// Token usage and cost of a model step, a turn or a session.

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
  /** Cost in whole micro-dollars (USD / 1,000,000): integers, so sums stay exact. */
  costMicroUsd: number;
  /** Server tool calls run by the model provider (absent: none; older records). */
  webSearchRequests?: number;
  webFetchRequests?: number;
}

export function emptyUsage(): Usage {
  return {
    inputTokens: 0,
    outputTokens: 0,
    cacheReadInputTokens: 0,
    cacheCreationInputTokens: 0,
    costMicroUsd: 0,
  };
}

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadInputTokens: a.cacheReadInputTokens + b.cacheReadInputTokens,
    cacheCreationInputTokens: a.cacheCreationInputTokens + b.cacheCreationInputTokens,
    costMicroUsd: a.costMicroUsd + b.costMicroUsd,
    ...((a.webSearchRequests ?? 0) + (b.webSearchRequests ?? 0) > 0
      ? { webSearchRequests: (a.webSearchRequests ?? 0) + (b.webSearchRequests ?? 0) }
      : {}),
    ...((a.webFetchRequests ?? 0) + (b.webFetchRequests ?? 0) > 0
      ? { webFetchRequests: (a.webFetchRequests ?? 0) + (b.webFetchRequests ?? 0) }
      : {}),
  };
}
