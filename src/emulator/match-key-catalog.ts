import { createHash } from 'node:crypto';

/**
 * The schema keys Meta documents for /users (reference §3.1, §5, §6, §7) and what a valid value of each looks
 * like. The emulator holds its own list, independent of src/matching, so that it checks what clients send
 * against Meta's contract rather than against our own assumptions.
 */

/** Why a value is invalid, or undefined when it is fine. */
type ValueCheck = (value: unknown) => string | undefined;

/** Lowercase hex digits by UTF-16 code unit: a table walk checks a digest in half the time of a regular expression. */
const LOWERCASE_HEX = new Uint8Array(0x10000);
for (const digit of '0123456789abcdef') LOWERCASE_HEX[digit.charCodeAt(0)] = 1;

function isSha256Hex(text: string): boolean {
  if (text.length !== 64) return false;
  for (let i = 0; i < 64; i += 1) if (LOWERCASE_HEX[text.charCodeAt(i)] === 0) return false;
  return true;
}
/** Lowercase hex SHA-256 of UTF-8 text: how Meta's hashed keys are written. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** IDFA / Android advertising ids: UUIDs, lowercase with hyphens, never hashed. */
const MOBILE_ADVERTISER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const LDU_STATES = new Set([0, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013]);

const hashed: ValueCheck = (value) => {
  if (typeof value !== 'string') return 'is not a string';
  return value === '' || isSha256Hex(value) ? undefined : 'is not a lowercase hex SHA-256 digest';
};
const externId: ValueCheck = (value) => (typeof value === 'string' ? undefined : 'is not a string');
const mobileAdvertiserId: ValueCheck = (value) => {
  if (typeof value !== 'string') return 'is not a string';
  return value === '' || MOBILE_ADVERTISER_ID.test(value) ? undefined : 'is not a lowercase advertising id (it must not be hashed)';
};
const lookalikeValue: ValueCheck = (value) =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? undefined : 'is not a non-negative number';
const dataProcessingOptions: ValueCheck = (value) =>
  Array.isArray(value) && value.every((option) => option === 'LDU') ? undefined : 'is not [] or ["LDU"]';
const lduCountry: ValueCheck = (value) => (value === 0 || value === 1 ? undefined : 'is not 0 or 1');
const lduState: ValueCheck = (value) =>
  typeof value === 'number' && LDU_STATES.has(value) ? undefined : 'is not 0 or a documented state code';

interface MatchKeySpec {
  check: ValueCheck;
  /** Whether a non-empty value identifies a person (as opposed to a value or an LDU flag riding along). */
  identifies: boolean;
}

const MULTI_KEYS: Readonly<Record<string, MatchKeySpec>> = {
  EXTERN_ID: { check: externId, identifies: true },
  EMAIL: { check: hashed, identifies: true },
  PHONE: { check: hashed, identifies: true },
  GEN: { check: hashed, identifies: true },
  DOBY: { check: hashed, identifies: true },
  DOBM: { check: hashed, identifies: true },
  DOBD: { check: hashed, identifies: true },
  LN: { check: hashed, identifies: true },
  FN: { check: hashed, identifies: true },
  FI: { check: hashed, identifies: true },
  CT: { check: hashed, identifies: true },
  ST: { check: hashed, identifies: true },
  ZIP: { check: hashed, identifies: true },
  MADID: { check: mobileAdvertiserId, identifies: true },
  COUNTRY: { check: hashed, identifies: true },
  LOOKALIKE_VALUE: { check: lookalikeValue, identifies: false },
  DATA_PROCESSING_OPTIONS: { check: dataProcessingOptions, identifies: false },
  DATA_PROCESSING_OPTIONS_COUNTRY: { check: lduCountry, identifies: false },
  DATA_PROCESSING_OPTIONS_STATE: { check: lduState, identifies: false },
};

/** Legacy single-key names, usable only on their own (not in a multi-key array). */
const SINGLE_KEYS: Readonly<Record<string, MatchKeySpec>> = {
  EMAIL_SHA256: { check: hashed, identifies: true },
  PHONE_SHA256: { check: hashed, identifies: true },
  MOBILE_ADVERTISER_ID: { check: mobileAdvertiserId, identifies: true },
};

export function isMultiKey(key: string): boolean {
  return Object.hasOwn(MULTI_KEYS, key);
}

export function isSingleKey(key: string): boolean {
  return Object.hasOwn(SINGLE_KEYS, key) || isMultiKey(key);
}

/** String.prototype.isWellFormed (Node 20; newer than the ES2022 typings): immediate for one-byte strings. */
const isWellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Why the row is invalid (naming the key, never the value), or undefined when it can be stored. */
export function findInvalidValue(schema: readonly string[], row: readonly unknown[]): string | undefined {
  let identifies = false;
  for (let column = 0; column < schema.length; column += 1) {
    const key = schema[column] as string;
    const spec = MULTI_KEYS[key] ?? SINGLE_KEYS[key];
    if (!spec) return `${key} is not a supported key`;
    const value = row[column];
    // Text with half of a UTF-16 surrogate pair has no UTF-8 form, so it cannot be stored (or hashed) as sent.
    if (typeof value === 'string' && !isWellFormed(value)) return `${key} is not valid Unicode text`;
    const problem = spec.check(value);
    if (problem) return `${key} ${problem}`;
    if (spec.identifies && value !== '') identifies = true;
  }
  return identifies ? undefined : 'the row holds no match key value';
}
