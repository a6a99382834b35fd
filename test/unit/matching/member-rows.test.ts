import { createHash } from 'node:crypto';
import { AUDIENCE_SCHEMA, type MatchKey, UNHASHED_KEYS } from '../../../src/matching/keys';
import { buildMemberRows, type MemberRows } from '../../../src/matching/member-rows';

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const slot = (key: MatchKey): number => AUDIENCE_SCHEMA.indexOf(key);

const isHashed = (index: number): boolean => !UNHASHED_KEYS.has(AUDIENCE_SCHEMA[index] as MatchKey);
const hexOf = (bytes: string): string => Buffer.from(bytes, 'latin1').toString('hex');

/** The cells of one key across a member's rows. */
const column = ({ rows }: MemberRows, key: MatchKey): string[] => rows.map((row) => row[slot(key)]);

/** A row as uploaded, from the cells given (hashed or clear as the key demands), '' elsewhere. */
function row(cells: Partial<Record<MatchKey, string>>): string[] {
  return AUDIENCE_SCHEMA.map((key) => cells[key] ?? '');
}

describe('buildMemberRows', () => {
  it('builds one row in schema order, hashed where Meta requires it', () => {
    const result = buildMemberRows({
      user_id: 'member-1',
      email: ' Mary@Example.com ',
      phone: '+1 (555) 987-6543',
      first_name: 'Mary',
      last_name: "O'Brien",
      gender: 'Female',
      birthday: '1987-03-09',
      city: 'New York',
      state: 'New York',
      zip: '10001-1234',
      country_code: 'US',
      idfa: 'AEBE52E7-03EE-455A-B3C4-E57283966239',
      external_id: 'crm-42',
    });
    expect(result.rows).toEqual([
      row({
        EXTERN_ID: 'crm-42',
        EMAIL: 'f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79',
        PHONE: '1ef970831d7963307784fa8688e8fce101a15685d62aa765fed23f3a2c576a4e',
        GEN: sha256('f'),
        DOBY: sha256('1987'),
        DOBM: sha256('03'),
        DOBD: sha256('09'),
        LN: sha256('obrien'),
        FN: sha256('mary'),
        FI: sha256('m'),
        CT: sha256('newyork'),
        ST: sha256('ny'),
        ZIP: sha256('10001'),
        MADID: 'aebe52e7-03ee-455a-b3c4-e57283966239',
        COUNTRY: sha256('us'),
      }),
    ]);
    expect(result.dropped).toEqual([]);
    expect(result.keysWithValue).toEqual(AUDIENCE_SCHEMA);
  });

  it('reads traits from a traits object, from JSON text of one and from columns alike', () => {
    const traits = { emails: ['mary@example.com'], firstName: 'Mary', address: { city: 'São Paulo', postal_code: '01310-100' } };
    const fromObject = buildMemberRows({ user_id: 1, traits });
    const fromText = buildMemberRows({ user_id: 1, traits: JSON.stringify(traits) });
    const fromColumns = buildMemberRows({
      user_id: 1,
      email: 'mary@example.com',
      first_name: 'Mary',
      address_city: 'São Paulo',
      zip_code: '01310-100',
    });
    const expected = [
      row({
        EMAIL: sha256('mary@example.com'),
        FN: sha256('mary'),
        FI: sha256('m'),
        CT: sha256('saopaulo'),
        ZIP: sha256('01310-100'),
      }),
    ];
    expect(fromObject.rows).toEqual(expected);
    expect(fromText.rows).toEqual(expected);
    expect(fromColumns.rows).toEqual(expected);
  });

  it.each<[string, string]>([
    ['first_name', 'FN'],
    ['firstname', 'FN'],
    ['firstName', 'FN'],
    ['first', 'FN'],
    ['last_name', 'LN'],
    ['lastName', 'LN'],
    ['last', 'LN'],
    ['FN', 'FN'],
    ['address_city', 'CT'],
    ['address_state', 'ST'],
  ])('takes %j as an alias of %s', (name, key) => {
    const result = buildMemberRows({ [name]: 'Sample' });
    expect(result.keysWithValue).toContain(key);
  });

  it.each<[string, unknown, string]>([
    ['phone_number', '+12023095976', 'PHONE'],
    ['phonenumber', '+12023095976', 'PHONE'],
    ['phoneNumber', '+12023095976', 'PHONE'],
    ['gen', 'm', 'GEN'],
    ['birth_year', '1987', 'DOBY'],
    ['birth_month', '3', 'DOBM'],
    ['birth_day', '9', 'DOBD'],
    ['DOB', '9', 'DOBD'],
    ['zip_code', '10001', 'ZIP'],
    ['zipCode', '10001', 'ZIP'],
    ['country_code', 'us', 'COUNTRY'],
    ['countryCode', 'us', 'COUNTRY'],
    ['country', 'us', 'COUNTRY'],
    ['gaid', '6d92078a-8246-4ba4-ae5b-76104861e7dc', 'MADID'],
    ['mobile_id', '6d92078a-8246-4ba4-ae5b-76104861e7dc', 'MADID'],
    ['madid', '6d92078a-8246-4ba4-ae5b-76104861e7dc', 'MADID'],
    ['externalId', 'crm-1', 'EXTERN_ID'],
    ['extern_id', 'crm-1', 'EXTERN_ID'],
    ['first_initial', 'M', 'FI'],
  ])('takes %j (%j) as %s', (name, value, key) => {
    expect(buildMemberRows({ [name]: value }).keysWithValue).toEqual([key]);
  });

  it('does not take user_id or value as traits', () => {
    expect(buildMemberRows({ user_id: 'mary@example.com', value: 12.5 })).toEqual({
      rows: [],
      dropped: [],
      keysWithValue: [],
      limitedDataUse: false,
    });
  });

  it('fills DOBY, DOBM and DOBD from a full date, and DOBD alone from a bare day', () => {
    for (const birthday of ['1987-03-09', '03/09/1987', new Date(1987, 2, 9)]) {
      expect(buildMemberRows({ dateOfBirth: birthday }).keysWithValue).toEqual(['DOBY', 'DOBM', 'DOBD']);
    }
    const bareDay = buildMemberRows({ birthday: 9 });
    expect(bareDay.keysWithValue).toEqual(['DOBD']);
    expect(column(bareDay, 'DOBD')).toEqual([sha256('09')]);
    expect(buildMemberRows({ birthday: 'someday' }).dropped).toEqual([{ key: 'DOBD', reason: 'invalid_date' }]);
  });

  it('makes one row per email, repeating the other keys', () => {
    const result = buildMemberRows({
      email: 'mary@example.com',
      emails: ['MARY@example.com', 'mary.work@example.org'],
      first_name: 'Mary',
      phone: '+12023095976',
    });
    expect(result.rows).toHaveLength(2);
    expect(column(result, 'EMAIL')).toEqual([sha256('mary@example.com'), sha256('mary.work@example.org')]);
    expect(column(result, 'FN')).toEqual([sha256('mary'), sha256('mary')]);
    expect(column(result, 'PHONE')).toEqual([sha256('12023095976'), sha256('12023095976')]);
  });

  it('loses no value and never multiplies keys: rows are as many as the longest value list', () => {
    const result = buildMemberRows({
      emails: ['a@example.com', 'b@example.com', 'c@example.com'],
      phones: ['+12023095976', '+12023095977'],
      idfa: ['6d92078a-8246-4ba4-ae5b-76104861e7dc'],
    });
    expect(result.rows).toHaveLength(3);
    expect(new Set(column(result, 'EMAIL'))).toEqual(
      new Set(['a@example.com', 'b@example.com', 'c@example.com'].map(sha256)),
    );
    expect(new Set(column(result, 'PHONE'))).toEqual(new Set(['12023095976', '12023095977'].map(sha256)));
    expect(column(result, 'MADID')).toEqual(Array(3).fill('6d92078a-8246-4ba4-ae5b-76104861e7dc'));
  });

  it('emits identical rows once, also when a value is given beside its own hash', () => {
    const result = buildMemberRows({
      email: ['mary@example.com', 'MARY@EXAMPLE.COM', sha256('mary@example.com').toUpperCase()],
      first_name: 'Mary',
    });
    expect(result.rows).toEqual([row({ EMAIL: sha256('mary@example.com'), FN: sha256('mary'), FI: sha256('m') })]);
  });

  it.each<[string, Record<string, unknown>]>([
    ['one value per key', { email: 'mary@example.com', first_name: 'Mary', city: 'Zürich', country: 'BR' }],
    ['several emails and phones', { emails: ['a@example.com', 'b@example.com'], phones: ['+12023095976'] }],
    ['a value given already hashed, in upper case', { email: sha256('mary@example.com').toUpperCase(), ln: 'Smith' }],
    ['unhashed keys stay text', { external_id: 'crm-42', idfa: '6d92078a-8246-4ba4-ae5b-76104861e7dc', zip: '10001' }],
  ])('gives the same rows with digests as bytes as with hex: %s', (_name, record) => {
    const hex = buildMemberRows(record);
    // Twice, so memoized digests are compared too.
    for (let i = 0; i < 2; i++) {
      const bytes = buildMemberRows(record, { digests: 'bytes' });
      const asHex = bytes.rows.map((cells) => cells.map((cell, i) => (isHashed(i) && cell !== '' ? hexOf(cell) : cell)));
      expect(asHex).toEqual(hex.rows);
      expect(bytes.keysWithValue).toEqual(hex.keysWithValue);
    }
  });

  it('gives a member without any usable value no row', () => {
    const result = buildMemberRows({ user_id: 7, email: 'not an email', phone: '+0000000000', city: '   ', zip: null });
    expect(result.rows).toEqual([]);
    expect(result.keysWithValue).toEqual([]);
    expect(result.dropped).toEqual([
      { key: 'EMAIL', reason: 'invalid_email' },
      { key: 'PHONE', reason: 'empty' },
    ]);
  });

  it('counts every dropped value with its key and reason and reports coverage', () => {
    const result = buildMemberRows({
      emails: ['mary@example.com', 'nope', 'still nope'],
      gender: 'unknown',
      country: 'Atlantis',
      idfa: '00000000-0000-0000-0000-000000000000',
      birth_year: '1850',
      first_name: 'Mary',
      traits: { state: 'Ontario', country_code: 'US' },
    });
    expect(result.dropped).toEqual(
      expect.arrayContaining([
        { key: 'EMAIL', reason: 'invalid_email' },
        { key: 'GEN', reason: 'unknown_gender' },
        { key: 'COUNTRY', reason: 'unknown_country' },
        { key: 'MADID', reason: 'invalid_madid' },
        { key: 'DOBY', reason: 'out_of_range' },
        { key: 'ST', reason: 'unknown_state' },
      ]),
    );
    expect(result.dropped.filter(({ key }) => key === 'EMAIL')).toHaveLength(2);
    expect(result.dropped).toHaveLength(7);
    expect(result.keysWithValue).toEqual(['EMAIL', 'FN', 'FI', 'COUNTRY']);
  });

  it('counts values of the wrong type as invalid_value and ignores NULLs and blank strings', () => {
    const result = buildMemberRows({ email: { address: 'x' }, phone: true, city: '', state: null, zip: undefined });
    expect(result.dropped).toEqual([
      { key: 'EMAIL', reason: 'invalid_value' },
      { key: 'PHONE', reason: 'invalid_value' },
    ]);
  });

  it("reads national phones, states and ZIPs in the member's country, else in the default country", () => {
    const french = buildMemberRows({ phone: '06 12 34 56 78', country: 'France' }, { defaultCountry: 'us' });
    expect(column(french, 'PHONE')).toEqual([sha256('33612345678')]);
    const american = buildMemberRows({ phone: '(202) 309-5976', zip: '2134' }, { defaultCountry: 'US' });
    expect(column(american, 'PHONE')).toEqual([sha256('12023095976')]);
    expect(column(american, 'ZIP')).toEqual([sha256('02134')]);
    expect(column(american, 'COUNTRY')).toEqual(['']);
  });

  it('derives FI from each first name unless a first initial is given', () => {
    expect(column(buildMemberRows({ first_name: 'Élodie' }), 'FI')).toEqual([sha256('é')]);
    expect(column(buildMemberRows({ first_name: 'Mary', first_initial: 'J' }), 'FI')).toEqual([sha256('j')]);
    expect(buildMemberRows({ first_name: sha256('mary') }).keysWithValue).toEqual(['FN']);
  });

  it('ignores a traits column that holds no object', () => {
    expect(buildMemberRows({ traits: '{not json' }).rows).toEqual([]);
    expect(buildMemberRows({ traits: [1, 2] }).rows).toEqual([]);
  });

  it('refuses a default country that is no country', () => {
    expect(() => buildMemberRows({ email: 'mary@example.com' }, { defaultCountry: 'Atlantis' })).toThrow(
      /defaultCountry "Atlantis"/,
    );
  });
});

describe('buildMemberRows with Limited Data Use', () => {
  const LDU_CELLS = (result: MemberRows) => result.rows.map((cells) => cells.slice(AUDIENCE_SCHEMA.length));

  it.each<[string, Record<string, unknown>, 'trait' | 'all', string[]]>([
    ['a Californian who asks', { state: 'California', country: 'US', limited_data_use: true }, 'trait', ['["LDU"]', '1', '1000']],
    ['a Californian without a country', { state: 'CA', ldu: 'yes' }, 'trait', ['["LDU"]', '1', '1000']],
    ['a member asking with camelCase and 1', { state: 'NY', limitedDataUse: 1 }, 'trait', ['["LDU"]', '0', '0']],
    ['a Californian abroad is left for Meta to locate', { state: 'CA', country: 'CA', limited_data_use: 't' }, 'trait', ['["LDU"]', '0', '0']],
    ['a member with no state', { limited_data_use: true }, 'trait', ['["LDU"]', '0', '0']],
    ['a member whose state is given as a hash', { state: sha256('ca'), limited_data_use: true }, 'trait', ['["LDU"]', '0', '0']],
    ['a member who does not ask', { state: 'CA', limited_data_use: false }, 'trait', ['[]', '0', '0']],
    ['a member with no flag', { state: 'CA' }, 'trait', ['[]', '0', '0']],
    ['every member with --limited-data-use all', { state: 'CA', limited_data_use: 'no' }, 'all', ['["LDU"]', '1', '1000']],
  ])('%s', (_case, traits, mode, cells) => {
    const result = buildMemberRows({ user_id: 'm', email: 'a@example.com', ...traits }, { limitedDataUse: mode });
    expect(LDU_CELLS(result)).toEqual([cells]);
    expect(result.limitedDataUse).toBe(cells[0] === '["LDU"]');
    expect(result.dropped).toEqual([]);
  });

  it('leaves a member with two states for Meta to locate, on each of the rows the states make', () => {
    const result = buildMemberRows({ user_id: 'm', email: 'a@example.com', state: ['CA', 'NV'], ldu: true }, { limitedDataUse: 'trait' });
    expect(LDU_CELLS(result)).toEqual([
      ['["LDU"]', '0', '0'],
      ['["LDU"]', '0', '0'],
    ]);
  });

  it('takes a flag it cannot read as a request, counted as invalid', () => {
    const result = buildMemberRows({ user_id: 'm', email: 'a@example.com', ldu: 'maybe' }, { limitedDataUse: 'trait' });
    expect(LDU_CELLS(result)).toEqual([['["LDU"]', '0', '0']]);
    expect(result.dropped).toEqual([{ key: 'DATA_PROCESSING_OPTIONS', reason: 'invalid_value' }]);
  });

  it('puts the columns on each of a member\'s rows, and none without the option', () => {
    const traits = { user_id: 'm', emails: ['a@example.com', 'b@example.com'], limited_data_use: true };
    expect(LDU_CELLS(buildMemberRows(traits, { limitedDataUse: 'trait' }))).toEqual([
      ['["LDU"]', '0', '0'],
      ['["LDU"]', '0', '0'],
    ]);
    const plain = buildMemberRows(traits);
    expect(plain.rows.every((cells) => cells.length === AUDIENCE_SCHEMA.length)).toBe(true);
    expect(plain.limitedDataUse).toBe(false);
  });
});

describe('buildMemberRows for a value-based audience', () => {
  it('puts the value after the match keys on each of the member\'s rows, before the LDU columns', () => {
    const result = buildMemberRows(
      { user_id: 'm', emails: ['a@example.com', 'b@example.com'], ltv: '1234.56', traits: { ldu: true } },
      { valueColumn: 'ltv', limitedDataUse: 'trait' },
    );
    expect(result.rows.map((cells) => cells.slice(AUDIENCE_SCHEMA.length))).toEqual([
      ['1230', '["LDU"]', '0', '0'],
      ['1230', '["LDU"]', '0', '0'],
    ]);
  });

  it('reads the value from traits when no column has it', () => {
    const result = buildMemberRows({ user_id: 'm', email: 'a@example.com', traits: { lifetime_value: 44.5 } }, { valueColumn: 'lifetime_value' });
    expect(result.rows.map((cells) => cells.slice(AUDIENCE_SCHEMA.length))).toEqual([['44.5']]);
  });

  it('leaves out a member without a usable value, counting why', () => {
    const result = buildMemberRows({ user_id: 'm', email: 'a@example.com', ltv: -3 }, { valueColumn: 'ltv' });
    expect(result).toEqual({
      rows: [],
      dropped: [{ key: 'LOOKALIKE_VALUE', reason: 'invalid_value' }],
      keysWithValue: [],
      limitedDataUse: false,
    });
  });
});
