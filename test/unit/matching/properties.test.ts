import fc from 'fast-check';
import { AUDIENCE_SCHEMA, type MatchKey, UNHASHED_KEYS } from '../../../src/matching/keys';
import { buildMemberRows } from '../../../src/matching/member-rows';
import { DROP_REASONS } from '../../../src/matching/normalized';
import { encodeValue, type NormalizeContext, normalizeValue } from '../../../src/matching/normalize';

const SHA256_HEX = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What a normalized value of each key may look like (a hashed key may also hold a hash given as it is). */
const NORMALIZED_ALPHABET: Readonly<Record<MatchKey, (value: string) => boolean>> = {
  EXTERN_ID: (value) => value !== '' && value === value.trim(),
  EMAIL: (value) => value.includes('@') && value === value.toLowerCase() && !/\s/.test(value),
  PHONE: (value) => /^[1-9]\d{3,16}$/.test(value),
  GEN: (value) => /^[mf]$/.test(value),
  DOBY: (value) => /^(19\d\d|20\d\d)$/.test(value) && Number(value) <= new Date().getFullYear(),
  DOBM: (value) => /^(0[1-9]|1[0-2])$/.test(value),
  DOBD: (value) => /^(0[1-9]|[12]\d|3[01])$/.test(value),
  LN: (value) => /^[\p{L}\p{M}]+$/u.test(value) && value === value.normalize('NFC'),
  FN: (value) => /^[\p{L}\p{M}]+$/u.test(value) && value === value.normalize('NFC'),
  FI: (value) => [...value].length === 1 && /^\p{L}$/u.test(value),
  CT: (value) => /^[a-z]+$/.test(value),
  ST: (value) => /^[a-z0-9]+$/.test(value),
  ZIP: (value) => /^[a-z0-9-]*[a-z0-9][a-z0-9-]*$/.test(value),
  MADID: (value) => UUID.test(value),
  COUNTRY: (value) => /^[a-z]{2}$/.test(value),
};

function fitsAlphabet(key: MatchKey, value: string): boolean {
  return NORMALIZED_ALPHABET[key](value) || (!UNHASHED_KEYS.has(key) && SHA256_HEX.test(value));
}

const matchKey = fc.constantFrom(...AUDIENCE_SCHEMA);
const context: fc.Arbitrary<NormalizeContext> = fc.record(
  {
    country: fc.oneof(fc.constantFrom('us', 'US', 'gb', 'fr', 'de', 'br', 'United States', 'Atlantis'), fc.string()),
    defaultCountry: fc.constantFrom('us', 'gb', 'fr', 'jp'),
  },
  { requiredKeys: [] },
);

/** Plausible trait values, so that the accepted paths run, mixed with arbitrary text of any script. */
const traitValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  fc.emailAddress(),
  fc.uuid().map((id) => id.toUpperCase()),
  fc.integer(),
  fc.date({ noInvalidDate: false }),
  fc.stringMatching(/^\+?(00)?[1-9][0-9 ().-]{6,16}$/),
  fc.constantFrom(
    'Mary',
    "O'Brien-Smith",
    'José',
    'Zoe\u0308',
    '山田',
    'São Paulo',
    'New York',
    'NY',
    'Île-de-France',
    '12345-6789',
    'SW1A 1AA',
    'United States',
    'UK',
    'female',
    'M',
    '1987-03-09',
    '03/09/1987',
    'March',
    '9',
    '+1 (202) 309-5976',
    '(202) 309-5976',
    '+0000000000',
    'F1904CF1A9D73A55FA5DE0AC823C4403DED71AFD4C3248D00BDCD0866552BB79',
  ),
);

describe('normalizeValue properties', () => {
  it('never throws, and returns a usable value or a documented reason, for anything', () => {
    fc.assert(
      fc.property(matchKey, fc.oneof(traitValue, fc.anything()), context, (key, raw, given) => {
        const result = normalizeValue(key, raw, given);
        if (result.ok) expect(fitsAlphabet(key, result.value)).toBe(true);
        else expect(DROP_REASONS).toContain(result.reason);
      }),
      { numRuns: 10_000 },
    );
  });

  it('changes nothing when normalizing a normalized value again', () => {
    fc.assert(
      fc.property(matchKey, traitValue, context, (key, raw, given) => {
        // A foreign number normalized to its international digits is no national number of the member's country.
        const sameContext = key === 'PHONE' ? {} : given;
        const once = normalizeValue(key, raw, sameContext);
        fc.pre(once.ok);
        if (once.ok) expect(normalizeValue(key, once.value, sameContext)).toEqual(once);
      }),
      { numRuns: 10_000 },
    );
  });

  it('encodes hashed keys as lowercase hex SHA-256 and leaves EXTERN_ID and MADID in clear', () => {
    fc.assert(
      fc.property(matchKey, traitValue, context, (key, raw, given) => {
        const result = normalizeValue(key, raw, given);
        fc.pre(result.ok);
        if (!result.ok) return;
        const encoded = encodeValue(key, result.value);
        if (UNHASHED_KEYS.has(key)) expect(encoded).toBe(result.value);
        else expect(encoded).toMatch(SHA256_HEX);
      }),
      { numRuns: 5_000 },
    );
  });
});

const traitName = fc.constantFrom(
  'email',
  'emails',
  'Email',
  'phone',
  'phone_number',
  'phoneNumber',
  'first_name',
  'firstName',
  'last_name',
  'gender',
  'birthday',
  'birth_year',
  'birth_month',
  'city',
  'state',
  'zip',
  'country_code',
  'country',
  'idfa',
  'external_id',
  'address',
  'user_id',
  'value',
  'something_else',
);

const sourceRow: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    columns: fc.dictionary(traitName, fc.oneof(traitValue, fc.array(traitValue, { maxLength: 3 }), fc.anything())),
    traits: fc.oneof(
      fc.dictionary(traitName, fc.oneof(traitValue, fc.array(traitValue, { maxLength: 3 }))),
      fc.json(),
      fc.anything(),
    ),
  },
  { requiredKeys: ['columns'] },
).map(({ columns, traits }) => (traits === undefined ? columns : { ...columns, traits }));

describe('buildMemberRows properties', () => {
  it('never throws and always yields well-formed, distinct, non-empty rows', () => {
    fc.assert(
      fc.property(sourceRow, fc.constantFrom(undefined, 'us', 'GB'), (record, defaultCountry) => {
        const { rows, dropped, keysWithValue } = buildMemberRows(record, { defaultCountry });
        for (const row of rows) {
          expect(row).toHaveLength(AUDIENCE_SCHEMA.length);
          expect(row.some((cell) => cell !== '')).toBe(true);
          row.forEach((cell, slot) => {
            const key = AUDIENCE_SCHEMA[slot];
            if (cell === '') return;
            if (key === 'MADID') expect(cell).toMatch(UUID);
            else if (key !== 'EXTERN_ID') expect(cell).toMatch(SHA256_HEX);
          });
        }
        expect(new Set(rows.map((row) => JSON.stringify(row))).size).toBe(rows.length);
        const keysInRows = AUDIENCE_SCHEMA.filter((_, slot) => rows.some((row) => row[slot] !== ''));
        expect(keysWithValue).toEqual(keysInRows);
        for (const { key, reason } of dropped) {
          expect(AUDIENCE_SCHEMA).toContain(key);
          expect(DROP_REASONS).toContain(reason);
        }
      }),
      { numRuns: 3_000 },
    );
  });
});
