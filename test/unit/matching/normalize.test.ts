import { createHash } from 'node:crypto';
import { AUDIENCE_SCHEMA, type MatchKey, UNHASHED_KEYS } from '../../../src/matching/keys';
import { DROP_REASONS } from '../../../src/matching/normalized';
import { encodeValue, type NormalizeContext, normalizeValue } from '../../../src/matching/normalize';

/** An independent reference for the hashes: Node's streaming API, not the code under test. */
const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

type Case = [raw: unknown, expected: string];
type RejectedCase = [raw: unknown, reason: string];
type ContextCase = [raw: unknown, context: NormalizeContext, expected: string];
type RejectedContextCase = [raw: unknown, context: NormalizeContext, reason: string];

function expectAccepted(key: MatchKey, raw: unknown, expected: string, context?: NormalizeContext): void {
  expect(normalizeValue(key, raw, context)).toEqual({ ok: true, value: expected });
}

function expectRejected(key: MatchKey, raw: unknown, reason: string, context?: NormalizeContext): void {
  expect(normalizeValue(key, raw, context)).toEqual({ ok: false, reason });
}

describe("Meta's worked examples", () => {
  it('hashes mary@example.com to the published digest', () => {
    const email = normalizeValue('EMAIL', '  Mary@Example.com ');
    expect(email).toEqual({ ok: true, value: 'mary@example.com' });
    expect(encodeValue('EMAIL', 'mary@example.com')).toBe(
      'f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79',
    );
  });

  it('hashes +1 (555) 987-6543 to the published digest of 15559876543', () => {
    expect(normalizeValue('PHONE', '+1 (555) 987-6543')).toEqual({ ok: true, value: '15559876543' });
    expect(encodeValue('PHONE', '15559876543')).toBe('1ef970831d7963307784fa8688e8fce101a15685d62aa765fed23f3a2c576a4e');
  });
});

describe('EMAIL', () => {
  it.each<Case>([
    ['  Mary@Example.com ', 'mary@example.com'],
    ['MARY@EXAMPLE.COM', 'mary@example.com'],
    ["mary.o'brien+ads@sub.example.co.uk", "mary.o'brien+ads@sub.example.co.uk"],
    ['josé@exämple.com', 'josé@exämple.com'],
    // Already a SHA-256 hash (here of mary@example.com), in capitals: lowercased, never hashed twice.
    [
      'F1904CF1A9D73A55FA5DE0AC823C4403DED71AFD4C3248D00BDCD0866552BB79',
      'f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79',
    ],
  ])('%j → %j', (raw, expected) => expectAccepted('EMAIL', raw, expected));

  it.each<RejectedCase>([
    ['mary@example', 'invalid_email'],
    ['mary@@example.com', 'invalid_email'],
    ['@example.com', 'invalid_email'],
    ['mary@example..com', 'invalid_email'],
    ['.mary@example.com', 'invalid_email'],
    ['ma..ry@example.com', 'invalid_email'],
    ['mary @example.com', 'invalid_email'],
    ['mary@-example.com', 'invalid_email'],
    ['mary@example.123', 'invalid_email'],
    ['n/a', 'invalid_email'],
    ['   ', 'empty'],
    [null, 'empty'],
    [true, 'invalid_value'],
    [['mary@example.com'], 'invalid_value'],
  ])('%j is dropped: %s', (raw, reason) => expectRejected('EMAIL', raw, reason));
});

describe('PHONE', () => {
  it.each<ContextCase>([
    ['+1 (202) 309-5976', {}, '12023095976'],
    ['+12023095976', {}, '12023095976'],
    ['0044 20 7946 0958', {}, '442079460958'],
    ['+44 (0) 20 7946 0958', {}, '442079460958'],
    ['+1 202 309 5976 ext. 123', {}, '12023095976'],
    ['+39 06 6982 1234', {}, '390669821234'],
    ['+33 6 12 34 56 78', { country: 'us' }, '33612345678'],
    // National numbers: the member's country first, else the audience's default.
    ['(202) 309-5976', { country: 'US' }, '12023095976'],
    ['202-309-5976', { defaultCountry: 'us' }, '12023095976'],
    ['0612345678', { country: 'fr' }, '33612345678'],
    ['06 12 34 56 78', { country: 'France', defaultCountry: 'us' }, '33612345678'],
    ['020 7946 0958', { country: 'gb' }, '442079460958'],
    ['8 800 555 35 35', { country: 'ru' }, '78005553535'],
    ['12023095976', { country: 'us' }, '12023095976'],
    // Without any country the digits are taken to start with their calling code, Meta's own format.
    ['15559876543', {}, '15559876543'],
    [12023095976, {}, '12023095976'],
  ])('%j in %j → %j', (raw, context, expected) => expectAccepted('PHONE', raw, expected, context));

  it.each<RejectedContextCase>([
    ['+0000000000', {}, 'empty'],
    ['000', {}, 'empty'],
    ['+1 555', {}, 'invalid_phone'],
    ['call me', {}, 'invalid_phone'],
    ['(202) 309-5976', { country: 'fr' }, 'invalid_phone'],
  ])('%j in %j is dropped: %s', (raw, context, reason) => expectRejected('PHONE', raw, reason, context));
});

describe('GEN', () => {
  it.each<Case>([
    ['M', 'm'],
    ['male', 'm'],
    ['Man', 'm'],
    ['BOY', 'm'],
    ['f', 'f'],
    ['FEMALE', 'f'],
    [' Woman ', 'f'],
    ['girl', 'f'],
    ['F.', 'f'],
  ])('%j → %j', (raw, expected) => expectAccepted('GEN', raw, expected));

  it.each<RejectedCase>([
    ['other', 'unknown_gender'],
    ['x', 'unknown_gender'],
    ['2', 'unknown_gender'],
    ['', 'empty'],
  ])('%j is dropped: %s', (raw, reason) => expectRejected('GEN', raw, reason));
});

describe('DOBY, DOBM, DOBD', () => {
  it.each<[MatchKey, unknown, string]>([
    ['DOBY', '1987', '1987'],
    ['DOBY', 1987, '1987'],
    ['DOBY', '1900', '1900'],
    ['DOBY', '1987-03-09', '1987'],
    ['DOBY', '03/09/1987', '1987'],
    ['DOBY', '19870309', '1987'],
    ['DOBY', 'March 9, 1987', '1987'],
    ['DOBY', new Date(1987, 2, 9), '1987'],
    ['DOBM', '3', '03'],
    ['DOBM', 3, '03'],
    ['DOBM', '12', '12'],
    ['DOBM', 'March', '03'],
    ['DOBM', 'mar', '03'],
    ['DOBM', 'Sept', '09'],
    ['DOBM', '1987-03-09', '03'],
    ['DOBM', '03/09/1987', '03'],
    ['DOBM', '09.03.1987', '03'],
    ['DOBM', '13/09/1987', '09'],
    ['DOBM', '9 Mar 1987', '03'],
    ['DOBD', '9', '09'],
    ['DOBD', '09', '09'],
    ['DOBD', '9th', '09'],
    ['DOBD', 31, '31'],
    ['DOBD', '1987-03-09', '09'],
    ['DOBD', '1987-03-09T23:30:00Z', '09'],
    ['DOBD', '2000-02-29', '29'],
    ['DOBD', new Date(1987, 2, 9), '09'],
  ])('%s of %j → %j', (key, raw, expected) => expectAccepted(key, raw, expected));

  it.each<[MatchKey, unknown, string]>([
    ['DOBY', '1899', 'out_of_range'],
    ['DOBY', String(new Date().getFullYear() + 1), 'out_of_range'],
    ['DOBY', '87', 'invalid_date'],
    ['DOBM', '13', 'out_of_range'],
    ['DOBM', '0', 'out_of_range'],
    ['DOBM', 'foo', 'invalid_date'],
    ['DOBD', '32', 'out_of_range'],
    ['DOBD', '0', 'out_of_range'],
    ['DOBD', '1987-02-30', 'invalid_date'],
    ['DOBD', '1999-02-29', 'invalid_date'],
    ['DOBD', new Date(Number.NaN), 'invalid_value'],
  ])('%s of %j is dropped: %s', (key, raw, reason) => expectRejected(key, raw, reason));
});

describe('FN, LN, FI', () => {
  it.each<[MatchKey, unknown, string]>([
    ['FN', 'Mary', 'mary'],
    ['FN', '  Mary-Jane ', 'maryjane'],
    ['LN', "O'Brien", 'obrien'],
    ['LN', 'Smith-Jones', 'smithjones'],
    ['LN', 'van der Berg', 'vanderberg'],
    ['FN', 'José', 'josé'],
    ['FN', 'ZOË', 'zoë'],
    // Decomposed input (e + combining diaeresis) comes out composed (NFC), equal to the line above.
    ['FN', 'Zoe\u0308', 'zoë'],
    ['LN', '山田', '山田'],
    ['LN', 'Łukaszewicz', 'łukaszewicz'],
    ['FN', 'Mary2', 'mary'],
    ['FI', 'Mary', 'm'],
    ['FI', 'élodie', 'é'],
    ['FI', '山田', '山'],
  ])('%s of %j → %j', (key, raw, expected) => expectAccepted(key, raw, expected));

  it.each<[MatchKey, unknown]>([
    ['FN', '---'],
    ['LN', '123'],
    ['FI', "'"],
  ])('%s of %j is dropped as empty', (key, raw) => expectRejected(key, raw, 'empty'));
});

describe('CT', () => {
  it.each<Case>([
    ['São Paulo', 'saopaulo'],
    ['New York', 'newyork'],
    ['Zürich', 'zurich'],
    ['Łódź', 'lodz'],
    ['Ærøskøbing', 'aeroskobing'],
    ['Saint-Étienne', 'saintetienne'],
    ['Straße', 'strasse'],
    ['ＴＯＫＹＯ', 'tokyo'],
  ])('%j → %j', (raw, expected) => expectAccepted('CT', raw, expected));

  it.each<RejectedCase>([
    ['東京', 'not_latin'],
    ['Москва', 'not_latin'],
    ['123', 'empty'],
  ])('%j is dropped: %s', (raw, reason) => expectRejected('CT', raw, reason));
});

describe('ST', () => {
  it.each<ContextCase>([
    ['New York', { country: 'us' }, 'ny'],
    ['NY', { country: 'us' }, 'ny'],
    ['n.y.', {}, 'ny'],
    ['New York', {}, 'ny'],
    ['District of Columbia', { country: 'US' }, 'dc'],
    ['Washington D.C.', { country: 'us' }, 'dc'],
    ['CA', {}, 'ca'],
    ['Ontario', { country: 'ca' }, 'ontario'],
    ['Ontario', {}, 'ontario'],
    ['Île-de-France', { country: 'fr' }, 'iledefrance'],
    // Outside the US a name that happens to be a US state stays a name.
    ['Georgia', { country: 'ge' }, 'georgia'],
  ])('%j in %j → %j', (raw, context, expected) => expectAccepted('ST', raw, expected, context));

  it.each<RejectedContextCase>([
    ['Ontario', { country: 'us' }, 'unknown_state'],
    ['--', {}, 'empty'],
  ])('%j in %j is dropped: %s', (raw, context, reason) => expectRejected('ST', raw, reason, context));
});

describe('ZIP', () => {
  it.each<ContextCase>([
    ['12345', { country: 'us' }, '12345'],
    ['12345-6789', { country: 'us' }, '12345'],
    ['12345 6789', {}, '12345'],
    ['123456789', {}, '12345'],
    ['2134', { country: 'us' }, '02134'],
    [2134, { country: 'us' }, '02134'],
    ['2134', { country: 'au' }, '2134'],
    ['SW1A 1AA', { country: 'gb' }, 'sw1a1aa'],
    ['sw1a 1aa', {}, 'sw1a1aa'],
    ['01310-100', { country: 'br' }, '01310-100'],
  ])('%j in %j → %j', (raw, context, expected) => expectAccepted('ZIP', raw, expected, context));

  it.each<RejectedContextCase>([
    ['12-34', { country: 'us' }, 'invalid_zip'],
    ['SW1A 1AA', { country: 'us' }, 'invalid_zip'],
    ['ab#12', {}, 'invalid_zip'],
    ['-', {}, 'empty'],
  ])('%j in %j is dropped: %s', (raw, context, reason) => expectRejected('ZIP', raw, reason, context));
});

describe('COUNTRY', () => {
  it.each<Case>([
    ['US', 'us'],
    ['us', 'us'],
    ['United States', 'us'],
    ['United States of America', 'us'],
    ['USA', 'us'],
    ['U.S.A.', 'us'],
    ['UK', 'gb'],
    ['Great Britain', 'gb'],
    ['GBR', 'gb'],
    ['Germany', 'de'],
    ['840', 'us'],
    ["Côte d'Ivoire", 'ci'],
    ['ivory coast', 'ci'],
  ])('%j → %j', (raw, expected) => expectAccepted('COUNTRY', raw, expected));

  it.each<RejectedCase>([
    ['Atlantis', 'unknown_country'],
    ['ZZ', 'unknown_country'],
  ])('%j is dropped: %s', (raw, reason) => expectRejected('COUNTRY', raw, reason));
});

describe('MADID', () => {
  it.each<Case>([
    ['AEBE52E7-03EE-455A-B3C4-E57283966239', 'aebe52e7-03ee-455a-b3c4-e57283966239'],
    [' 6d92078a-8246-4ba4-ae5b-76104861e7dc ', '6d92078a-8246-4ba4-ae5b-76104861e7dc'],
  ])('%j → %j', (raw, expected) => expectAccepted('MADID', raw, expected));

  it.each<unknown>([
    'aebe52e703ee455ab3c4e57283966239',
    '00000000-0000-0000-0000-000000000000',
    'aebe52e7-03ee-455a-b3c4-e5728396623g',
    'not-a-device-id',
    // A 64-hex value is a hash for hashed keys only: MADID is sent in clear.
    'f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79',
  ])('%j is dropped as invalid_madid', (raw) => expectRejected('MADID', raw, 'invalid_madid'));
});

describe('EXTERN_ID', () => {
  it.each<Case>([
    ['  abc-123 ', 'abc-123'],
    ['ABC', 'ABC'],
    [12345, '12345'],
    [12345678901234567890n, '12345678901234567890'],
  ])('%j → %j', (raw, expected) => expectAccepted('EXTERN_ID', raw, expected));
});

describe('encodeValue', () => {
  it.each<[MatchKey, string]>([
    ['EMAIL', 'mary@example.com'],
    ['FN', 'josé'],
    ['LN', '山田'],
    ['CT', 'saopaulo'],
    ['GEN', 'f'],
    ['COUNTRY', 'us'],
    ['DOBM', '03'],
  ])('%s %j is the lowercase hex SHA-256 of its UTF-8 bytes', (key, normalized) => {
    expect(encodeValue(key, normalized)).toBe(sha256(normalized));
  });

  it('keeps giving the right hash for memoized keys, also past the size of their memo', () => {
    const names = Array.from({ length: 40_000 }, (_, i) => `name${i.toString(36)}`);
    for (const name of names) encodeValue('FN', name);
    for (const name of [names[0], names[20_000], names[39_999], 'mary']) {
      expect(encodeValue('FN', name)).toBe(sha256(name));
      expect(encodeValue('FN', name)).toBe(sha256(name));
    }
  });

  it.each<[MatchKey, string]>([
    ['EXTERN_ID', 'Customer-42'],
    ['MADID', 'aebe52e7-03ee-455a-b3c4-e57283966239'],
  ])('sends %s as it is', (key, normalized) => {
    expect(encodeValue(key, normalized)).toBe(normalized);
  });

  it('takes 64 hex digits as a hash made earlier and only lowercases them', () => {
    const hash = sha256('mary@example.com');
    expect(encodeValue('EMAIL', hash.toUpperCase())).toBe(hash);
  });

  it('never hashes the empty string', () => {
    for (const key of AUDIENCE_SCHEMA) expect(encodeValue(key, '')).toBe('');
  });
});

describe('reasons', () => {
  it('only uses the documented snake_case reason codes', () => {
    expect(DROP_REASONS.every((reason) => /^[a-z]+(_[a-z]+)*$/.test(reason))).toBe(true);
    const samples: [MatchKey, unknown][] = [
      ['EMAIL', 'x'],
      ['PHONE', 'x'],
      ['GEN', 'x'],
      ['DOBY', 'x'],
      ['CT', '東京'],
      ['ST', 'x'],
      ['ZIP', '#'],
      ['COUNTRY', 'x'],
      ['MADID', 'x'],
      ['FN', {}],
    ];
    for (const [key, raw] of samples) {
      const result = normalizeValue(key, raw, { country: 'us' });
      expect(result.ok).toBe(false);
      if (!result.ok) expect(DROP_REASONS).toContain(result.reason);
    }
  });

  it('treats the two unhashed keys as Meta lists them', () => {
    expect([...UNHASHED_KEYS].sort()).toEqual(['EXTERN_ID', 'MADID']);
  });
});
