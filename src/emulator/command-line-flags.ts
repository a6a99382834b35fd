import type { ThrottleSettings } from './account-throttle';
import { faultMatchSchema, faultRuleSchema, type ValidFaultRule } from './fault-rules';

/**
 * Command-line forms of the emulator's settings.
 *
 * `--fault <kind>[:<field>=<value>,...]` describes one fault rule with the field names of the HTTP API
 * (POST /_emulator/faults); the `match` fields (method, path, pathPattern, adAccountId, audienceId) are written
 * at the top level. Durations (delayMs, startAfterMs, durationMs) take milliseconds or a unit: 500ms, 30s, 5m, 1h.
 * Values cannot contain commas. Examples:
 *   --fault 'error:code=2,rate=0.2'
 *   --fault 'throttle:code=80003,retryAfterMinutes=2,nextCalls=3'
 *   --fault 'drop_connection:drop=after,method=DELETE,path=/users,nextCalls=1'
 *   --fault 'slow:delayMs=5s,rate=0.1,startAfterMs=1m,durationMs=10m'
 *   --fault 'error:code=190,subcode=460,adAccountId=act_123'
 *
 * `--throttle <calls>/<window>` limits each ad account to that many calls per rolling window, e.g. 100/1m.
 */

const NUMERIC_FIELDS = new Set(['code', 'subcode', 'httpStatus', 'retryAfterMinutes', 'rate', 'nextCalls']);
const DURATION_FIELDS = new Set(['delayMs', 'startAfterMs', 'durationMs']);
const TEXT_FIELDS = new Set(['message', 'drop']);
const MATCH_FIELDS = new Set(Object.keys(faultMatchSchema.shape));

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds from "250", "250ms", "30s", "5m" or "1h". */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration (use e.g. 500ms, 30s, 5m, 1h)`);
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] as number));
}

export function parseFaultFlag(text: string): ValidFaultRule {
  const separator = text.indexOf(':');
  const kind = separator === -1 ? text.trim() : text.slice(0, separator).trim();
  const rule: Record<string, unknown> = { fault: kind };
  const match: Record<string, unknown> = {};
  const fields = separator === -1 ? [] : text.slice(separator + 1).split(',').filter((field) => field.trim() !== '');
  for (const field of fields) {
    const equals = field.indexOf('=');
    if (equals === -1) throw new Error(`--fault '${text}': "${field}" is not <field>=<value>`);
    const name = field.slice(0, equals).trim();
    const value = field.slice(equals + 1).trim();
    if (NUMERIC_FIELDS.has(name)) rule[name] = Number(value);
    else if (DURATION_FIELDS.has(name)) rule[name] = parseDuration(value);
    else if (TEXT_FIELDS.has(name)) rule[name] = value;
    else if (MATCH_FIELDS.has(name)) match[name] = value;
    else throw new Error(`--fault '${text}': unknown field "${name}"`);
  }
  if (Object.keys(match).length > 0) rule['match'] = match;
  const parsed = faultRuleSchema.safeParse(rule);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`--fault '${text}': ${issue?.path.join('.') || 'rule'} ${issue?.message ?? 'is invalid'}`);
  }
  return parsed.data;
}

/** For a repeatable commander option: `.option('--fault <rule>', '...', collectFaultFlag, [])`. */
export function collectFaultFlag(text: string, previous: ValidFaultRule[] = []): ValidFaultRule[] {
  return [...previous, parseFaultFlag(text)];
}

export function parseThrottleFlag(text: string): ThrottleSettings {
  const [calls, window] = text.split('/');
  const maxCallsPerWindow = Number(calls);
  if (!Number.isInteger(maxCallsPerWindow) || maxCallsPerWindow < 1 || window === undefined) {
    throw new Error(`--throttle '${text}': use <calls>/<window>, e.g. 100/1m`);
  }
  return { maxCallsPerWindow, windowMs: parseDuration(window) };
}
