import { createHash } from "node:crypto";
import type { FindCursor } from "mongodb";
import type { TranscriptChange } from "../../ports/persistence.js";
import type { Collections, Run } from "./collections.js";
import type { TranscriptEntryDoc } from "./documents.js";
import { duplicateIndexes } from "./writes.js";

// A session's transcript, one entry (one message's JSON text) per document: a save writes what
// changed, and no document grows with the session (MongoDB's limit is 16 MiB a document). An
// entry larger than PIECE_BYTES is stored in pieces of at most that many UTF-8 bytes.
//
// The chain. A save is several writes and FerretDB v1 has no transactions: it writes the new
// entries, then removes the old tail. So every entry stores `chain`, the hash of the chain
// before it and its own JSON: the chain at index i stands for entries 0..i. Load takes entries
// from index 0 while each is whole (every piece, all with one chain) and its chain is the one
// computed from the entries before it, and stops at the first that is missing or is not. Old
// entries after new ones have a chain computed from another prefix, so a save cut short reads as
// the transcript before it, or as a prefix of either that one or the new one (the port's
// promise), whatever order its writes landed in. What it leaves behind is never read; the next
// save overwrites or removes it, and deleteSession removes everything.
//
// Reads before writing. To chain new entries to the stored ones, a save needs the chain of the
// entry before `from`; to remove a tail, to know that there is one. The adapter remembers, per
// session, the length and last chain of what it stored (or loaded whole) last, with nothing
// stored after it: a save that appends to that (the turn runner's usual save) reads nothing and
// only inserts. Any other save (after a restart, a failure, or when it rewrites entries) first
// reads what is stored from the entry before `from` on. This matters most on FerretDB v1, where
// every filtered query reads the whole collection (it does not use indexes for them).
//
// Writes are inserts. Pieces stored before at the same places (an entry rewritten) are deleted
// first, a batch at a time: one query, where replacing them would be one per piece (and on
// FerretDB, one read of the whole collection each). A retried insert whose answer was lost finds
// its piece stored and writes it again: saves can be retried.
//
// Earlier versions stored a transcript as one document {_id: sessionId, transcript} in the same
// collection. Load reads it while the entries are none or a strict prefix of it (a conversion
// cut short); a save continues from it when the entry before `from` is not stored (writing its
// first `from` messages as entries too), and removes it once the entries are stored.

/** The most UTF-8 bytes of an entry's JSON in one document. */
export const PIECE_BYTES = 4 * 1024 * 1024;
/** About the most bytes of pieces in one write (each write has the operation's deadline). */
const WRITE_BATCH_BYTES = 16 * 1024 * 1024;
/** How many sessions' last saves the adapter remembers (the least recently saved are dropped). */
const KNOWN_SESSIONS = 10_000;

type Piece = TranscriptEntryDoc;

/** What is stored of a session's transcript: its length and last chain, nothing after. */
interface Known {
  length: number;
  chain: string;
}

/** A session's transcript entries: MongoPersistence's methods for them. */
export class MongoTranscripts {
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly collections: Collections,
    private readonly run: Run,
  ) {}

  async loadTranscript(sessionId: string): Promise<string[]> {
    this.known.delete(sessionId);
    const { transcripts, legacyTranscripts } = this.collections;
    const [read, legacy] = await this.run("loadTranscript", () =>
      Promise.all([
        chainedEntries(transcripts.find({ sessionId }).sort({ index: 1, part: 1 })),
        legacyTranscripts.findOne({ _id: sessionId }),
      ]),
    );
    if (legacy) {
      const old = legacyEntries(sessionId, legacy.transcript);
      const { entries } = read;
      if (entries.length < old.length && entries.every((e, i) => e === old[i])) return old;
    } else if (read.whole) {
      this.remember(sessionId, { length: read.entries.length, chain: read.chain });
    }
    return read.entries;
  }

  async saveTranscript(sessionId: string, change: TranscriptChange): Promise<void> {
    const { from, entries } = change;
    if (!Number.isSafeInteger(from) || from < 0) {
      throw new Error(`cannot change the transcript of session ${sessionId} from entry ${from}`);
    }
    // Forgotten until this save is done: a save that fails leaves what is stored unknown.
    const known = this.known.get(sessionId);
    this.known.delete(sessionId);
    if (known?.length === from) {
      const pieces = piecesOf(sessionId, from, known.chain, entries);
      // Nothing is stored at `from` or after: inserts only. A duplicate says otherwise.
      if (!(await this.write(pieces, new Set()))) {
        this.remember(sessionId, {
          length: from + entries.length,
          chain: lastChain(pieces, known),
        });
        return;
      }
    }
    this.remember(sessionId, await this.saveCarefully(sessionId, from, entries));
  }

  /** Forgets what it knew of the session (deleted). */
  forget(sessionId: string): void {
    this.known.delete(sessionId);
  }

  /** A save that first reads what is stored from the entry before `from` on (see above). */
  private async saveCarefully(sessionId: string, from: number, entries: string[]): Promise<Known> {
    const { transcripts, legacyTranscripts } = this.collections;
    const [stored, legacy] = await this.run("saveTranscript", () =>
      Promise.all([
        transcripts
          .find(
            { sessionId, index: { $gte: Math.max(0, from - 1) } },
            { projection: { _id: 1, index: 1, part: 1, chain: 1 } },
          )
          .toArray(),
        legacyTranscripts.findOne({ _id: sessionId }),
      ]),
    );
    let first = from;
    let write = entries;
    let chain = "";
    const before = stored.find((d) => d.index === from - 1 && d.part === 0);
    if (before) {
      chain = before.chain;
    } else if (from > 0) {
      const old = legacy ? legacyEntries(sessionId, legacy.transcript) : [];
      if (old.length < from) {
        throw new Error(
          `cannot change the transcript of session ${sessionId} from entry ${from}: entry ${from - 1} is not stored`,
        );
      }
      first = 0;
      write = [...old.slice(0, from), ...entries];
    }
    const pieces = piecesOf(sessionId, first, chain, write);
    await this.write(pieces, new Set(stored.map((d) => d._id)));
    const end = from + entries.length;
    if (stored.some((d) => d.index >= end)) {
      await this.run("saveTranscript", () =>
        transcripts.deleteMany({ sessionId, index: { $gte: end } }),
      );
    }
    // Pieces past an entry's new number of pieces.
    const written = new Set(pieces.map((p) => p._id));
    const stale = stored
      .filter((d) => d.index >= first && d.index < end && !written.has(d._id))
      .map((d) => d._id);
    if (stale.length > 0) {
      await this.run("saveTranscript", () => transcripts.deleteMany({ _id: { $in: stale } }));
    }
    if (legacy) {
      await this.run("saveTranscript", () => legacyTranscripts.deleteOne({ _id: sessionId }));
    }
    return { length: end, chain: lastChain(pieces, { length: from, chain }) };
  }

  /**
   * Writes the pieces in batches of about WRITE_BATCH_BYTES: deletes those of them stored
   * before (`stored`: their ids), then inserts. A piece found stored after all (a retried insert
   * whose answer was lost, or `stored` was wrong) is deleted and inserted again; returns whether
   * there was one.
   */
  private async write(pieces: Piece[], stored: ReadonlySet<string>): Promise<boolean> {
    const { transcripts } = this.collections;
    let surprised = false;
    for (const batch of batches(pieces)) {
      let replace = batch.filter((p) => stored.has(p._id));
      let insert = batch;
      for (let attempt = 1; ; attempt++) {
        const ids = replace.map((p) => p._id);
        if (ids.length > 0) {
          await this.run("saveTranscript", () => transcripts.deleteMany({ _id: { $in: ids } }));
        }
        const found = (await this.insert(insert)).map((i) => insert[i]!);
        if (found.length === 0) break;
        if (attempt === 3) throw new Error("transcript pieces kept reappearing while written");
        surprised = true;
        replace = found;
        insert = found;
      }
    }
    return surprised;
  }

  /** Inserts the pieces; returns the indexes of those already stored (not inserted). */
  private async insert(pieces: Piece[]): Promise<number[]> {
    try {
      // Copies: the driver may add to the documents it is given.
      await this.run("saveTranscript", () =>
        this.collections.transcripts.insertMany(
          pieces.map((p) => ({ ...p })),
          { ordered: false },
        ),
      );
      return [];
    } catch (err) {
      const found = duplicateIndexes(err);
      if (found.length === 0) throw err;
      return found;
    }
  }

  private remember(sessionId: string, known: Known): void {
    this.known.delete(sessionId);
    this.known.set(sessionId, known);
    if (this.known.size > KNOWN_SESSIONS) {
      this.known.delete(this.known.keys().next().value as string);
    }
  }
}

/** `_id` of a piece: unique per session, index and piece, and never a bare session id. */
function pieceId(sessionId: string, index: number, part: number): string {
  return `${sessionId}/${index}/${part}`;
}

function chainOf(before: string, json: string): string {
  return createHash("sha256").update(before).update(json).digest("hex");
}

/** The chain after the pieces, or after what was known when there are none. */
function lastChain(pieces: Piece[], known: Known): string {
  return pieces.at(-1)?.chain ?? known.chain;
}

/** The pieces of `entries` stored from index `first` on, after the chain `chain`. */
function piecesOf(sessionId: string, first: number, chain: string, entries: string[]): Piece[] {
  const out: Piece[] = [];
  let before = chain;
  for (const [i, json] of entries.entries()) {
    const link = chainOf(before, json);
    const cut = cutJson(json);
    const index = first + i;
    for (const [part, piece] of cut.entries()) {
      const _id = pieceId(sessionId, index, part);
      out.push({ _id, sessionId, index, part, parts: cut.length, chain: link, json: piece });
    }
    before = link;
  }
  return out;
}

/** `json` cut into pieces of at most PIECE_BYTES UTF-8 bytes, never inside a character. */
function cutJson(json: string): string[] {
  if (json.length * 3 <= PIECE_BYTES) return [json]; // a UTF-16 unit is at most 3 UTF-8 bytes
  const bytes = Buffer.from(json, "utf8");
  if (bytes.length <= PIECE_BYTES) return [json];
  const pieces: string[] = [];
  for (let start = 0; start < bytes.length; ) {
    let end = Math.min(start + PIECE_BYTES, bytes.length);
    while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--; // a continuation byte
    pieces.push(bytes.toString("utf8", start, end));
    start = end;
  }
  return pieces;
}

/** Consecutive runs of pieces of about WRITE_BATCH_BYTES each (at least one piece). */
function batches(pieces: Piece[]): Piece[][] {
  const out: Piece[][] = [];
  let size = Number.POSITIVE_INFINITY;
  for (const piece of pieces) {
    if (size + piece.json.length > WRITE_BATCH_BYTES) {
      out.push([]);
      size = 0;
    }
    out.at(-1)!.push(piece);
    size += piece.json.length;
  }
  return out;
}

/**
 * The entries from index 0 on, sorted by index then piece, while each is whole and its chain
 * follows from the entries before it (see above), with the last chain; `whole` when every
 * document was read so (nothing is stored after the entries). Pieces of an entry past its
 * `parts` are left from an earlier form of it: skipped.
 */
async function chainedEntries(
  cursor: FindCursor<Piece>,
): Promise<{ entries: string[]; chain: string; whole: boolean }> {
  const entries: string[] = [];
  let chain = "";
  let pieces: string[] = [];
  let current: Piece | undefined;
  let whole = true;
  try {
    for await (const doc of cursor) {
      whole = false;
      if (doc.index < entries.length) continue;
      if (doc.index > entries.length) break;
      if (doc.part === 0) current = doc;
      else if (current === undefined || doc.part !== pieces.length || doc.chain !== current.chain)
        break;
      pieces.push(doc.json);
      if (pieces.length < current.parts) continue;
      const json = pieces.length === 1 ? pieces[0]! : pieces.join("");
      if (chainOf(chain, json) !== current.chain) break;
      entries.push(json);
      chain = current.chain;
      pieces = [];
      current = undefined;
      whole = true;
    }
  } finally {
    await cursor.close();
  }
  return { entries, chain, whole };
}

/** The messages of an earlier version's transcript (a JSON array), each as an entry. */
function legacyEntries(sessionId: string, transcript: string): string[] {
  if (transcript === "") return [];
  let messages: unknown;
  try {
    messages = JSON.parse(transcript);
  } catch {
    messages = undefined;
  }
  if (!Array.isArray(messages)) {
    throw new Error(`the stored transcript of session ${sessionId} is not a JSON array`);
  }
  return messages.map((m) => JSON.stringify(m));
}
