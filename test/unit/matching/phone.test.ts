import fc from 'fast-check';
import {
  type CountryCode,
  getCountries,
  getCountryCallingCode,
  Metadata,
  parsePhoneNumberFromString,
} from 'libphonenumber-js';
import mobileExamples from 'libphonenumber-js/examples.mobile.json';
import { normalizeValue } from '../../../src/matching/normalize';
import { readInternationalPhone, readNationalPhone } from '../../../src/matching/normalizers/phone-numbering';
import { normalizePhone } from '../../../src/matching/normalizers/phone';

/** What libphonenumber-js alone makes of an international number: the reference for the fast path. */
function libraryDigits(international: string): string | undefined {
  const phone = parsePhoneNumberFromString(international, { extract: false });
  return phone?.isPossible() ? phone.number.slice(1) : undefined;
}

const metadata = new Metadata();
const countries = getCountries();
const nationalLengthsOf = (country: CountryCode): number[] => {
  metadata.selectNumberingPlan(country);
  return metadata.numberingPlan?.possibleLengths() ?? [];
};

const digitString = (length: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: length, maxLength: length });

/** Written with digits and the separators people use, after `+` or `00`. */
const spelling = fc.record({
  prefix: fc.constantFrom('+', '00', '+ '),
  separator: fc.constantFrom('', ' ', '-', '.'),
});

interface InternationalNumber {
  /** As a member's record might hold it. */
  text: string;
  /** The same number as `+` and digits, for the library. */
  withPlus: string;
}

function spelled(callingCode: string, nationalNumber: string, prefix: string, separator: string): InternationalNumber {
  return {
    text: `${prefix}${callingCode}${separator}${nationalNumber.slice(0, 3)}${separator}${nationalNumber.slice(3)}`,
    withPlus: `+${callingCode}${nationalNumber}`,
  };
}

/** Mostly valid numbers: each country's example mobile number with its last four digits replaced. */
const likelyValidNumber: fc.Arbitrary<InternationalNumber> = fc
  .constantFrom(...countries.filter((country) => mobileExamples[country] !== undefined))
  .chain((country) =>
    fc.record({ country: fc.constant(country), lastDigits: digitString(4), spelling }),
  )
  .map(({ country, lastDigits, spelling: { prefix, separator } }) => {
    const example = mobileExamples[country] as string;
    const nationalNumber = example.slice(0, Math.max(0, example.length - 4)) + lastDigits.slice(0, example.length);
    return spelled(getCountryCallingCode(country), nationalNumber, prefix, separator);
  });

/** Any digits after a real calling code, of a length the country allows or not. */
const anyNumber: fc.Arbitrary<InternationalNumber> = fc
  .constantFrom(...countries)
  .chain((country) =>
    fc.record({
      callingCode: fc.constant(getCountryCallingCode(country)),
      nationalNumber: fc.constantFrom(...nationalLengthsOf(country), 4, 16).chain(digitString),
      spelling,
    }),
  )
  .map(({ callingCode, nationalNumber, spelling: { prefix, separator } }) =>
    spelled(callingCode, nationalNumber, prefix, separator),
  );

/**
 * The fast path skips libphonenumber-js for international numbers written with digits and plain separators. On
 * numbers that exist it must agree with the library exactly; on digits that are no phone number the library may
 * strip what it takes for a carrier or trunk prefix (a "+86 1100…" becomes "86…"), and either garbage is harmless,
 * but the fast path must never accept what the library rejects.
 */
describe('PHONE fast path for international numbers', () => {
  it('gives exactly what libphonenumber-js gives for every valid number', () => {
    fc.assert(
      fc.property(likelyValidNumber, ({ text, withPlus }) => {
        const phone = parsePhoneNumberFromString(withPlus, { extract: false });
        fc.pre(phone?.isValid() === true);
        expect(normalizeValue('PHONE', text)).toEqual({ ok: true, value: libraryDigits(withPlus) });
      }),
      { numRuns: 5_000 },
    );
  });

  it('never accepts a number that libphonenumber-js finds impossible', () => {
    fc.assert(
      fc.property(anyNumber, ({ text, withPlus }) => {
        if (libraryDigits(withPlus) === undefined) expect(normalizeValue('PHONE', text).ok).toBe(false);
      }),
      { numRuns: 20_000 },
    );
  });

  it.each([
    ['+44 (0) 20 7946 0958', '442079460958'],
    ['+39 06 6982 1234', '390669821234'],
    ['+1 (202) 309-5976 x77', '12023095976'],
  ])('leaves %j, which needs the library, to the library: %j', (text, expected) => {
    expect(normalizeValue('PHONE', text)).toEqual({ ok: true, value: expected });
  });
});

describe('PHONE national numbers', () => {
  it.each<[string, string, string]>([
    ['(202) 309-5976', 'us', '12023095976'],
    ['1-202-309-5976', 'us', '12023095976'],
    ['011 44 20 7946 0958', 'us', '442079460958'],
    ['07946 095812', 'gb', '447946095812'],
    ['030 123456', 'de', '4930123456'],
    ['06 6982 1234', 'it', '390669821234'],
  ])('%j in %s → %j', (text, country, expected) => {
    expect(normalizeValue('PHONE', text, { country })).toEqual({ ok: true, value: expected });
  });

  it('reads a national number in the member country before the audience default', () => {
    expect(normalizeValue('PHONE', '06 12 34 56 78', { country: 'fr', defaultCountry: 'us' })).toEqual({
      ok: true,
      value: '33612345678',
    });
    expect(normalizeValue('PHONE', '(202) 309-5976', { defaultCountry: 'us' })).toEqual({
      ok: true,
      value: '12023095976',
    });
  });
});

/** What libphonenumber-js alone makes of a national number in `country`: the reference for readNationalPhone. */
function libraryNationalDigits(text: string, country: CountryCode): string | undefined {
  const phone = parsePhoneNumberFromString(text, { defaultCountry: country, extract: false });
  return phone?.isValid() ? phone.number.slice(1) : undefined;
}

/**
 * National numbers of every country: mostly valid ones (the country's example mobile number with new last digits,
 * sometimes after its trunk `0`) and any digits of the lengths the country allows, written with plain separators.
 * `00…` is left out: audience-sync reads it as international in every country.
 */
const nationalNumber: fc.Arbitrary<{ country: CountryCode; text: string }> = fc
  .constantFrom(...countries)
  .chain((country) => {
    const example = mobileExamples[country];
    const likelyValid = example === undefined ? [] : [
      digitString(4).map((last) => example.slice(0, Math.max(0, example.length - 4)) + last.slice(0, example.length)),
      digitString(4).map((last) => `0${example.slice(0, Math.max(0, example.length - 4))}${last}`),
    ];
    return fc.record({
      country: fc.constant(country),
      digits: fc.oneof(...likelyValid, fc.constantFrom(...nationalLengthsOf(country), 3, 12).chain(digitString)),
      separator: fc.constantFrom('', ' ', '-', '.'),
    });
  })
  .filter(({ digits }) => !digits.startsWith('00'))
  .map(({ country, digits, separator }) => ({
    country,
    text: `${digits.slice(0, 3)}${separator}${digits.slice(3, 6)}${separator}${digits.slice(6)}`,
  }));

describe('PHONE numbers read without the library', () => {
  it('gives exactly what libphonenumber-js gives, valid or not, in every country', () => {
    fc.assert(
      fc.property(nationalNumber, ({ country, text }) => {
        const expected = libraryNationalDigits(text, country);
        const result = normalizePhone(text, country.toLowerCase());
        expect(result.ok ? result.value : undefined).toBe(expected);
      }),
      { numRuns: 30_000 },
    );
  });

  it('reads international numbers exactly as libphonenumber-js does, valid or not, whenever it decides', () => {
    fc.assert(
      fc.property(nationalNumber, fc.boolean(), ({ country, text }, trunk) => {
        const callingCode = getCountryCallingCode(country);
        const digits = `${trunk ? '0' : ''}${text.replace(/\D/g, '')}`;
        const reading = readInternationalPhone(callingCode, digits);
        fc.pre(reading !== undefined);
        const phone = parsePhoneNumberFromString(`+${callingCode}${digits}`, { extract: false });
        expect(reading).toBe(phone?.isValid() ? phone.number.slice(1) : '');
      }),
      { numRuns: 20_000 },
    );
  });

  it('reads valid national numbers itself, after a trunk prefix too, and leaves the rest to the library', () => {
    expect(readNationalPhone('2023095976', 'US')).toBe('12023095976');
    expect(readNationalPhone(mobileExamples.CA as string, 'US')).toBe(`1${mobileExamples.CA}`);
    expect(readNationalPhone('2079460958', 'GB')).toBe('442079460958');
    expect(readNationalPhone('0669821234', 'IT')).toBe('390669821234');
    expect(readNationalPhone('02079460958', 'GB')).toBe('442079460958');
    expect(readNationalPhone('0612345678', 'FR')).toBe('33612345678');
    expect(readNationalPhone('4575553357', 'US')).toBe(''); // 457 is no area code
    expect(readInternationalPhone('44', '02079460958')).toBe('442079460958');
    expect(readInternationalPhone('44', '440006667')).toBe('');
    // international prefix, calling code without `+`, carrier code, not a number: the library decides
    expect(readNationalPhone('12023095976', 'US')).toBeUndefined();
    expect(readNationalPhone('0151123456789', 'BR')).toBeUndefined();
    expect(readNationalPhone('011442079460958', 'US')).toBeUndefined();
    expect(readNationalPhone('442079460958', 'GB')).toBeUndefined();
    expect(readNationalPhone('1234', 'US')).toBeUndefined();
  });

  it('reads most countries\' example numbers itself', () => {
    const read = countries.filter((country) => {
      const example = mobileExamples[country];
      return example !== undefined && readNationalPhone(example, country) !== undefined;
    });
    expect(read.length).toBeGreaterThan(countries.length * 0.8);
  });
});
