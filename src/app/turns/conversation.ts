// The conversation in the model's form: what a user message becomes, and how a conversation is
// left valid for the next request when a turn ends early.

import { createHash } from "node:crypto";
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

/** What a session's Transcripts entry holds (see Transcripts). */
interface CachedTranscript {
  messages: ModelMessage[];
  /** Per message: what it was when last serialised (a snapshot) and the hash of its JSON. */
  serialised: Serialised[];
  /** The hashes of the entries known to be stored, in order. */
  stored: string[];
  /** Whether nothing is stored after `stored`; false after a save failed (unknown). */
  exact: boolean;
  saving: Promise<void>;
}

interface Serialised {
  snapshot: unknown;
  hash: string;
  /** Kept by a save until it ran; rebuilt from the snapshot when needed again. */
  json?: string;
}

/**
 * Each loaded session's conversation in the model's form, read once and saved after every
 * change, one save at a time per session. The store keeps one entry per message; a save sends
 * the entries from the first that differs from what is known to be stored, and cuts off what is
 * stored after the conversation's end (it may have been replaced by a shorter one).
 *
 * A save serialises the conversation when called: only messages that changed since their last
 * serialisation (their snapshot tells, structure by structure; strings are immutable, so the
 * same string is the same text) are turned into JSON again.
 */
export class Transcripts {
  private readonly cache = new Map<string, CachedTranscript>();

  constructor(private readonly store: PersistenceAdapter) {}

  async get(sessionId: string): Promise<ModelMessage[]> {
    let entry = this.cache.get(sessionId);
    if (!entry) {
      const entries = await this.store.loadTranscript(sessionId);
      entry = this.cache.get(sessionId);
      if (!entry) {
        const messages = entries.map((json) => JSON.parse(json) as ModelMessage);
        const serialised = messages.map((m, i) => ({
          snapshot: snapshotOf(m),
          hash: hashOf(entries[i]!),
        }));
        entry = {
          messages,
          serialised,
          stored: serialised.map((s) => s.hash),
          exact: true,
          saving: Promise.resolve(),
        };
        this.cache.set(sessionId, entry);
      }
    }
    return entry.messages;
  }

  /**
   * Saves the conversation as it is now, after earlier saves. The returned promise rejects when
   * the save fails; a later save stores everything anyway.
   */
  save(sessionId: string, messages: ModelMessage[]): Promise<void> {
    let entry = this.cache.get(sessionId);
    if (!entry) {
      // Never read: what is stored is unknown, so the first save replaces all of it.
      entry = { messages, serialised: [], stored: [], exact: false, saving: Promise.resolve() };
      this.cache.set(sessionId, entry);
    }
    entry.messages = messages;
    const now = serialise(entry, messages);
    const target = entry;
    const save = target.saving.then(() => this.saveChange(sessionId, target, now));
    target.saving = save.catch(() => {});
    return save;
  }

  /** Drops the cached copy (the session was unloaded or deleted). */
  forget(sessionId: string): void {
    this.cache.delete(sessionId);
  }

  /** Stores `now` (the conversation serialised) over what is known to be stored. */
  private async saveChange(
    sessionId: string,
    entry: CachedTranscript,
    now: Serialised[],
  ): Promise<void> {
    const stored = entry.stored;
    let from = 0;
    while (from < now.length && from < stored.length && now[from]!.hash === stored[from]) from++;
    if (entry.exact && from === now.length && from === stored.length) return;
    const entries = now.slice(from).map((s) => s.json ?? JSON.stringify(s.snapshot));
    // Until it is done, only the entries before `from` are known; nothing about what follows.
    entry.stored = stored.slice(0, from);
    entry.exact = false;
    await this.store.saveTranscript(sessionId, { from, entries });
    entry.stored = now.map((s) => s.hash);
    entry.exact = true;
    for (const s of now) delete s.json;
  }
}

/** The conversation as entries, serialising only the messages that changed (see Transcripts). */
function serialise(entry: CachedTranscript, messages: ModelMessage[]): Serialised[] {
  const out = messages.map((m, i): Serialised => {
    const last = entry.serialised[i];
    if (last && unchanged(m, last.snapshot)) return last;
    const json = JSON.stringify(m);
    return { snapshot: snapshotOf(m), hash: hashOf(json), json };
  });
  entry.serialised = out;
  return out;
}

function hashOf(json: string): string {
  return createHash("sha256").update(json).digest("base64");
}

/** Marks a value that is not plain JSON data (a Date, a class instance): never unchanged. */
const OPAQUE = Symbol("opaque");

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && !("toJSON" in value);
}

/**
 * A copy of the structure of `value` (arrays and plain objects, keys in order) sharing its
 * strings and other primitives; JSON.stringify gives the same text for both.
 */
function snapshotOf(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(snapshotOf);
  if (!isPlainObject(value)) return OPAQUE;
  const copy: Record<string, unknown> = Object.create(null);
  for (const [k, v] of Object.entries(value)) copy[k] = snapshotOf(v);
  return copy;
}

/** Whether `value` is still what `snapshot` was taken of (structure, key order, values). */
function unchanged(value: unknown, snapshot: unknown): boolean {
  if (typeof value !== "object" || value === null) return value === snapshot;
  if (typeof snapshot !== "object" || snapshot === null) return false;
  if (Array.isArray(value)) {
    if (!Array.isArray(snapshot) || value.length !== snapshot.length) return false;
    return value.every((v, i) => unchanged(v, snapshot[i]));
  }
  if (Array.isArray(snapshot) || !isPlainObject(value)) return false;
  const keys = Object.keys(value);
  const before = Object.keys(snapshot);
  if (keys.length !== before.length) return false;
  const was = snapshot as Record<string, unknown>;
  const is = value as Record<string, unknown>;
  return keys.every((k, i) => k === before[i] && unchanged(is[k], was[k]));
}
