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
  /**
   * The turn was cancelled while the tool ran, and `output` says what happened up to then (Bash:
   * the output so far and that the command was killed). Such a result is always `isError`.
   */
  cancelled?: boolean;
}

/** A tool the model can call, with the input shape Claude models know from Claude Code. */
export interface Tool {
  name: string;
  description: string;
  /** JSON Schema of the input. */
  inputSchema: Record<string, unknown>;
  /**
   * Runs the tool. Invalid input and failures are returned as `isError` results (the model
   * sees them and can correct itself). When `context.signal` aborts, a tool either rejects with
   * the signal's reason (it did nothing the model needs to know of, or cannot tell what it did)
   * or resolves with a result marked `cancelled` that says truthfully what was done (Bash).
   */
  run(input: unknown, context: ToolContext): Promise<ToolResult>;
}
