import { AUDIENCE_SCHEMA, type LimitedDataUseMode, type MatchKey } from './keys';
import { type DigestForm, encodeSlotValue, normalizeTraitText, traitText } from './normalize';
import { type Normalized, REJECTED } from './normalized';
import { countryCode } from './normalizers/country';
import { normalizeLookalikeValue } from './normalizers/lookalike-value';
import { parseCalendarDate } from './normalizers/date-of-birth';
import { firstInitialOf } from './normalizers/person-name';
import { isSha256Hex } from './sha256';
import { type TraitTarget, traitTarget } from './trait-aliases';

export interface MemberRowsOptions {
  /** ISO 3166-1 alpha-2 (any case; a country name works too): the country of members who have none. */
  defaultCountry?: string;
  /** How the rows carry hashed values (see DigestForm); lowercase hex, as Meta receives them, unless asked. */
  digests?: DigestForm;
  /** Rows end with the LDU columns (keys.ts), for members flagged by their trait or for all of them. */
  limitedDataUse?: LimitedDataUseMode;
  /**
   * A value-based audience's column (or `traits` key) holding each member's value: rows then carry it as
   * LOOKALIKE_VALUE after the match keys, and a member without a usable one has no rows.
   */
  valueColumn?: string;
}

export interface DroppedValue {
  key: MatchKey | 'DATA_PROCESSING_OPTIONS' | 'LOOKALIKE_VALUE';
  reason: string;
}

export interface MemberRows {
  /**
   * Each row has AUDIENCE_SCHEMA.length values in schema order, '' for missing, hashed where Meta requires (in
   * the form the options ask for); then, as JSON texts, LOOKALIKE_VALUE with `valueColumn` and the LDU columns
   * with `limitedDataUse` (keys.ts uploadSchema).
   */
  rows: string[][];
  /** Whether the member's rows carry `["LDU"]`. */
  limitedDataUse: boolean;
  /** One entry per dropped value. */
  dropped: DroppedValue[];
  /** Keys for which this member had at least one usable value, in schema order. */
  keysWithValue: MatchKey[];
}

const KEY_COUNT = AUDIENCE_SCHEMA.length;
/** A slot is a schema index; raw values also use this one for a date of birth, split into DOBY, DOBM and DOBD. */
const DATE_OF_BIRTH_SLOT = KEY_COUNT;
const LIMITED_DATA_USE_SLOT = KEY_COUNT + 1;
const SLOT_BY_TARGET: ReadonlyMap<TraitTarget, number> = new Map<TraitTarget, number>([
  ...AUDIENCE_SCHEMA.map((key, index): [TraitTarget, number] => [key, index]),
  ['DATE_OF_BIRTH', DATE_OF_BIRTH_SLOT],
  ['LIMITED_DATA_USE', LIMITED_DATA_USE_SLOT],
]);
const slotOf = (key: MatchKey): number => SLOT_BY_TARGET.get(key) as number;
const COUNTRY_SLOT = slotOf('COUNTRY');
const FN_SLOT = slotOf('FN');
const FI_SLOT = slotOf('FI');
const DOBY_SLOT = slotOf('DOBY');
const DOBM_SLOT = slotOf('DOBM');
const DOBD_SLOT = slotOf('DOBD');
const ST_SLOT = slotOf('ST');
const ADDRESS_FIELD_PREFIX = 'address_';

/**
 * Raw trait values of one member as a flat list of (slot, value) pairs: one array per member instead of one per
 * key, which matters at a million members.
 */
type RawEntries = unknown[];

/** Reused by every call (buildMemberRows is synchronous): growing a fresh array per member is measurable. */
const scratchEntries: RawEntries = [];

/** The usable values of one key: most members have one, so a single value is kept without an array. */
type SlotValues = string | string[] | undefined;

/**
 * Turns one source row into the rows uploaded for that member.
 *
 * Traits are read from the row's columns and from its `traits` column (an object, or JSON text of one) under any
 * accepted alias (see trait-aliases). NULLs and blank strings are absent values, not dropped ones: the drop counts
 * show bad data, coverage (keysWithValue) shows missing data.
 *
 * Several values (an array trait, or two alias columns such as `email` and `emails`) are normalized, hashed and
 * de-duplicated per key. The member then gets n rows, n being the largest number of distinct values of any key;
 * row i takes the i-th value of each key, a key with fewer values cycling through them (value i mod count), a key
 * with one value repeating it. So no value is lost, every row carries as much of the member as possible, and
 * the row count never exceeds the largest value list (a cross product would explode). The key with n values
 * differs from row to row, so the rows of a member are all distinct. A member with no usable value has no row.
 */
export function buildMemberRows(record: Record<string, unknown>, options: MemberRowsOptions = {}): MemberRows {
  const defaultCountry = defaultCountryCode(options.defaultCountry);
  const digests = options.digests ?? 'hex';
  const entries = scratchEntries;
  entries.length = 0;
  collectRecord(record, entries);

  const dropped: DroppedValue[] = [];
  const values: SlotValues[] = new Array(KEY_COUNT);
  // COUNTRY first: PHONE, ST and ZIP are read in the member's country.
  for (let i = 0; i < entries.length; i += 2) {
    if (entries[i] === COUNTRY_SLOT) addNormalized(values, COUNTRY_SLOT, entries[i + 1], undefined, dropped);
  }
  const country = countryCodeAmong(values[COUNTRY_SLOT]) ?? defaultCountry;
  let lduAsked = false;
  for (let i = 0; i < entries.length; i += 2) {
    const slot = entries[i] as number;
    if (slot === DATE_OF_BIRTH_SLOT) addDateOfBirth(values, entries[i + 1], dropped);
    else if (slot === LIMITED_DATA_USE_SLOT) lduAsked = asksForLimitedDataUse(entries[i + 1], dropped) || lduAsked;
    else if (slot !== COUNTRY_SLOT) addNormalized(values, slot, entries[i + 1], country, dropped);
  }
  if (values[FI_SLOT] === undefined) values[FI_SLOT] = initialsOf(values[FN_SLOT]);
  let value: string | undefined;
  if (options.valueColumn !== undefined) {
    const normalized = normalizeLookalikeValue(memberValue(record, options.valueColumn));
    if (!normalized.ok) {
      // A value-based audience takes no row without a value (reference §6): the member is left out.
      dropped.push({ key: 'LOOKALIKE_VALUE', reason: normalized.reason });
      return { rows: [], dropped, keysWithValue: [], limitedDataUse: false };
    }
    value = normalized.value;
  }
  const limitedDataUse = options.limitedDataUse === 'all' || (options.limitedDataUse === 'trait' && lduAsked);
  // Read before the state and country are hashed.
  const lduCells = options.limitedDataUse ? dataProcessingCells(limitedDataUse, values[ST_SLOT], values[COUNTRY_SLOT]) : undefined;

  const keysWithValue: MatchKey[] = [];
  let rowCount = 0;
  for (let slot = 0; slot < KEY_COUNT; slot++) {
    const slotValues = values[slot];
    if (slotValues === undefined) continue;
    const key = AUDIENCE_SCHEMA[slot];
    keysWithValue.push(key);
    if (typeof slotValues === 'string') {
      values[slot] = encodeSlotValue(slot, slotValues, digests);
      if (rowCount === 0) rowCount = 1;
    } else {
      // Distinct values can share an encoding: an address and its hash given beside it.
      const encoded = [...new Set(slotValues.map((value) => encodeSlotValue(slot, value, digests)))];
      values[slot] = encoded.length === 1 ? encoded[0] : encoded;
      if (encoded.length > rowCount) rowCount = encoded.length;
    }
  }

  const rows: string[][] = new Array(rowCount);
  for (let i = 0; i < rowCount; i++) {
    const row: string[] = new Array(KEY_COUNT);
    for (let slot = 0; slot < KEY_COUNT; slot++) {
      const slotValues = values[slot];
      row[slot] =
        slotValues === undefined ? '' : typeof slotValues === 'string' ? slotValues : slotValues[i % slotValues.length];
    }
    if (value !== undefined) row.push(value);
    if (lduCells) row.push(...lduCells);
    rows[i] = row;
  }
  return { rows, dropped, keysWithValue, limitedDataUse };
}

/** The value column as a column of the source row, or else as a key of its `traits`. */
function memberValue(record: Record<string, unknown>, column: string): unknown {
  return record[column] ?? traitsObject(record.traits)?.[column];
}

const LDU_FLAG_WORDS: ReadonlyMap<string, boolean> = new Map([
  ...['true', 't', 'yes', 'y', '1'].map((word): [string, boolean] => [word, true]),
  ...['false', 'f', 'no', 'n', '0', ''].map((word): [string, boolean] => [word, false]),
]);

/**
 * A member's `limited_data_use` trait: a boolean, 1/0, or a word for one. A value that says neither is taken as
 * a request for LDU (a person's privacy request is not dropped for its spelling) and counted as invalid.
 */
function asksForLimitedDataUse(raw: unknown, dropped: DroppedValue[]): boolean {
  if (typeof raw === 'boolean') return raw;
  const flag = LDU_FLAG_WORDS.get(String(raw).trim().toLowerCase());
  if (flag !== undefined) return flag;
  dropped.push({ key: 'DATA_PROCESSING_OPTIONS', reason: 'invalid_value' });
  return true;
}

const LDU = '["LDU"]';
const NO_LDU = '[]';
const LOCATED_BY_META = ['0', '0'] as const;
const CALIFORNIA = ['1', '1000'] as const;

/**
 * The LDU columns of a member's rows (reference §7): for customer lists Meta applies LDU to Californians only, so a
 * member whose state is California (in the USA, or with no country) is placed there; any other is left for Meta
 * to locate. A member with a state or country given only as a hash cannot be placed either.
 */
function dataProcessingCells(limitedDataUse: boolean, states: SlotValues, countries: SlotValues): string[] {
  if (!limitedDataUse) return [NO_LDU, ...LOCATED_BY_META];
  const inCalifornia =
    allEqual(states, 'ca') && (countries === undefined || allEqual(countries, 'us'));
  return [LDU, ...(inCalifornia ? CALIFORNIA : LOCATED_BY_META)];
}

function allEqual(slotValues: SlotValues, value: string): boolean {
  if (slotValues === undefined) return false;
  return typeof slotValues === 'string' ? slotValues === value : slotValues.every((each) => each === value);
}

let lastDefaultCountry: { option: string; code: string } | undefined;

function defaultCountryCode(option: string | undefined): string | undefined {
  if (option === undefined || option === '') return undefined;
  if (lastDefaultCountry?.option === option) return lastDefaultCountry.code;
  const code = countryCode(option);
  // A wrong audience setting must not pass silently as "no default": every national phone number would be lost.
  if (code === undefined) throw new Error(`defaultCountry "${option}" is not an ISO 3166-1 country`);
  lastDefaultCountry = { option, code };
  return code;
}

function collectRecord(record: Record<string, unknown>, entries: RawEntries): void {
  for (const name in record) {
    if (name === 'traits') collectObject(traitsObject(record[name]), '', entries);
    else collectTrait(name, record[name], entries);
  }
}

function collectObject(object: Record<string, unknown> | undefined, namePrefix: string, entries: RawEntries): void {
  if (object === undefined) return;
  for (const name in object) collectTrait(namePrefix + name, object[name], entries);
}

function collectTrait(name: string, value: unknown, entries: RawEntries): void {
  if (value === null || value === undefined) return;
  const target = traitTarget(name);
  if (target === undefined) return;
  if (target === 'ADDRESS') {
    collectObject(plainObject(value), ADDRESS_FIELD_PREFIX, entries);
    return;
  }
  const slot = SLOT_BY_TARGET.get(target) as number;
  if (!Array.isArray(value)) entries.push(slot, value);
  else for (const element of value) entries.push(slot, element);
}

/** The `traits` column: a jsonb object (parsed by the driver) or JSON text of one. Anything else holds no trait. */
function traitsObject(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'string') return plainObject(value);
  try {
    return plainObject(JSON.parse(value));
  } catch {
    return undefined;
  }
}

function plainObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** Normalizes one raw value of a key and keeps it unless rejected (recorded) or absent (NULL, blank). */
function addNormalized(
  values: SlotValues[],
  slot: number,
  raw: unknown,
  country: string | undefined,
  dropped: DroppedValue[],
): void {
  if (raw === null || raw === undefined) return;
  const text = traitText(raw);
  if (text === '') return;
  const key = AUDIENCE_SCHEMA[slot];
  keep(values, slot, key, text === undefined ? REJECTED.invalid_value : normalizeTraitText(key, text, country), dropped);
}

/** A full date of birth feeds DOBY, DOBM and DOBD their parts; anything else is read as a day (DOBD). */
function addDateOfBirth(values: SlotValues[], raw: unknown, dropped: DroppedValue[]): void {
  const text = traitText(raw);
  const date = text === undefined ? undefined : parseCalendarDate(text);
  if (date === undefined) {
    addNormalized(values, DOBD_SLOT, raw, undefined, dropped);
    return;
  }
  keep(values, DOBY_SLOT, 'DOBY', normalizeTraitText('DOBY', String(date.year), undefined), dropped);
  keep(values, DOBM_SLOT, 'DOBM', normalizeTraitText('DOBM', String(date.month), undefined), dropped);
  keep(values, DOBD_SLOT, 'DOBD', normalizeTraitText('DOBD', String(date.day), undefined), dropped);
}

function keep(values: SlotValues[], slot: number, key: MatchKey, result: Normalized, dropped: DroppedValue[]): void {
  if (result.ok) values[slot] = withValue(values[slot], result.value);
  else dropped.push({ key, reason: result.reason });
}

function withValue(slotValues: SlotValues, value: string): SlotValues {
  if (slotValues === undefined) return value;
  if (typeof slotValues === 'string') return slotValues === value ? slotValues : [slotValues, value];
  if (!slotValues.includes(value)) slotValues.push(value);
  return slotValues;
}

/** The member's own country: the first COUNTRY value that is a code (not a hash given as it is). */
function countryCodeAmong(countries: SlotValues): string | undefined {
  if (typeof countries === 'string') return countries.length === 2 ? countries : undefined;
  return countries?.find((country) => country.length === 2);
}

/** FI when no first initial was given: the first letter of each first name (a hashed first name has none). */
function initialsOf(firstNames: SlotValues): SlotValues {
  if (typeof firstNames === 'string') return isSha256Hex(firstNames) ? undefined : firstInitialOf(firstNames);
  let initials: SlotValues;
  for (const name of firstNames ?? []) {
    if (!isSha256Hex(name)) initials = withValue(initials, firstInitialOf(name));
  }
  return initials;
}
