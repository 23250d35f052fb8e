import type { Sandbox } from "../../ports/sandbox.js";

export interface ToolContext {
  /** The session's sandbox, created (and its workspace restored) on first use. */
  sandbox(): Promise<Sandbox>;
  /** Aborts when the turn is cancelled: stop and kill what runs. */
  signal: AbortSignal;
  /** The model's id of this call. */
  toolUseId?: string;
  /** Output as it is produced (Bash), shown live as tool_result deltas. */
  onOutput?: (chunk: string) => void;
}

export interface ToolResult {
  /** What goes back to the model. */
  output: string;
  isError: boolean;
}

/** A tool the model can call, with the input shape Claude models know from Claude Code. */
export interface Tool {
  name: string;
  description: string;
  /** JSON Schema of the input. */
  inputSchema: Record<string, unknown>;
  /**
   * Runs the tool. Invalid input and failures are returned as `isError` results (the model
   * sees them and can correct itself); only cancellation rejects.
   */
  run(input: unknown, context: ToolContext): Promise<ToolResult>;
}
