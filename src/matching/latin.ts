/**
 * Reduction of free text to the lowercase ASCII letters (and digits) that Meta wants for CT, ST, GEN and country
 * names.
 *
 * Accented Latin letters are transliterated by Unicode compatibility decomposition (é → e + accent, ﬁ → fi,
 * fullwidth Ｔ → T) and dropping the accents; the few Latin letters that have no decomposition are mapped by the
 * table below. Letters of other scripts have no a–z form here and are removed.
 *
 * Why not `any-ascii`: it is an ES module only, which Node 20 loads with require(esm) but jest's module loader does
 * not before Node 24.9, so every test touching matching would fail to load. Decomposition covers the Latin-script
 * place names Meta can match on; a city written only in another script is reported as `not_latin`.
 */

const LATIN_LETTERS_WITHOUT_DECOMPOSITION: Readonly<Record<string, string>> = {
  ß: 'ss',
  ẞ: 'ss',
  æ: 'ae',
  Æ: 'ae',
  œ: 'oe',
  Œ: 'oe',
  ø: 'o',
  Ø: 'o',
  đ: 'd',
  Đ: 'd',
  ð: 'd',
  Ð: 'd',
  ł: 'l',
  Ł: 'l',
  þ: 'th',
  Þ: 'th',
  ı: 'i',
  ħ: 'h',
  Ħ: 'h',
  ŧ: 't',
  Ŧ: 't',
  ŋ: 'n',
  Ŋ: 'n',
};

const ANY_LETTER = /\p{L}/u;

/** ASCII form of each non-ASCII character met so far; decomposition is per character, so this is exact. */
const asciiByCharacter = new Map<string, string>();
const MAX_REMEMBERED_CHARACTERS = 65_536;

function transliterateToAscii(text: string): string {
  let ascii = '';
  for (const character of text) {
    if (character.charCodeAt(0) <= 127) {
      ascii += character;
      continue;
    }
    let replacement = asciiByCharacter.get(character);
    if (replacement === undefined) {
      replacement = LATIN_LETTERS_WITHOUT_DECOMPOSITION[character] ?? asciiPart(character.normalize('NFKD'));
      if (asciiByCharacter.size < MAX_REMEMBERED_CHARACTERS) asciiByCharacter.set(character, replacement);
    }
    ascii += replacement;
  }
  return ascii;
}

function asciiPart(decomposed: string): string {
  let ascii = '';
  for (let i = 0; i < decomposed.length; i++) {
    if (decomposed.charCodeAt(i) <= 127) ascii += decomposed[i];
  }
  return ascii;
}

/**
 * The lowercase a–z letters of `text` (and 0–9 when `keepDigits`), in order, everything else removed.
 * Plain ASCII input, the common case, needs one native lowercasing and a scan; text is copied only in runs between
 * removed characters.
 */
export function asciiAlphanumeric(text: string, keepDigits: boolean): string {
  const lower = text.toLowerCase();
  let result = '';
  let runStart = 0;
  for (let i = 0; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (keepDigits && c >= 48 && c <= 57)) continue;
    if (c > 127) return asciiAlphanumeric(transliterateToAscii(text), keepDigits);
    if (i > runStart) result += lower.slice(runStart, i);
    runStart = i + 1;
  }
  return runStart === 0 ? lower : result + lower.slice(runStart);
}

export function hasLetter(text: string): boolean {
  return ANY_LETTER.test(text);
}
