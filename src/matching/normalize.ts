import { type MatchKey, UNHASHED_KEYS } from './keys';
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
import { isSha256Hex, sha256Hex } from './sha256';

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
 * Keys whose values come from a small fixed set (two genders, ~130 birth years, 12 months, 31 days, ~250 countries,
 * ~56 US states, an initial): their hashes are memoized, since hashing "m" a million times is waste. Names, cities
 * and ZIPs are not: with tens of thousands of distinct values a memo misses too often to pay for its lookups.
 */
const SMALL_DOMAIN_KEYS: ReadonlySet<MatchKey> = new Set<MatchKey>(['GEN', 'DOBY', 'DOBM', 'DOBD', 'FI', 'ST', 'COUNTRY']);
/** Outside the US, ST is free text and FI may be any letter of any script: the memo is bounded. */
const MAX_MEMOIZED_HASHES = 4096;
const memoizedHashes = new Map<string, string>();

/**
 * The value as uploaded: EXTERN_ID and MADID as they are, a value that already is a SHA-256 hash as it is
 * (lowercase), everything else as the lowercase hex SHA-256 of its UTF-8 bytes. The empty string stays empty: a
 * missing value is sent as "" and never as the hash of "".
 */
export function encodeValue(key: MatchKey, normalized: string): string {
  if (normalized === '' || UNHASHED_KEYS.has(key)) return normalized;
  if (isSha256Hex(normalized)) return normalized.toLowerCase();
  if (!SMALL_DOMAIN_KEYS.has(key)) return sha256Hex(normalized);
  let hash = memoizedHashes.get(normalized);
  if (hash === undefined) {
    if (memoizedHashes.size >= MAX_MEMOIZED_HASHES) memoizedHashes.clear();
    hash = sha256Hex(normalized);
    memoizedHashes.set(normalized, hash);
  }
  return hash;
}
