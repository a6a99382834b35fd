import { accepted, REJECTED, type Normalized } from '../normalized';

/** A customer's value above this is taken for a mistake (a timestamp, an id, cents of a currency) and dropped. */
export const MAX_LOOKALIKE_VALUE = 1e12;
/**
 * Values are kept to three significant digits. Meta ranks a seed's people by value to weigh the lookalike; it needs
 * their order and rough ratios, not cents. A member whose row changes is removed and added again at Meta, so a
 * lifetime value that creeps up by a few cents each day would otherwise move every customer's rows every cycle.
 */
const SIGNIFICANT_DIGITS = 3;
const DECIMAL = /^[+]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * A member's value for a value-based audience (reference §6: a non-negative number, sent unhashed), as the JSON
 * number text uploaded: `44.5`, `1230`. Missing, negative, not a number, infinite or above MAX_LOOKALIKE_VALUE:
 * `invalid_value`.
 */
export function normalizeLookalikeValue(raw: unknown): Normalized {
  const number =
    typeof raw === 'number' ? raw : typeof raw === 'string' && DECIMAL.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isFinite(number) || number < 0 || number > MAX_LOOKALIKE_VALUE) return REJECTED.invalid_value;
  return accepted(String(Number(number.toPrecision(SIGNIFICANT_DIGITS))));
}
