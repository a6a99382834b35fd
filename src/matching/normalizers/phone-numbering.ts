import { type CountryCode, Metadata } from 'libphonenumber-js';

/**
 * The parts of libphonenumber-js's Metadata that its own parser and validator read. They are there at run time but
 * not in its typings; the phone tests check this module against the library's own answers for every country.
 */
interface NumberingPlan {
  callingCode(): string;
  IDDPrefix(): string;
  nationalPrefixForParsing(): string | undefined;
  possibleLengths(): number[];
  nationalNumberPattern(): string;
  leadingDigits(): string | undefined;
  hasTypes(): boolean;
  type(type: string): { pattern(): string; possibleLengths(): number[] } | undefined;
}

interface MetadataWithPlans {
  selectNumberingPlan(country: string): void;
  numberingPlan: NumberingPlan;
  getCountryCodesForCallingCode(callingCode: string): string[] | undefined;
}

/** The number types libphonenumber-js's getNumberType tries; a number of any of them is valid. */
const NUMBER_TYPES = ['FIXED_LINE', 'MOBILE', 'PREMIUM_RATE', 'TOLL_FREE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER',
  'PAGER', 'UAN', 'VOICEMAIL'];
/**
 * libphonenumber-js parses national (significant) numbers of 2 to 17 digits, but two digits written with a separator
 * already fail its "looks like a phone number" check, so readings start at three.
 */
const MIN_NATIONAL_LENGTH = 3;
const MAX_NATIONAL_LENGTH = 17;

interface CountryPlan {
  callingCode: string;
  internationalPrefix: RegExp;
  /** A trunk prefix (`0` in most of Europe), maybe with a carrier code, that the library strips or rewrites. */
  nationalPrefixForParsing: RegExp | undefined;
  lengths: ReadonlySet<number>;
  leadingDigits: RegExp | undefined;
  nationalNumber: RegExp;
  hasTypes: boolean;
  types: ReadonlyArray<{ pattern: RegExp; lengths: ReadonlySet<number> }>;
}

const metadata = new Metadata() as unknown as MetadataWithPlans;
const planByCountry = new Map<string, CountryPlan>();

function planOf(country: string): CountryPlan {
  let plan = planByCountry.get(country);
  if (plan === undefined) {
    metadata.selectNumberingPlan(country);
    const numbering = metadata.numberingPlan;
    const nationalPrefixForParsing = numbering.nationalPrefixForParsing();
    const leadingDigits = numbering.leadingDigits();
    plan = {
      callingCode: numbering.callingCode(),
      internationalPrefix: new RegExp(`^(?:${numbering.IDDPrefix()})`),
      nationalPrefixForParsing: nationalPrefixForParsing ? new RegExp(`^(?:${nationalPrefixForParsing})`) : undefined,
      lengths: new Set(numbering.possibleLengths()),
      leadingDigits: leadingDigits ? new RegExp(`^(?:${leadingDigits})`) : undefined,
      nationalNumber: new RegExp(`^(?:${numbering.nationalNumberPattern()})$`),
      hasTypes: numbering.hasTypes(),
      types: NUMBER_TYPES.flatMap((name) => {
        const type = numbering.type(name);
        return type?.pattern()
          ? [{ pattern: new RegExp(`^(?:${type.pattern()})$`), lengths: new Set(type.possibleLengths()) }]
          : [];
      }),
    };
    planByCountry.set(country, plan);
  }
  return plan;
}

/**
 * What libphonenumber-js makes of a number written with digits and plain separators, found without parsing it:
 * the E.164 digits without `+`, '' when it is not a valid number, or undefined when the library itself must
 * decide (an international prefix such as `011`, a calling code written without `+`, a carrier code to rewrite,
 * digits beyond the lengths it reads). The rules are the library's (extractNationalNumber, getNumberType, and for
 * calling codes shared by several countries the exact country as getCountryByNationalNumber finds it) on its own
 * metadata, but with each pattern compiled once: the library compiles its patterns again on every call, which
 * made a number it had to read cost as much as twenty hashes.
 *
 * `digits`: a national number in `region`, as a member's record holds it (a trunk prefix such as the `0` of
 * `020 7946 0958` in Britain is cut off as the library cuts it).
 */
export function readNationalPhone(digits: string, region: CountryCode): string | undefined {
  if (digits.length < MIN_NATIONAL_LENGTH || digits.length > MAX_NATIONAL_LENGTH) return undefined;
  const plan = planOf(region);
  if (plan.internationalPrefix.test(digits) || digits.startsWith(plan.callingCode)) return undefined;
  return readSignificantNumber(plan, digits);
}

/** readNationalPhone for the `digits` after `+` and `callingCode`, read in the calling code's main country. */
export function readInternationalPhone(callingCode: string, digits: string): string | undefined {
  const countries = metadata.getCountryCodesForCallingCode(callingCode);
  if (countries === undefined || digits.length < MIN_NATIONAL_LENGTH || digits.length > MAX_NATIONAL_LENGTH) {
    return undefined;
  }
  return readSignificantNumber(planOf(countries[0]), digits);
}

function readSignificantNumber(plan: CountryPlan, digits: string): string | undefined {
  let national = digits;
  const prefix = plan.nationalPrefixForParsing?.exec(digits);
  if (prefix) {
    // A captured carrier code or area code is the library's to rewrite (Brazil, Argentina, Mexico...).
    if (prefix.length > 1 && prefix[prefix.length - 1]) return undefined;
    national = digits.slice(prefix[0].length);
    // The library keeps the prefix when only the number with it fits the national pattern...
    if (plan.nationalNumber.test(digits) && !plan.nationalNumber.test(national)) return undefined;
  }
  const country = exactCountry(plan.callingCode, national) ?? plan;
  // ...and when what is left is of no possible length.
  if (national !== digits && !country.lengths.has(national.length)) return undefined;
  return isValidIn(country, national) ? plan.callingCode + national : '';
}

/** The country of a calling code that a national number belongs to, found the way the library's parser does. */
function exactCountry(callingCode: string, national: string): CountryPlan | undefined {
  const countries = metadata.getCountryCodesForCallingCode(callingCode) ?? [];
  if (countries.length === 1) return planOf(countries[0]);
  for (const country of countries) {
    const plan = planOf(country);
    if (plan.leadingDigits !== undefined ? plan.leadingDigits.test(national) : hasNumberType(plan, national)) return plan;
  }
  return undefined;
}

function isValidIn(plan: CountryPlan, national: string): boolean {
  return plan.hasTypes ? hasNumberType(plan, national) : plan.nationalNumber.test(national);
}

function hasNumberType(plan: CountryPlan, national: string): boolean {
  if (!plan.nationalNumber.test(national)) return false;
  return plan.types.some(({ pattern, lengths }) => lengths.has(national.length) && pattern.test(national));
}
