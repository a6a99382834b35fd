import { asciiAlphanumeric, hasLetter } from '../latin';
import { accepted, REJECTED, type Normalized } from '../normalized';
import { usStateCode } from './us-states';

/**
 * ST: in the US the two-letter code, lowercase ("New York" → "ny"); elsewhere the lowercase a–z and 0–9 of the name.
 * When the member's country is unknown, a recognized US state name or code is taken as a US state.
 */
export function normalizeState(text: string, country: string | undefined): Normalized {
  const alphanumeric = asciiAlphanumeric(text, true);
  if (country === 'us' || country === undefined) {
    const code = usStateCode(alphanumeric);
    if (code !== undefined) return accepted(code);
    if (country === 'us') return alphanumeric === '' ? emptyOrNotLatin(text) : REJECTED.unknown_state;
  }
  return alphanumeric === '' ? emptyOrNotLatin(text) : accepted(alphanumeric);
}

function emptyOrNotLatin(text: string): Normalized {
  return hasLetter(text) ? REJECTED.not_latin : REJECTED.empty;
}
