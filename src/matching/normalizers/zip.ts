import { accepted, REJECTED, type Normalized } from '../normalized';

const US_ZIP_LENGTH = 5;

/**
 * ZIP: lowercase, no whitespace. US: the first five digits (ZIP+4 → ZIP); a US code of 3–4 digits lost its leading
 * zeros on the way through a numeric column and gets them back. Other countries: the whole postcode (letters,
 * digits and hyphens). When the country is unknown, a value shaped like a US ZIP or ZIP+4 is treated as one.
 */
export function normalizeZip(text: string, country: string | undefined): Normalized {
  const postcode = compactPostcode(text);
  if (postcode === undefined) return REJECTED.invalid_zip;
  if (postcode === '') return REJECTED.empty;
  if (country === 'us' || country === undefined) {
    const zip = usZip(postcode);
    if (zip !== undefined) return accepted(zip);
    if (country === 'us') {
      return postcode.length >= 3 && postcode.length < US_ZIP_LENGTH && isDigits(postcode, 0, postcode.length)
        ? accepted(postcode.padStart(US_ZIP_LENGTH, '0'))
        : REJECTED.invalid_zip;
    }
  }
  return accepted(postcode);
}

/** The five-digit ZIP of `12345`, `12345-6789` or `123456789`. */
function usZip(postcode: string): string | undefined {
  if (!isDigits(postcode, 0, US_ZIP_LENGTH)) return undefined;
  switch (postcode.length) {
    case 5:
      return postcode;
    case 9:
      return isDigits(postcode, 5, 9) ? postcode.slice(0, 5) : undefined;
    case 10:
      return postcode.charCodeAt(5) === 45 && isDigits(postcode, 6, 10) ? postcode.slice(0, 5) : undefined;
    default:
      return undefined;
  }
}

function isDigits(text: string, start: number, end: number): boolean {
  if (text.length < end) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Lowercase letters, digits and hyphens with whitespace removed, '' when there is no letter or digit, undefined
 * when anything else is in the text.
 */
function compactPostcode(text: string): string | undefined {
  const lower = text.toLowerCase();
  let postcode = '';
  let runStart = 0;
  let hasAlphanumeric = false;
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57)) {
      hasAlphanumeric = true;
      continue;
    }
    if (c === 45) continue;
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13 && c !== 160) return undefined;
    if (i > runStart) postcode += lower.slice(runStart, i);
    runStart = i + 1;
  }
  if (!hasAlphanumeric) return '';
  return runStart === 0 ? lower : postcode + lower.slice(runStart);
}
