import { randomBytes } from "node:crypto";

// Ids are a prefix and 26 Crockford base32 characters (lower case): 10 of milliseconds, then 16
// random ones (the ULID layout). Within one process every new id sorts after the one before it,
// whatever its prefix: in the same millisecond the random part is the previous one plus one, and
// a time earlier than the last one used (a clock that went back, or an explicit `now` from the
// past) keeps the last time. So an id's time is at least `now`, never earlier than the last id's.

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;
/** 32^10: the first millisecond that does not fit in 10 characters (year 10889). */
const TIME_LIMIT = 32 ** TIME_CHARS;

export type IdPrefix = "prf" | "ses" | "trn" | "blk" | "sub" | "sbx" | "cmd" | "whk" | "whd";

let lastTime = -1;
/** The random part of the last id, as digits 0..31, most significant first. */
const lastRandom = new Uint8Array(RANDOM_CHARS);

export function newId(prefix: IdPrefix, now = Date.now()): string {
  if (!Number.isSafeInteger(now) || now < 0 || now >= TIME_LIMIT) {
    throw new RangeError(`id time out of range: ${now}`);
  }
  if (now > lastTime) {
    lastTime = now;
    const bytes = randomBytes(RANDOM_CHARS);
    // 256 is a multiple of 32, so each digit is uniform.
    for (let i = 0; i < RANDOM_CHARS; i++) lastRandom[i] = bytes[i]! % 32;
  } else if (!incrementRandom()) {
    // 2^80 ids in one millisecond: borrow the next millisecond.
    lastTime += 1;
    lastRandom.fill(0);
  }
  return `${prefix}_${encodeTime(lastTime)}${encodeRandom()}`;
}

/** Adds one to the random part; false when it wrapped around to zero. */
function incrementRandom(): boolean {
  for (let i = RANDOM_CHARS - 1; i >= 0; i--) {
    if (lastRandom[i]! < 31) {
      lastRandom[i] = lastRandom[i]! + 1;
      return true;
    }
    lastRandom[i] = 0;
  }
  return false;
}

function encodeTime(time: number): string {
  let out = "";
  let t = time;
  for (let i = 0; i < TIME_CHARS; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function encodeRandom(): string {
  let out = "";
  for (const digit of lastRandom) out += ALPHABET[digit];
  return out;
}

const ID_PATTERN = /^[a-z]{3}_[0-9a-hjkmnp-tv-z]{26}$/;

export function isId(prefix: IdPrefix, value: string): boolean {
  return value.startsWith(`${prefix}_`) && ID_PATTERN.test(value);
}
