import { hash } from 'node:crypto';
import { SHA256_BYTES } from './sha256';

const LETTERS = Array.from({ length: 26 }, (_, i) => String.fromCharCode(0x61 + i));

/**
 * Short values from small fixed sets: single letters (genders `f` and `m`, first initials), pairs of letters (US
 * state and country codes), `01`–`31` (birth months and days) and the years 1900–2099 (birth years). Anyone can
 * hash every one of them in a millisecond, so a digest of one hides nothing that its number here does not: a
 * stored row names such a digest by its number, in 2 bytes instead of 32 (see row-codec). Only ever appended to,
 * as a stored row's number must keep meaning the same digest.
 */
const KNOWN_VALUES: readonly string[] = [
  ...LETTERS,
  ...LETTERS.flatMap((first) => LETTERS.map((second) => first + second)),
  ...Array.from({ length: 31 }, (_, i) => String(i + 1).padStart(2, '0')),
  ...Array.from({ length: 200 }, (_, i) => String(1900 + i)),
];

export const KNOWN_DIGEST_COUNT = KNOWN_VALUES.length;

/**
 * The SHA-256 of every known value, one after the other in the order of their numbers. The lookup below reads them
 * by this module's own name: compiled to CommonJS, a use of the exported one is a property load from the module's
 * exports for every byte compared.
 */
const digests = Buffer.concat(KNOWN_VALUES.map((value) => hash('sha256', value, 'buffer')));
export const KNOWN_DIGESTS: Buffer = digests;

/**
 * The top 30 bits of a digest's first four bytes: a small integer on any V8 build, those with 31-bit ones included.
 * Compacting a row of seven known and six other digests took 600–670 ns with the Map this table replaced (keyed by
 * all four bytes) and 455–480 ns with this table, the local name above and compaction's cellEndAt (a lab on
 * 2026-12-07, the best of twelve rounds over 200,000 rows, six runs each).
 */
const prefixAt = (bytes: Uint8Array, offset: number): number =>
  (bytes[offset] << 22) | (bytes[offset + 1] << 14) | (bytes[offset + 2] << 6) | (bytes[offset + 3] >> 2);

/** Open addressing, linear probing, a quarter full at most: a lookup of an unknown digest mostly ends at its first slot. */
const SLOTS = 2 ** Math.ceil(Math.log2(4 * KNOWN_DIGEST_COUNT));
const SLOT_PREFIX = new Int32Array(SLOTS);
const SLOT_NUMBER = new Int32Array(SLOTS).fill(-1);
for (let number = 0; number < KNOWN_DIGEST_COUNT; number++) {
  const prefix = prefixAt(digests, number * SHA256_BYTES);
  let slot = prefix & (SLOTS - 1);
  while (SLOT_NUMBER[slot] >= 0) slot = (slot + 1) & (SLOTS - 1);
  SLOT_PREFIX[slot] = prefix;
  SLOT_NUMBER[slot] = number;
}

/** The number of the known value whose digest is the 32 bytes at `offset`, or -1 if they are no known digest. */
export function knownDigestNumber(bytes: Uint8Array, offset: number): number {
  const prefix = prefixAt(bytes, offset);
  for (let slot = prefix & (SLOTS - 1); SLOT_NUMBER[slot] >= 0; slot = (slot + 1) & (SLOTS - 1)) {
    if (SLOT_PREFIX[slot] === prefix && sameDigest(bytes, offset, SLOT_NUMBER[slot])) return SLOT_NUMBER[slot];
  }
  return -1;
}

/**
 * From the fourth byte, whose last two bits the prefix leaves out; byte by byte, as a native comparison costs more in
 * its call than in comparing.
 */
function sameDigest(bytes: Uint8Array, offset: number, number: number): boolean {
  for (let i = 3, known = number * SHA256_BYTES + 3; i < SHA256_BYTES; i++, known++) {
    if (bytes[offset + i] !== digests[known]) return false;
  }
  return true;
}
