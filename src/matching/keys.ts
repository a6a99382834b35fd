/**
 * Meta's multi-key match keys, in the order Meta's Custom Audience users reference lists them.
 * Every audience uploads with these (and the LDU columns, if it applies LDU) so that later adds and removes never
 * differ from the first upload (Meta answers 2650 / "does not match schema" when they do).
 */
export const AUDIENCE_SCHEMA = [
  'EXTERN_ID',
  'EMAIL',
  'PHONE',
  'GEN',
  'DOBY',
  'DOBM',
  'DOBD',
  'LN',
  'FN',
  'FI',
  'CT',
  'ST',
  'ZIP',
  'MADID',
  'COUNTRY',
] as const;

export type MatchKey = (typeof AUDIENCE_SCHEMA)[number];

/** Keys Meta wants in clear text; every other key is sent as lowercase SHA-256 hex. */
export const UNHASHED_KEYS: ReadonlySet<MatchKey> = new Set<MatchKey>(['EXTERN_ID', 'MADID']);

export function isMatchKey(value: string): value is MatchKey {
  return (AUDIENCE_SCHEMA as readonly string[]).includes(value);
}

/**
 * Limited Data Use columns (reference §7), after the match keys in the schema of an audience that applies LDU:
 * `["LDU"]` or `[]`, then the country (1 USA, 0 Meta locates) and state (1000 California, 0 Meta locates) codes.
 * They are JSON values, not text, and never hashed.
 */
export const LDU_COLUMNS = ['DATA_PROCESSING_OPTIONS', 'DATA_PROCESSING_OPTIONS_COUNTRY', 'DATA_PROCESSING_OPTIONS_STATE'] as const;

/** `connect --limited-data-use`: members flagged by their `limited_data_use` trait, or every member. */
export const LIMITED_DATA_USE_MODES = ['trait', 'all'] as const;
export type LimitedDataUseMode = (typeof LIMITED_DATA_USE_MODES)[number];

/** A value-based audience's column of each member's value (reference §6): a JSON number, never hashed. */
export const VALUE_COLUMN = 'LOOKALIKE_VALUE';

/**
 * The upload schema of an audience: the match keys, then LOOKALIKE_VALUE when it is value-based, then the LDU
 * columns when it applies LDU.
 */
export function uploadSchema(limitedDataUse: LimitedDataUseMode | undefined, valueBased = false): readonly string[] {
  if (!limitedDataUse && !valueBased) return AUDIENCE_SCHEMA;
  return [...AUDIENCE_SCHEMA, ...(valueBased ? [VALUE_COLUMN] : []), ...(limitedDataUse ? LDU_COLUMNS : [])];
}

/**
 * Members are counted by the keys they have a value for, a bit per schema position in `keys_mask`; the bit after
 * the match keys counts the members whose rows carry `["LDU"]`, shown in coverage under this name.
 */
export const LIMITED_DATA_USE_BIT = 1 << AUDIENCE_SCHEMA.length;
export const LIMITED_DATA_USE_COVERAGE = 'LDU';
/** The next bit counts the members of a value-based audience with a usable value, as LOOKALIKE_VALUE. */
export const VALUE_BIT = LIMITED_DATA_USE_BIT << 1;

/**
 * What coverage counts, in the order of the bits of `keys_mask`: the match keys, then the members with LDU and the
 * members with a value.
 */
export const COVERAGE_KEYS: readonly string[] = [...AUDIENCE_SCHEMA, LIMITED_DATA_USE_COVERAGE, VALUE_COLUMN];

/** Counts a member's keys_mask into counts by bit, in the order of COVERAGE_KEYS. */
export function countCoverageBits(keysMask: number, countsByBit: number[]): void {
  for (let bit = 0; bit < COVERAGE_KEYS.length; bit++) if ((keysMask & (1 << bit)) !== 0) countsByBit[bit]++;
}

/** Member counts by coverage key from counts by bit, leaving out the keys no member has. */
export function coverageByKey(countOfBit: (bit: number) => number): Record<string, number> {
  const coverage: Record<string, number> = {};
  COVERAGE_KEYS.forEach((key, bit) => {
    const count = countOfBit(bit);
    if (count > 0) coverage[key] = count;
  });
  return coverage;
}
