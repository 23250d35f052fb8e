import { describe, expect, it, vi } from "vitest";

// randomBytes is the real one unless a test asks for the largest random part, to reach the carry.
const random = vi.hoisted(() => ({ maxed: false }));
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:crypto")>();
  return {
    ...actual,
    randomBytes: (size: number) =>
      random.maxed ? Buffer.alloc(size, 0xff) : actual.randomBytes(size),
  };
});

const { isId, newId } = await import("../src/domain/ids.js");

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const body = (id: string) => id.slice(4);
const timePart = (id: string) => id.slice(4, 14);
const randomPart = (id: string) => id.slice(14);
function encodeTime(ms: number): string {
  let out = "";
  for (let i = 0, t = ms; i < 10; i++, t = Math.floor(t / 32)) out = ALPHABET[t % 32] + out;
  return out;
}
function decode(chars: string): bigint {
  let n = 0n;
  for (const c of chars) n = n * 32n + BigInt(ALPHABET.indexOf(c));
  return n;
}

describe("newId", () => {
  it("keeps the stored format: prefix, 26 lower-case Crockford base32 characters", () => {
    const id = newId("ses");
    expect(id).toMatch(/^ses_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(isId("ses", id)).toBe(true);
    expect(isId("prf", id)).toBe(false);
    // An id made before this change (plain time + random) is still an id.
    expect(isId("ses", "ses_01k0q3z8rmx7d2e9fj4ka5b6cw")).toBe(true);
    expect(isId("ses", "ses_01k0q3z8rmx7d2e9fj4ka5b6cu")).toBe(false);
  });

  it("makes 100,000 ids in a tight loop that strictly increase", () => {
    const ids: string[] = new Array(100_000);
    for (let i = 0; i < ids.length; i++) ids[i] = newId("blk");
    let sameMillisecond = 0;
    for (let i = 1; i < ids.length; i++) {
      if (!(ids[i - 1]! < ids[i]!)) {
        throw new Error(`id ${i} does not sort after the one before: ${ids[i - 1]} ${ids[i]}`);
      }
      if (timePart(ids[i - 1]!) === timePart(ids[i]!)) sameMillisecond++;
    }
    // The loop must have exercised the same-millisecond case, or the test proves little.
    expect(sameMillisecond).toBeGreaterThan(1_000);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => isId("blk", id))).toBe(true);
  });

  it("in the same millisecond, adds one to the random part", () => {
    const t = Date.now() + 60_000;
    const a = newId("trn", t);
    const b = newId("trn", t);
    expect(timePart(a)).toBe(encodeTime(t));
    expect(timePart(b)).toBe(timePart(a));
    expect(decode(randomPart(b)) - decode(randomPart(a))).toBe(1n);
  });

  it("keeps the last time when given an earlier one, so the id still sorts after", () => {
    const later = Date.now() + 120_000;
    const first = newId("ses", later);
    const earlier = newId("ses", later - 5_000);
    const now = newId("ses");
    expect(body(earlier) > body(first)).toBe(true);
    expect(body(now) > body(earlier)).toBe(true);
    expect(timePart(earlier)).toBe(encodeTime(later));
    expect(timePart(now)).toBe(encodeTime(later));
    // A later time than the last starts afresh at that time.
    expect(timePart(newId("ses", later + 1))).toBe(encodeTime(later + 1));
  });

  it("orders across prefixes by the part after the prefix", () => {
    const made = [newId("prf"), newId("ses"), newId("trn"), newId("blk"), newId("sub")];
    const bodies = made.map(body);
    expect([...bodies].sort()).toEqual(bodies);
  });

  it("carries into the next millisecond when the random part is full", () => {
    const t = Date.now() + 180_000;
    random.maxed = true;
    let full: string;
    let next: string;
    try {
      full = newId("sbx", t);
      next = newId("sbx", t);
    } finally {
      random.maxed = false;
    }
    expect(randomPart(full)).toBe("z".repeat(16));
    expect(timePart(next)).toBe(encodeTime(t + 1));
    expect(randomPart(next)).toBe("0".repeat(16));
    expect(next > full).toBe(true);
    expect(newId("sbx", t + 1) > next).toBe(true);
  });

  it("refuses a time that does not fit", () => {
    expect(() => newId("ses", -1)).toThrow(RangeError);
    expect(() => newId("ses", Number.NaN)).toThrow(RangeError);
    expect(() => newId("ses", 32 ** 10)).toThrow(RangeError);
  });
});
