import { asciiAlphanumeric } from '../latin';
import { accepted, REJECTED, type Normalized } from '../normalized';

const GENDER_BY_WORD: ReadonlyMap<string, string> = new Map([
  ...['m', 'male', 'man', 'boy'].map((word): [string, string] => [word, 'm']),
  ...['f', 'female', 'woman', 'girl'].map((word): [string, string] => [word, 'f']),
]);

/** GEN: `m` or `f` from the usual English words in any case and punctuation ("M.", "Female"); anything else is dropped. */
export function normalizeGender(text: string): Normalized {
  const gender = GENDER_BY_WORD.get(asciiAlphanumeric(text, false));
  return gender === undefined ? REJECTED.unknown_gender : accepted(gender);
}
