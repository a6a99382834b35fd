import { asciiAlphanumeric, hasLetter } from '../latin';
import { accepted, REJECTED, type Normalized } from '../normalized';

/** CT: lowercase a–z only, accents transliterated, no spaces or punctuation ("São Paulo" → "saopaulo"). */
export function normalizeCity(text: string): Normalized {
  const city = asciiAlphanumeric(text, false);
  if (city !== '') return accepted(city);
  return hasLetter(text) ? REJECTED.not_latin : REJECTED.empty;
}
