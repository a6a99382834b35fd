/**
 * Meta's multi-key match keys, in the order Meta's Custom Audience users reference lists them.
 * Every audience uploads with this one schema so that later adds and removes never differ from the first
 * upload (Meta answers 2650 / "does not match schema" when they do).
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
