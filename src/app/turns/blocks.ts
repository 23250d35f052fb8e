import { newId } from "../../domain/ids.js";
import type { Block, BlockContent, BlockDelta, EventPayload } from "../../domain/types.js";
import type { EmitContext } from "../feed/event-feed.js";

/** Applies a delta to a block's content (live, on replay and on recovery alike). */
export function applyDelta(content: BlockContent, delta: BlockDelta): void {
  if (delta.kind === "text" && content.type === "assistant_text") content.text += delta.value;
  else if (delta.kind === "thinking" && content.type === "thinking")
    content.thinking += delta.value;
  else if (delta.kind === "input_json" && content.type === "tool_use")
    content.inputJson += delta.value;
  else if (delta.kind === "output" && content.type === "tool_result") content.output += delta.value;
}

/** Marks what was still running in a block as cancelled (a turn that ended early). */
export function cancelOpen(block: Block): void {
  const c = block.content;
  if (
    c.type === "tool_use" &&
    (c.status === "pending" || c.status === "running" || c.status === "waiting")
  )
    c.status = "cancelled";
  if (c.type === "subagent" && c.status === "running") c.status = "cancelled";
}

/**
 * Where a turn writes: the session's feed, its conversation (blocks) and its workspace. The
 * agent loop needs nothing else, so a test can run it against a fake.
 */
export interface TurnSink {
  /** The sequence the next event gets. */
  readonly nextSequence: number;
  emit(payload: EventPayload, context: EmitContext): void;
  /** Stores a completed block (idempotent: by id). */
  saveBlock(block: Block): Promise<void>;
  /** Saves what changed in the workspace and emits file events. */
  syncWorkspace(context: EmitContext): Promise<unknown>;
}

/**
 * Writes a turn's blocks as events: started, deltas, updated, completed. Completed blocks are
 * saved in order in the background; a save that fails is kept and reported by `saved()`, never
 * left as an unhandled rejection. `close` completes whatever is still open (cancel, failure).
 */
export class BlockWriter {
  private readonly open = new Map<string, Block>();
  private saving: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(
    private readonly sink: TurnSink,
    private readonly context: EmitContext & { turnId: string },
  ) {}

  start(content: BlockContent): Block {
    const block: Block = {
      id: newId("blk"),
      turnId: this.context.turnId,
      ...(this.context.subagentId ? { subagentId: this.context.subagentId } : {}),
      createTime: new Date(),
      sequence: this.sink.nextSequence,
      content,
    };
    this.open.set(block.id, block);
    this.sink.emit({ type: "block_started", block: structuredClone(block) }, this.context);
    return block;
  }

  /** Takes over a block started earlier (a parked call's tool_use block, when its turn goes on). */
  adopt(block: Block): void {
    this.open.set(block.id, block);
  }

  /** Leaves an open block open: a call parked for an answer is completed when its turn goes on. */
  release(block: Block): void {
    this.open.delete(block.id);
  }

  delta(block: Block, delta: BlockDelta): void {
    if (delta.value === "") return;
    applyDelta(block.content, delta);
    this.sink.emit({ type: "block_delta", blockId: block.id, delta }, this.context);
  }

  update(block: Block): void {
    this.sink.emit({ type: "block_updated", block: structuredClone(block) }, this.context);
  }

  complete(block: Block): void {
    if (!this.open.delete(block.id)) return;
    const snapshot = structuredClone(block);
    this.sink.emit({ type: "block_completed", block: snapshot }, this.context);
    this.saving = this.saving
      .then(() => (this.failure === undefined ? this.sink.saveBlock(snapshot) : undefined))
      .catch((err: unknown) => {
        this.failure ??= err;
      });
  }

  /** Completes every open block as it is; tool calls and subagents still open become cancelled. */
  close(): void {
    for (const block of [...this.open.values()]) {
      cancelOpen(block);
      this.complete(block);
    }
  }

  /** Resolves when every completed block is saved; rejects with the first save that failed. */
  async saved(): Promise<void> {
    await this.saving;
    if (this.failure !== undefined) throw this.failure;
  }
}
