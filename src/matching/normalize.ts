import { AUDIENCE_SCHEMA, type MatchKey, UNHASHED_KEYS } from './keys';
import { accepted, type Normalized, REJECTED } from './normalized';
import { countryCode, normalizeCountry } from './normalizers/country';
import { normalizeCity } from './normalizers/city';
import { calendarDateText, normalizeBirthDay, normalizeBirthMonth, normalizeBirthYear } from './normalizers/date-of-birth';
import { normalizeEmail } from './normalizers/email';
import { normalizeGender } from './normalizers/gender';
import { normalizeMadid } from './normalizers/madid';
import { normalizeFirstInitial, normalizePersonName } from './normalizers/person-name';
import { normalizePhone } from './normalizers/phone';
import { normalizeState } from './normalizers/state';
import { normalizeZip } from './normalizers/zip';
import { isSha256Hex, sha256Bytes, sha256Hex } from './sha256';

export type { Normalized } from './normalized';

/** The country a value belongs to: the member's own, else the audience's default (alpha-2 or a country name). */
export interface NormalizeContext {
  country?: string;
  defaultCountry?: string;
}

/**
 * Normalizes one raw trait value for `key` by Meta's rules (see the normalizers). Strings are trimmed; numbers and
 * bigints are read as their decimal text; a Date is read as the calendar date it stands for. Null and blank values
 * are `empty`; arrays, objects and booleans are `invalid_value` (several values are the caller's business).
 * For hashed keys, 64 hex digits are taken as a hash made earlier and only lowercased.
 */
export function normalizeValue(key: MatchKey, raw: unknown, context?: NormalizeContext): Normalized {
  const text = traitText(raw);
  if (text === undefined) return raw === null || raw === undefined ? REJECTED.empty : REJECTED.invalid_value;
  if (text === '') return REJECTED.empty;
  return normalizeTraitText(key, text, contextCountry(context));
}

/** The hot-path form of normalizeValue: `text` is already trimmed and non-empty, `country` resolved. */
export function normalizeTraitText(key: MatchKey, text: string, country: string | undefined): Normalized {
  if (!UNHASHED_KEYS.has(key) && isSha256Hex(text)) return accepted(text.toLowerCase());
  // A switch of direct calls rather than a table of functions: this runs for every value of every member.
  switch (key) {
    case 'EXTERN_ID':
      return accepted(text);
    case 'EMAIL':
      return normalizeEmail(text);
    case 'PHONE':
      return normalizePhone(text, country);
    case 'GEN':
      return normalizeGender(text);
    case 'DOBY':
      return normalizeBirthYear(text);
    case 'DOBM':
      return normalizeBirthMonth(text);
    case 'DOBD':
      return normalizeBirthDay(text);
    case 'LN':
    case 'FN':
      return normalizePersonName(text);
    case 'FI':
      return normalizeFirstInitial(text);
    case 'CT':
      return normalizeCity(text);
    case 'ST':
      return normalizeState(text, country);
    case 'ZIP':
      return normalizeZip(text, country);
    case 'MADID':
      return normalizeMadid(text);
    case 'COUNTRY':
      return normalizeCountry(text);
  }
}

/** Trimmed text of a scalar trait value; undefined for anything that is not one. */
export function traitText(raw: unknown): string | undefined {
  switch (typeof raw) {
    case 'string':
      return raw.trim();
    case 'number':
      return Number.isFinite(raw) ? String(raw) : undefined;
    case 'bigint':
      return String(raw);
    case 'object':
      return raw instanceof Date ? calendarDateText(raw) : undefined;
    default:
      return undefined;
  }
}

function contextCountry(context: NormalizeContext | undefined): string | undefined {
  if (context === undefined) return undefined;
  const country = context.country === undefined ? undefined : countryCode(context.country);
  return country ?? (context.defaultCountry === undefined ? undefined : countryCode(context.defaultCountry));
}

/**
 * Hashes memoized per key, with the most distinct values each memo keeps. GEN, DOBY/M/D, FI, ST and COUNTRY come
 * from small fixed sets (hashing "m" a million times is waste). First names and cities repeat across an audience
 * as well: a few thousand of them cover most members. E-mails and phones are unique to a member, and last names
 * and ZIPs are too many and too evenly spread to be worth their lookups. A full memo is emptied, which keeps the
 * frequent values cheaply without tracking recency; all memos together hold a few megabytes at most.
 */
const MEMO_LIMITS: ReadonlyArray<[MatchKey, number]> = [
  ['GEN', 64],
  ['DOBY', 512],
  ['DOBM', 64],
  ['DOBD', 64],
  ['FI', 4096],
  ['ST', 4096],
  ['COUNTRY', 1024],
  ['FN', 16_384],
  ['CT', 16_384],
];
/** Per schema slot: whether the key is hashed. An array, not a map: this runs per value. */
const IS_HASHED_BY_SLOT: readonly boolean[] = AUDIENCE_SCHEMA.map((key) => !UNHASHED_KEYS.has(key));
const SLOT_BY_KEY: ReadonlyMap<MatchKey, number> = new Map(AUDIENCE_SCHEMA.map((key, slot) => [key, slot]));

/**
 * How a hashed value is written: `hex`, as Meta receives it, or `bytes`, the digest's bytes in a one-byte string
 * (see sha256Bytes), which only the staging encoder asks for.
 */
export type DigestForm = 'hex' | 'bytes';

interface DigestWriter {
  hash: (text: string) => string;
  /** A value given already hashed, in lowercase hex. */
  fromHex: (hex: string) => string;
  /** Per schema slot, its memo if it has one. */
  memos: ReadonlyArray<{ limit: number; hashes: Map<string, string> } | undefined>;
}

function digestWriter(hash: (text: string) => string, fromHex: (hex: string) => string): DigestWriter {
  const memos = AUDIENCE_SCHEMA.map((key) => {
    const limit = MEMO_LIMITS.find(([memoKey]) => memoKey === key)?.[1];
    return limit === undefined ? undefined : { limit, hashes: new Map<string, string>() };
  });
  return { hash, fromHex, memos };
}

const DIGEST_WRITERS: Readonly<Record<DigestForm, DigestWriter>> = {
  hex: digestWriter(sha256Hex, (hex) => hex),
  bytes: digestWriter(sha256Bytes, (hex) => Buffer.from(hex, 'hex').toString('latin1')),
};

/**
 * The value as uploaded: EXTERN_ID and MADID as they are, a value that already is a SHA-256 hash as it is
 * (lowercase), everything else as the lowercase hex SHA-256 of its UTF-8 bytes. The empty string stays empty: a
 * missing value is sent as "" and never as the hash of "".
 */
export function encodeValue(key: MatchKey, normalized: string): string {
  return encodeSlotValue(SLOT_BY_KEY.get(key) as number, normalized);
}

/** encodeValue for the key at schema index `slot`, with hashes in the given form. */
export function encodeSlotValue(slot: number, normalized: string, form: DigestForm = 'hex'): string {
  if (normalized === '' || !IS_HASHED_BY_SLOT[slot]) return normalized;
  const digests = DIGEST_WRITERS[form];
  if (isSha256Hex(normalized)) return digests.fromHex(normalized.toLowerCase());
  const memo = digests.memos[slot];
  if (memo === undefined) return digests.hash(normalized);
  let hash = memo.hashes.get(normalized);
  if (hash === undefined) {
    if (memo.hashes.size >= memo.limit) memo.hashes.clear();
    hash = digests.hash(normalized);
    memo.hashes.set(normalized, hash);
  }
  return hash;
}
