// The library's Node entry registers all of its ~80 languages (about 9 MB in each hashing thread); English names
// are the ones matched, so only they are registered.
import countries from 'i18n-iso-countries/index';
import english from 'i18n-iso-countries/langs/en.json';
import { asciiAlphanumeric } from '../latin';
import { accepted, REJECTED, type Normalized } from '../normalized';

/**
 * Lowercase ISO 3166-1 alpha-2 code by every spelling i18n-iso-countries knows: alpha-2, alpha-3 and numeric codes
 * and the English names with their common variants ("United States", "USA", "U.S.", "UK", "Great Britain",
 * "Ivory Coast"), each reduced to its lowercase a–z and 0–9 so that case, accents and punctuation do not matter.
 */
const COUNTRY_CODE_BY_SPELLING: ReadonlyMap<string, string> = (() => {
  countries.registerLocale(english);
  const codeBySpelling = new Map<string, string>();
  for (const [alpha2, names] of Object.entries(countries.getNames('en', { select: 'all' }))) {
    for (const name of names) codeBySpelling.set(asciiAlphanumeric(name, true), alpha2.toLowerCase());
  }
  const codeTables = [countries.getNumericCodes(), countries.getAlpha3Codes()];
  for (const table of codeTables) {
    for (const [code, alpha2] of Object.entries(table)) codeBySpelling.set(code.toLowerCase(), alpha2.toLowerCase());
  }
  for (const alpha2 of Object.keys(countries.getAlpha2Codes())) codeBySpelling.set(alpha2.toLowerCase(), alpha2.toLowerCase());
  return codeBySpelling;
})();

/** COUNTRY: ISO 3166-1 alpha-2, lowercase ("United States" → "us", "UK" → "gb"). */
export function normalizeCountry(text: string): Normalized {
  const code = countryCode(text);
  return code === undefined ? REJECTED.unknown_country : accepted(code);
}

/** Members of an audience spell their countries a handful of ways: remember each spelling's code (null: none). */
const MAX_REMEMBERED_SPELLINGS = 4096;
const codeBySeenSpelling = new Map<string, string | null>();

/** The lowercase alpha-2 code for a country written any way `normalizeCountry` accepts. */
export function countryCode(text: string): string | undefined {
  let code = codeBySeenSpelling.get(text);
  if (code === undefined) {
    code = COUNTRY_CODE_BY_SPELLING.get(asciiAlphanumeric(text, true)) ?? null;
    if (codeBySeenSpelling.size < MAX_REMEMBERED_SPELLINGS) codeBySeenSpelling.set(text, code);
  }
  return code ?? undefined;
}
