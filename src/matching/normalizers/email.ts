import { accepted, REJECTED, type Normalized } from '../normalized';

/** EMAIL: trimmed (by the caller) and lowercased; anything that is not an address is dropped, never hashed. */
export function normalizeEmail(text: string): Normalized {
  const email = text.toLowerCase();
  return isEmailAddress(email) ? accepted(email) : REJECTED.invalid_email;
}

const MAX_LOCAL_PART_LENGTH = 64;
const MAX_ADDRESS_LENGTH = 254;

/**
 * A practical address check on lowercased text: one `@`, a local part of RFC 5322 "atext" and dots (non-ASCII allowed
 * for internationalized addresses), a domain of at least two labels of letters, digits and inner hyphens, and a
 * top-level label that is not numeric. Written as one pass over the characters: it runs for every member.
 */
function isEmailAddress(email: string): boolean {
  const at = email.indexOf('@');
  if (at < 1 || at > MAX_LOCAL_PART_LENGTH || email.length > MAX_ADDRESS_LENGTH) return false;
  if (email.indexOf('@', at + 1) !== -1) return false;

  let previous = 0;
  for (let i = 0; i < at; i++) {
    const c = email.charCodeAt(i);
    if (c === 46 /* . */ && (i === 0 || previous === 46 || i === at - 1)) return false;
    if (!isLocalPartChar(c)) return false;
    previous = c;
  }

  let labelStart = at + 1;
  let labels = 0;
  let lastLabelNumeric = true;
  for (let i = at + 1; i <= email.length; i++) {
    const c = i === email.length ? 46 : email.charCodeAt(i);
    if (c === 46) {
      const labelLength = i - labelStart;
      if (labelLength === 0 || labelLength > 63) return false;
      if (email.charCodeAt(labelStart) === 45 || email.charCodeAt(i - 1) === 45) return false;
      labels++;
      lastLabelNumeric = isNumeric(email, labelStart, i);
      labelStart = i + 1;
    } else if (!isDomainChar(c)) {
      return false;
    }
  }
  return labels >= 2 && !lastLabelNumeric;
}

function isLocalPartChar(c: number): boolean {
  if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c > 127) return true;
  // RFC 5322 atext specials plus the dot
  switch (c) {
    case 33: case 35: case 36: case 37: case 38: case 39: case 42: case 43: case 45: case 46: case 47:
    case 61: case 63: case 94: case 95: case 96: case 123: case 124: case 125: case 126:
      return true;
    default:
      return false;
  }
}

function isDomainChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c > 127;
}

function isNumeric(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
