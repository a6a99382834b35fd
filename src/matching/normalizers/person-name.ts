import { accepted, REJECTED, type Normalized } from '../normalized';

const NOT_LETTER_OR_MARK = /[^\p{L}\p{M}]/gu;
const LEADING_MARKS = /^\p{M}+/u;

/**
 * FN, LN: lowercase letters only, without spaces, punctuation or digits. Meta lets these two keys carry accented and
 * non-Latin letters (UTF-8, NFC), so they are kept: "José" → "josé", "O'Brien-Smith" → "obriensmith", "山田" → "山田".
 */
export function normalizePersonName(text: string): Normalized {
  const name = personNameLetters(text);
  return name === '' ? REJECTED.empty : accepted(name);
}

/** FI: the first letter of the normalized first name. */
export function normalizeFirstInitial(text: string): Normalized {
  const name = personNameLetters(text);
  return name === '' ? REJECTED.empty : accepted(firstInitialOf(name));
}

export function firstInitialOf(normalizedName: string): string {
  return String.fromCodePoint(normalizedName.codePointAt(0) as number);
}

/** ASCII names, the common case, take one native lowercasing and a scan that copies only runs of letters. */
function personNameLetters(text: string): string {
  const lower = text.toLowerCase();
  let letters = '';
  let runStart = 0;
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    if (c >= 97 && c <= 122) continue;
    if (c > 127) return unicodePersonNameLetters(lower);
    if (i > runStart) letters += lower.slice(runStart, i);
    runStart = i + 1;
  }
  return runStart === 0 ? lower : letters + lower.slice(runStart);
}

/**
 * Keep letters and combining marks of the lowercased text, then compose (NFC): removing a character can bring a
 * base letter and an accent together, so composition must come last. A mark left without its letter is dropped.
 */
function unicodePersonNameLetters(lower: string): string {
  return lower.replace(NOT_LETTER_OR_MARK, '').normalize('NFC').replace(LEADING_MARKS, '');
}
