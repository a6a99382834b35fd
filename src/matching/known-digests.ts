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

/** The SHA-256 of every known value, one after the other in the order of their numbers. */
export const KNOWN_DIGESTS: Buffer = Buffer.concat(KNOWN_VALUES.map((value) => hash('sha256', value, 'buffer')));

/** A digest's first four bytes, as a small integer: a lookup key that takes no allocation. */
const prefixAt = (bytes: Uint8Array, offset: number): number =>
  (bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3];

const NUMBER_BY_PREFIX = new Map<number, number>();
for (let number = 0; number < KNOWN_DIGEST_COUNT; number++) {
  const prefix = prefixAt(KNOWN_DIGESTS, number * SHA256_BYTES);
  // Never for these values: a second digest with the same prefix would make the lookup miss one of them.
  if (NUMBER_BY_PREFIX.has(prefix)) throw new Error('two known digests share their first four bytes');
  NUMBER_BY_PREFIX.set(prefix, number);
}

/** The number of the known value whose digest is the 32 bytes at `offset`, or -1 if they are no known digest. */
export function knownDigestNumber(bytes: Uint8Array, offset: number): number {
  const number = NUMBER_BY_PREFIX.get(prefixAt(bytes, offset));
  if (number === undefined) return -1;
  // Byte by byte: a native comparison costs more in its call than in comparing.
  for (let i = 4, known = number * SHA256_BYTES + 4; i < SHA256_BYTES; i++, known++) {
    if (bytes[offset + i] !== KNOWN_DIGESTS[known]) return -1;
  }
  return number;
}
