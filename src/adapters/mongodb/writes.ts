import { isDeepStrictEqual } from "node:util";
import { type Collection, type Filter, MongoBulkWriteError, MongoServerError } from "mongodb";

// Helpers that make writes idempotent, so an attempt whose acknowledgement was lost can be
// sent again: a duplicate key is looked into rather than thrown.

const DUPLICATE_KEY = 11000;

/**
 * Inserts `doc`; on a duplicate key finds the record that holds the key: the one created with
 * the same request key, or the one with the same id when it holds the same data (this very
 * insert, retried after its acknowledgement was lost). Anything else is a clash, thrown.
 */
export async function insertIdempotent<D extends { _id: string; requestKey?: string }, R>(
  collection: Collection<D>,
  doc: D,
  fromDoc: (doc: D) => R,
): Promise<D> {
  try {
    await collection.insertOne({ ...doc } as Parameters<Collection<D>["insertOne"]>[0]);
    return doc;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    if (doc.requestKey !== undefined) {
      const byRequest = await collection.findOne({ requestKey: doc.requestKey } as Filter<D>);
      if (byRequest) return byRequest as D;
    }
    const byId = await collection.findOne({ _id: doc._id } as Filter<D>);
    if (byId && isDeepStrictEqual(fromDoc(byId as D), fromDoc(doc))) return byId as D;
    throw err;
  }
}

/** Indexes (into the batch) of the duplicate-key failures of an insertMany, when only those. */
export function duplicateIndexes(err: unknown): number[] {
  if (!(err instanceof MongoBulkWriteError)) return [];
  const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
  if (writeErrors.length === 0 || writeErrors.some((w) => w.code !== DUPLICATE_KEY)) return [];
  return writeErrors.map((w) => w.index);
}

/** Concurrent upserts of one key may both try to insert; the loser's retry updates instead. */
export async function retryOnDuplicate<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    return op();
  }
}

export function isDuplicateKey(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === DUPLICATE_KEY;
}
