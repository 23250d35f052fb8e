import { newId } from "../domain/ids.js";
import type { Block, BlockContent, BlockDelta } from "../domain/types.js";
import type { EmitContext } from "./event-feed.js";
import type { LoadedSession } from "./session-manager.js";

/** Applies a delta to a block's content (live, on replay and on recovery alike). */
export function applyDelta(content: BlockContent, delta: BlockDelta): void {
  if (delta.kind === "text" && content.type === "assistant_text") content.text += delta.value;
  else if (delta.kind === "thinking" && content.type === "thinking")
    content.thinking += delta.value;
  else if (delta.kind === "input_json" && content.type === "tool_use")
    content.inputJson += delta.value;
  else if (delta.kind === "output" && content.type === "tool_result") content.output += delta.value;
}

/**
 * Writes a turn's blocks as events: started, deltas, updated, completed. Completed blocks are
 * saved in order; `close` completes whatever is still open (cancel, failure).
 */
export class BlockWriter {
  private readonly open = new Map<string, Block>();
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly session: LoadedSession,
    private readonly context: EmitContext & { turnId: string },
  ) {}

  start(content: BlockContent): Block {
    const block: Block = {
      id: newId("blk"),
      turnId: this.context.turnId,
      ...(this.context.subagentId ? { subagentId: this.context.subagentId } : {}),
      createTime: new Date(),
      sequence: this.session.feed.sequence + 1,
      content,
    };
    this.open.set(block.id, block);
    this.session.emit({ type: "block_started", block: structuredClone(block) }, this.context);
    return block;
  }

  delta(block: Block, delta: BlockDelta): void {
    if (delta.value === "") return;
    applyDelta(block.content, delta);
    this.session.emit({ type: "block_delta", blockId: block.id, delta }, this.context);
  }

  update(block: Block): void {
    this.session.emit({ type: "block_updated", block: structuredClone(block) }, this.context);
  }

  complete(block: Block): void {
    if (!this.open.delete(block.id)) return;
    const snapshot = structuredClone(block);
    this.session.emit({ type: "block_completed", block: snapshot }, this.context);
    const store = this.session.store;
    const sessionId = this.session.id;
    this.saving = this.saving.then(() => store.saveBlock(sessionId, snapshot));
  }

  /** Completes every open block as it is; tool calls and subagents still open become cancelled. */
  close(): void {
    for (const block of [...this.open.values()]) {
      const c = block.content;
      if (c.type === "tool_use" && (c.status === "pending" || c.status === "running")) {
        c.status = "cancelled";
      }
      if (c.type === "subagent" && c.status === "running") c.status = "cancelled";
      this.complete(block);
    }
  }

  /** Resolves when every completed block is saved. */
  saved(): Promise<void> {
    return this.saving;
  }
}
