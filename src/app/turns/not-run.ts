import type { Block } from "../../domain/types.js";
import type { ModelContentBlock, ModelMessage } from "../../ports/model.js";
import type { BlockWriter } from "./blocks.js";

/** The step's tool calls end unrun (their blocks cancelled), so the conversation stays valid. */
export function notRun(
  calls: Array<Extract<ModelContentBlock, { type: "tool_use" }>>,
  open: Map<number, Block>,
  blocks: BlockWriter,
  messages: ModelMessage[],
  why: string,
): void {
  if (calls.length === 0) return;
  const output = `Not run: ${why}`;
  for (const b of open.values()) {
    if (b.content.type !== "tool_use") continue;
    b.content.status = "cancelled";
    blocks.complete(b);
    const r = blocks.start({
      type: "tool_result",
      toolUseId: b.content.toolUseId,
      output,
      isError: true,
      durationMs: 0,
    });
    blocks.complete(r);
  }
  messages.push({
    role: "user",
    content: calls.map((c) => ({
      type: "tool_result" as const,
      tool_use_id: c.id,
      content: output,
      is_error: true,
    })),
  });
}
