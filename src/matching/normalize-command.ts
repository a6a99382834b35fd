import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { AUDIENCE_SCHEMA, UNHASHED_KEYS, uploadSchema, VALUE_COLUMN } from './keys';
import { normalizeLookalikeValue } from './normalizers/lookalike-value';
import { buildMemberRows, type MemberRowsOptions } from './member-rows';
import { encodeValue, normalizeValue } from './normalize';
import { countryCode } from './normalizers/country';
import { matchKeyForName } from './trait-aliases';

/**
 * Body of `audience-sync normalize`: JSON lines in, one JSON line out per input line, in order.
 *
 * - `{"key": "PHONE", "value": "+1 (202) 309-5976", "country"?: "us", "defaultCountry"?: "us"}` →
 *   `{"key", "value", "normalized", "hash", "reason"}`. The key is a Meta key name in any case or a trait alias
 *   of one key (`first_name` → FN) and is echoed as the Meta key name. A dropped value has `normalized: ""`, a
 *   `reason` and `hash: null`; EXTERN_ID and MADID are never hashed, so their `hash` is null too.
 * - `{"key": "LOOKALIKE_VALUE", "value": 44.567}` → the value as a value-based audience uploads it (`44.6`).
 * - `{"traits": {...}, "defaultCountry"?: "us"}` → `{"schema", "rows", "dropped", "keysWithValue"}`, the rows
 *   exactly as they would be uploaded (with LOOKALIKE_VALUE and the LDU columns when the command's `valueColumn`
 *   and `limitedDataUse` are set).
 * - A line that is not JSON, not an object of either form, or names an unknown key or country gives
 *   `{"error": "..."}` for that line and the command goes on.
 *
 * Blank lines are skipped without output (a trailing newline or spacing between records is not an input line).
 * The line's own `defaultCountry` wins over the command's. `output` is left open for the caller.
 */
export async function runNormalizeCommand(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  options: MemberRowsOptions = {},
): Promise<{ lines: number; errors: number }> {
  let lines = 0;
  let errors = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    const result = normalizeLine(line, options);
    lines++;
    if ('error' in result) errors++;
    if (!output.write(`${JSON.stringify(result)}\n`)) await once(output, 'drain');
  }
  return { lines, errors };
}

type LineResult = Record<string, unknown>;

function normalizeLine(line: string, options: MemberRowsOptions): LineResult {
  const request = parseJson(line);
  if (request === undefined) return { error: 'invalid JSON' };
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    return { error: 'expected an object with "key" and "value", or with "traits"' };
  }
  const fields = request as Record<string, unknown>;
  const defaultCountry = fields.defaultCountry ?? options.defaultCountry;
  if (defaultCountry !== undefined && !isCountry(defaultCountry)) {
    return { error: `unknown defaultCountry ${JSON.stringify(defaultCountry)}` };
  }
  if ('traits' in fields) return normalizeTraitsLine(fields.traits, { ...options, defaultCountry });
  if ('key' in fields) return normalizeKeyLine(fields, defaultCountry);
  return { error: 'expected an object with "key" and "value", or with "traits"' };
}

function normalizeTraitsLine(traits: unknown, options: MemberRowsOptions): LineResult {
  const object = typeof traits === 'string' ? parseJson(traits) : traits;
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    return { error: '"traits" must be an object or the JSON text of one' };
  }
  const { rows, dropped, keysWithValue } = buildMemberRows({ traits: object }, options);
  // The cells after the match keys (LOOKALIKE_VALUE, the LDU columns) are JSON values, uploaded as such.
  const uploaded = rows.map((row) => row.map((cell, index) => (index < AUDIENCE_SCHEMA.length ? cell : JSON.parse(cell))));
  return { schema: uploadSchema(options.limitedDataUse, options.valueColumn !== undefined), rows: uploaded, dropped, keysWithValue };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function normalizeKeyLine(fields: Record<string, unknown>, defaultCountry: string | undefined): LineResult {
  if (typeof fields.key === 'string' && fields.key.toUpperCase() === VALUE_COLUMN) {
    const result = normalizeLookalikeValue(fields.value);
    const value = fields.value ?? null;
    return result.ok
      ? { key: VALUE_COLUMN, value, normalized: result.value, hash: null, reason: null }
      : { key: VALUE_COLUMN, value, normalized: '', hash: null, reason: result.reason };
  }
  const key = typeof fields.key === 'string' ? matchKeyForName(fields.key) : undefined;
  if (key === undefined) return { error: `unknown key ${JSON.stringify(fields.key)}` };
  const { country } = fields;
  if (country !== undefined && !isCountry(country)) return { error: `unknown country ${JSON.stringify(country)}` };
  const result = normalizeValue(key, fields.value, { country, defaultCountry });
  const value = fields.value ?? null;
  if (!result.ok) return { key, value, normalized: '', hash: null, reason: result.reason };
  const hash = UNHASHED_KEYS.has(key) ? null : encodeValue(key, result.value);
  return { key, value, normalized: result.value, hash, reason: null };
}

function isCountry(value: unknown): value is string {
  return typeof value === 'string' && countryCode(value) !== undefined;
}
