import { Binary } from "mongodb";

// Values as the driver stores them:
// - Dates are BSON dates, byte arrays BSON binary (read back as plain Uint8Array). Keys whose
//   value is undefined are not stored, so an absent optional field stays absent.
// - Free-form string maps (session metadata, sandbox env and provider options) are stored as
//   arrays of {k, v}: their keys may contain "." or start with "$", which field names may not.

/** A free-form map as stored. */
export interface Pair {
  k: string;
  v: string;
}

export function toPairs(map: Record<string, string>): Pair[] {
  return Object.entries(map).map(([k, v]) => ({ k, v }));
}

export function fromPairs(pairs: Pair[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const { k, v } of pairs) {
    // defineProperty: a key such as "__proto__" stays an own property.
    Object.defineProperty(map, k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return map;
}

/**
 * A copy fit for the driver: keys whose value is undefined left out (so absent stays absent),
 * byte arrays as BSON binary. Field names are the domain's fixed ones (maps go through toPairs).
 */
export function toBson<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (value instanceof Uint8Array) return new Binary(new Uint8Array(value)) as T;
  if (Array.isArray(value)) return value.map(toBson) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toBson(v);
  return out as T;
}

/** The reverse of toBson: BSON binary back to plain Uint8Array. */
export function fromBson<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date) return value;
  if (value instanceof Binary || value instanceof Uint8Array) return bytes(value) as T;
  if (Array.isArray(value)) return value.map(fromBson) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    if (v !== undefined && v !== null) out[k] = fromBson(v);
  return out as T;
}

/** A plain Uint8Array (not a Buffer) copy of stored bytes. */
export function bytes(value: unknown): Uint8Array {
  if (value instanceof Binary) return new Uint8Array(value.buffer.subarray(0, value.position));
  if (value instanceof Uint8Array) return new Uint8Array(value);
  throw new TypeError("stored bytes are neither BSON binary nor Uint8Array");
}
