import { accepted, REJECTED, type Normalized } from '../normalized';

const UUID_LENGTH = 36;
const HYPHEN_POSITIONS: ReadonlySet<number> = new Set([8, 13, 18, 23]);
/** What iOS and Android report when the user limited ad tracking: it identifies nobody. */
const ZEROED_ADVERTISING_ID = '00000000-0000-0000-0000-000000000000';

/** MADID: an IDFA or GAID in its UUID form, lowercase with the hyphens kept; sent unhashed. */
export function normalizeMadid(text: string): Normalized {
  const id = text.toLowerCase();
  return isUuid(id) && id !== ZEROED_ADVERTISING_ID ? accepted(id) : REJECTED.invalid_madid;
}

function isUuid(text: string): boolean {
  if (text.length !== UUID_LENGTH) return false;
  for (let i = 0; i < UUID_LENGTH; i++) {
    const c = text.charCodeAt(i);
    const valid = HYPHEN_POSITIONS.has(i) ? c === 45 : (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
    if (!valid) return false;
  }
  return true;
}
