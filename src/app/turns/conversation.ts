// The conversation in the model's form: what a user message becomes, and how a conversation is
// left valid for the next request when a turn ends early.

import type { Attachment } from "../../domain/types.js";
import type { ModelContentBlock, ModelMessage } from "../../ports/model.js";
import type { PersistenceAdapter } from "../../ports/persistence.js";

export const ATTACHMENT_TYPES = [
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "application/pdf",
  "text/plain",
] as const;

function attachmentContent(a: Attachment): ModelContentBlock {
  const data = Buffer.from(a.data);
  if (a.mediaType === "text/plain") {
    return {
      type: "document",
      source: { type: "text", media_type: "text/plain", data: data.toString("utf8") },
    };
  }
  const source = {
    type: "base64" as const,
    media_type: a.mediaType,
    data: data.toString("base64"),
  };
  return a.mediaType === "application/pdf"
    ? { type: "document", source }
    : { type: "image", source };
}

/** Adds a user message (attachments first, then the text) to the conversation. */
export function addUserMessage(
  messages: ModelMessage[],
  text: string,
  attachments: Attachment[],
): void {
  const content: ModelContentBlock[] = attachments.map(attachmentContent);
  if (text) content.push({ type: "text", text });
  const last = messages.at(-1);
  if (last?.role === "user") last.content.push(...content);
  else messages.push({ role: "user", content });
}

/**
 * Leaves a conversation valid for the next request after a turn ended early: every tool call
 * gets a result (`unanswered` says what to tell the model about a call that got none) and the
 * conversation ends with an assistant message.
 */
export function closeConversation(
  messages: ModelMessage[],
  note: string,
  unanswered: (toolUseId: string) => string = () => `Not run: ${note}`,
): void {
  const last = messages.at(-1);
  if (!last) return;
  const answer = (c: ModelContentBlock): ModelContentBlock => ({
    type: "tool_result",
    tool_use_id: (c as { id: string }).id,
    content: unanswered((c as { id: string }).id),
    is_error: true,
  });
  if (last.role === "assistant") {
    const pending = last.content.filter((c) => c.type === "tool_use");
    if (pending.length === 0) return;
    messages.push({ role: "user", content: pending.map(answer) });
  } else {
    const answered = new Set(
      last.content.flatMap((c) => (c.type === "tool_result" ? [c.tool_use_id] : [])),
    );
    const prev = messages.at(-2);
    if (prev?.role === "assistant") {
      for (const c of prev.content)
        if (c.type === "tool_use" && !answered.has(c.id)) last.content.push(answer(c));
    }
  }
  messages.push({ role: "assistant", content: [{ type: "text", text: `[${note}]` }] });
}

/**
 * Each loaded session's conversation in the model's form, read once and saved after every
 * change, one save at a time per session.
 */
export class Transcripts {
  private readonly cache = new Map<string, { messages: ModelMessage[]; saving: Promise<void> }>();

  constructor(private readonly store: PersistenceAdapter) {}

  async get(sessionId: string): Promise<ModelMessage[]> {
    let entry = this.cache.get(sessionId);
    if (!entry) {
      const raw = await this.store.loadTranscript(sessionId);
      entry = this.cache.get(sessionId) ?? {
        messages: raw ? (JSON.parse(raw) as ModelMessage[]) : [],
        saving: Promise.resolve(),
      };
      this.cache.set(sessionId, entry);
    }
    return entry.messages;
  }

  /**
   * Saves the conversation as it is now, after earlier saves. The returned promise rejects when
   * the save fails; a later save stores everything anyway.
   */
  save(sessionId: string, messages: ModelMessage[]): Promise<void> {
    const copy = JSON.stringify(messages);
    const entry = this.cache.get(sessionId);
    const save = (entry?.saving ?? Promise.resolve()).then(() =>
      this.store.saveTranscript(sessionId, copy),
    );
    if (entry) entry.saving = save.catch(() => {});
    return save;
  }

  /** Drops the cached copy (the session was unloaded or deleted). */
  forget(sessionId: string): void {
    this.cache.delete(sessionId);
  }
}
