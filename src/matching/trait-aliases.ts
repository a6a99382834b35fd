import { AUDIENCE_SCHEMA, type MatchKey } from './keys';

/**
 * Where a source column or trait goes: a match key; `DATE_OF_BIRTH`, a full date (filling DOBY, DOBM and DOBD) or
 * a bare day number (DOBD); or `ADDRESS`, an object whose fields are read as `address_<field>` (Segment's address
 * trait: city, state, postal_code, country); or `LIMITED_DATA_USE`, a member's request for Limited Data Use.
 */
export type TraitTarget = MatchKey | 'DATE_OF_BIRTH' | 'ADDRESS' | 'LIMITED_DATA_USE';

/**
 * Accepted trait names, written folded (see foldTraitName): Segment's trait table, their camelCase and snake_case
 * spellings, Meta's own key names, and the fields of an address object. `user_id` (the member id) and `value` (the
 * value of a value-based audience) are deliberately absent.
 */
const TRAIT_NAMES: ReadonlyArray<readonly [TraitTarget, readonly string[]]> = [
  ['EXTERN_ID', ['externalid', 'externid']],
  ['EMAIL', ['email', 'emails', 'emailaddress']],
  ['PHONE', ['phone', 'phones', 'phonenumber', 'phonenumbers']],
  ['GEN', ['gender', 'gen']],
  ['DOBY', ['birthyear']],
  ['DOBM', ['birthmonth']],
  ['DATE_OF_BIRTH', ['birthday', 'dateofbirth', 'dob', 'birthdate']],
  ['LN', ['lastname', 'last']],
  ['FN', ['firstname', 'first']],
  ['FI', ['firstinitial']],
  ['CT', ['city', 'addresscity']],
  ['ST', ['state', 'addressstate']],
  ['ZIP', ['zip', 'zipcode', 'postalcode', 'addresszip', 'addresszipcode', 'addresspostalcode']],
  ['COUNTRY', ['countrycode', 'country', 'addresscountry', 'addresscountrycode']],
  ['MADID', ['madid', 'mobileid', 'idfa', 'gaid', 'advertisingid', 'mobileadvertiserid']],
  ['ADDRESS', ['address']],
  ['LIMITED_DATA_USE', ['limiteddatause', 'ldu']],
];

const TARGET_BY_FOLDED_NAME: ReadonlyMap<string, TraitTarget> = new Map<string, TraitTarget>([
  ...AUDIENCE_SCHEMA.map((key): [string, TraitTarget] => [foldTraitName(key), key]),
  ...TRAIT_NAMES.flatMap(([target, names]) => names.map((name): [string, TraitTarget] => [name, target])),
]);

/** Column names repeat on every row: remember each name's target (null: not a trait) up to a bound. */
const MAX_REMEMBERED_NAMES = 10_000;
const targetByName = new Map<string, TraitTarget | null>();

export function traitTarget(name: string): TraitTarget | undefined {
  let target = targetByName.get(name);
  if (target === undefined) {
    target = TARGET_BY_FOLDED_NAME.get(foldTraitName(name)) ?? null;
    if (targetByName.size < MAX_REMEMBERED_NAMES) targetByName.set(name, target);
  }
  return target ?? undefined;
}

/** The match key a name stands for: a Meta key name in any case, or a trait alias of exactly one key. */
export function matchKeyForName(name: string): MatchKey | undefined {
  const target = traitTarget(name);
  return target === 'DATE_OF_BIRTH' || target === 'ADDRESS' || target === 'LIMITED_DATA_USE' ? undefined : target;
}

/** Lowercase without `_`, `-`, `.` and whitespace, so first_name, firstName, First-Name and FIRSTNAME are one name. */
function foldTraitName(name: string): string {
  return name.toLowerCase().replace(/[_\-.\s]/g, '');
}
