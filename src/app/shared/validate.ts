import { invalidField } from "../../domain/errors.js";
import { LIMITS } from "../../domain/limits.js";

const utf8 = new TextEncoder();

export function checkLength(field: string, value: string, max: number, required = false): void {
  if (required && value.trim().length === 0) throw invalidField(field, "is required");
  if (value.length > max) throw invalidField(field, `must be at most ${max} characters`);
}

export function checkMetadata(field: string, metadata: Record<string, string>): void {
  const entries = Object.entries(metadata);
  if (entries.length > LIMITS.maxMetadataEntries) {
    throw invalidField(field, `must have at most ${LIMITS.maxMetadataEntries} entries`);
  }
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > LIMITS.maxMetadataKeyLength) {
      throw invalidField(field, `keys must be 1 to ${LIMITS.maxMetadataKeyLength} characters`);
    }
    if (value.length > LIMITS.maxMetadataValueLength) {
      throw invalidField(
        `${field}[${key}]`,
        `must be at most ${LIMITS.maxMetadataValueLength} characters`,
      );
    }
  }
}

export function checkRequestId(field: string, value: string): void {
  if (value.length > LIMITS.maxRequestIdLength) {
    throw invalidField(field, `must be at most ${LIMITS.maxRequestIdLength} characters`);
  }
  if ([...value].some((ch) => ch.charCodeAt(0) < 0x20)) {
    throw invalidField(field, "must not contain control characters");
  }
}

export function byteLength(value: string): number {
  return utf8.encode(value).byteLength;
}

/** Page size: 0 means the default, negative is invalid, too large is clamped (AIP-158). */
export function pageSize(field: string, value: number, defaultSize: number, max: number): number {
  if (!Number.isInteger(value) || value < 0) throw invalidField(field, "must not be negative");
  if (value === 0) return defaultSize;
  return Math.min(value, max);
}

/** Opaque page tokens: base64url JSON tagged with what they page through. */
export function encodePageToken(kind: string, position: unknown): string {
  return Buffer.from(JSON.stringify({ k: kind, p: position })).toString("base64url");
}

export function decodePageToken<T>(
  field: string,
  token: string,
  kind: string,
  check: (p: unknown) => p is T,
): T | undefined {
  if (token === "") return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      k?: unknown;
      p?: unknown;
    };
    if (parsed.k === kind && check(parsed.p)) return parsed.p;
  } catch {
    // fall through
  }
  throw invalidField(field, "is not a page token of this list");
}
