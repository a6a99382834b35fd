import {
  type CountryCode,
  getCountries,
  getCountryCallingCode,
  isSupportedCountry,
  Metadata,
  parsePhoneNumberFromString,
} from 'libphonenumber-js';
import { accepted, REJECTED, type Normalized } from '../normalized';
import { readInternationalPhone, readNationalPhone } from './phone-numbering';

/**
 * PHONE: the E.164 digits without `+` (country calling code first, no leading zeros), e.g. `12023095976`.
 *
 * - `+…` or `00…` is international.
 * - Otherwise the number is national to `country` (the member's country, else the audience's default).
 * - Without any country, the digits are taken to start with their calling code already, which is Meta's own
 *   format (`15559876543`) and what a value normalized earlier looks like.
 *
 * Parsing with libphonenumber-js costs ~8 µs a number, more than hashing a whole member, so international numbers
 * written with digits and plain separators take a fast path that needs no parsing: a known calling code followed
 * by a national number of a length every country sharing that code accepts, not starting with a trunk `0`. On
 * every valid number it gives what the library gives (a property test checks this for all countries); on digits
 * that are no phone number the library may strip what it takes for a carrier prefix where the fast path does not,
 * and neither hash will match anyone. A number of another length, or with a trunk `0` after the calling code, must
 * be valid, as must every national number: reading it involved guesses (trunk and carrier prefixes, the member's
 * country) that only validity confirms, and a guessed garbage number would not even normalize to itself a second
 * time. Written with digits and plain separators, such a number is read by phone-numbering (the library's rules
 * and metadata, without its cost); anything else (a `(0)` trunk prefix, letters, an extension) and whatever that
 * reading leaves undecided is parsed by the library.
 */
export function normalizePhone(text: string, country: string | undefined): Normalized {
  if (text.charCodeAt(0) === 43 /* + */) return normalizeInternationalPhone(text.slice(1), text);
  if (text.startsWith('00')) return normalizeInternationalPhone(text.slice(2), `+${text.slice(2)}`);
  const region = country === undefined ? undefined : country.toUpperCase();
  if (region !== undefined && isSupportedCountry(region)) {
    const digits = text.length > MAX_READ_TEXT_LENGTH ? undefined : plainDigits(text, true);
    const reading = digits === undefined ? undefined : readNationalPhone(digits, region);
    return reading === undefined ? phoneFromLibrary(text, region) : readingResult(reading);
  }
  return normalizeInternationalPhone(text, `+${text}`);
}

/** Possible national-number lengths shared by all countries of each calling code (the intersection, to stay safe). */
const NATIONAL_LENGTHS_BY_CALLING_CODE: ReadonlyMap<number, ReadonlySet<number>> = (() => {
  const metadata = new Metadata();
  const lengthsByCode = new Map<number, Set<number>>();
  for (const country of getCountries()) {
    metadata.selectNumberingPlan(country);
    const lengths = new Set(metadata.numberingPlan?.possibleLengths() ?? []);
    const code = Number(getCountryCallingCode(country));
    const known = lengthsByCode.get(code);
    lengthsByCode.set(code, known ? new Set([...known].filter((length) => lengths.has(length))) : lengths);
  }
  return lengthsByCode;
})();

const MAX_CALLING_CODE_DIGITS = 3;
/** libphonenumber-js reads no phone number out of longer text; such text is left to it. */
const MAX_READ_TEXT_LENGTH = 250;

/**
 * `afterPrefix` is the text after `+`/`00`; `forLibrary` the same number written with `+`, for the library when the
 * text holds more than digits and plain separators.
 */
function normalizeInternationalPhone(afterPrefix: string, forLibrary: string): Normalized {
  const digits = forLibrary.length > MAX_READ_TEXT_LENGTH ? undefined : plainDigits(afterPrefix, false);
  if (digits === undefined) return phoneFromLibrary(forLibrary, undefined);
  if (digits === '') return REJECTED.empty;
  let callingCode = 0;
  for (let codeLength = 1; codeLength <= MAX_CALLING_CODE_DIGITS && codeLength < digits.length; codeLength++) {
    callingCode = callingCode * 10 + (digits.charCodeAt(codeLength - 1) - 48);
    const nationalLengths = NATIONAL_LENGTHS_BY_CALLING_CODE.get(callingCode);
    if (nationalLengths === undefined) continue;
    // Calling codes are prefix-free: the first one found is the only candidate.
    const startsWithTrunkZero = digits.charCodeAt(codeLength) === 48;
    if (nationalLengths.has(digits.length - codeLength) && !startsWithTrunkZero) return accepted(digits);
    const reading = readInternationalPhone(String(callingCode), digits.slice(codeLength));
    if (reading !== undefined) return readingResult(reading);
    break;
  }
  return phoneFromLibrary(`+${digits}`, undefined);
}

function readingResult(reading: string): Normalized {
  return reading === '' ? REJECTED.invalid_phone : accepted(reading);
}

/**
 * The digits of text made only of digits and plain separators, leading zeros removed unless kept (a national
 * number's trunk `0` is for its reader to judge); undefined when anything else is there. Digits are copied in
 * runs, so a number written as bare digits is returned as it is.
 */
function plainDigits(text: string, keepLeadingZeros: boolean): string | undefined {
  let digits = '';
  let runStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const isLeadingZero = !keepLeadingZeros && c === 48 && digits === '' && i === runStart;
    if (c >= 48 && c <= 57 && !isLeadingZero) continue;
    if (!isLeadingZero && !isPlainSeparator(c)) return undefined;
    if (i > runStart) digits += text.slice(runStart, i);
    runStart = i + 1;
  }
  return runStart === 0 ? text : digits + text.slice(runStart);
}

function isPlainSeparator(c: number): boolean {
  // space, ( ) - . /
  return c === 32 || c === 40 || c === 41 || c === 45 || c === 46 || c === 47;
}

function phoneFromLibrary(text: string, region: CountryCode | undefined): Normalized {
  const phone = parsePhoneNumberFromString(text, { defaultCountry: region, extract: false });
  if (phone === undefined || !phone.isValid()) return REJECTED.invalid_phone;
  return accepted(phone.number.slice(1));
}
