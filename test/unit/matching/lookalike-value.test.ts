import { MAX_LOOKALIKE_VALUE, normalizeLookalikeValue } from '../../../src/matching/normalizers/lookalike-value';

describe('normalizeLookalikeValue', () => {
  it.each<[unknown, string]>([
    [44.5, '44.5'],
    ['44.5', '44.5'],
    [' 12 ', '12'],
    [0, '0'],
    ['0.00', '0'],
    [44.567, '44.6'],
    [1234.56, '1230'],
    ['1e3', '1000'],
    ['.5', '0.5'],
    [0.001234, '0.00123'],
    [MAX_LOOKALIKE_VALUE, '1000000000000'],
  ])('%p is uploaded as %s', (raw, uploaded) => {
    expect(normalizeLookalikeValue(raw)).toEqual({ ok: true, value: uploaded });
    // The text is a JSON number: what Meta receives unquoted.
    expect(JSON.stringify(JSON.parse(uploaded))).toBe(uploaded);
  });

  it.each<[string, unknown]>([
    ['missing', undefined],
    ['null', null],
    ['blank', ' '],
    ['negative', -1],
    ['negative text', '-0.5'],
    ['not a number', 'lots'],
    ['a currency sign', '$44.50'],
    ['infinite', Number.POSITIVE_INFINITY],
    ['NaN', Number.NaN],
    ['absurdly large', MAX_LOOKALIKE_VALUE * 10],
    ['a boolean', true],
  ])('%s is invalid_value', (_case, raw) => {
    expect(normalizeLookalikeValue(raw)).toEqual({ ok: false, reason: 'invalid_value' });
  });
});
