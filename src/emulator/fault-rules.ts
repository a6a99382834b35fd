import { z } from 'zod';

/**
 * Faults are injected per Graph call by rules. A rule says what goes wrong (`fault`), to which calls (`match`),
 * how often (`rate`), and when: for a period (`startAfterMs`, `durationMs`, counted from when the rule was added)
 * and/or for its next N firings (`nextCalls`). Tests, demos and the command line all use these rules.
 *
 * - error:           answer Meta's error envelope with `code`/`subcode` (Meta's text and HTTP status unless given);
 *                    rate-limit codes (4, 17, 32, 613, 80003, 80004) carry the usage headers.
 * - throttle:        an error with a rate-limit code, 80003/2446079 unless `code` says otherwise, whose usage headers
 *                    name `retryAfterMinutes` (default 1) as estimated_time_to_regain_access.
 * - http_5xx:        a bare `httpStatus` (default 503) with a plain-text body, like a proxy in front of Graph.
 * - drop_connection: destroy the socket without answering, `drop: 'before'` the change is applied (default) or
 *                    `'after'` it (a lost acknowledgement).
 * - slow:            wait `delayMs` before handling the call normally; combines with any other fault that fires.
 */

export const FAULT_KINDS = ['error', 'http_5xx', 'drop_connection', 'slow', 'throttle'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const faultMatchSchema = z
  .object({
    /** GET, POST or DELETE. */
    method: z.string().transform((method) => method.toUpperCase()),
    /** Substring of the request path, e.g. "/users" or "/customaudiences". */
    path: z.string().min(1),
    /** Regular expression tested against the request path. */
    pathPattern: z.string().min(1).refine(isValidRegExp, 'not a valid regular expression'),
    /** act_<digits> or <digits>. */
    adAccountId: z.string().regex(/^(act_)?\d+$/).transform((id) => id.replace(/^act_/, '')),
    audienceId: z.string().regex(/^\d+$/),
  })
  .partial()
  .strict();

export const faultRuleSchema = z
  .object({
    fault: z.enum(FAULT_KINDS),
    code: z.number().int().positive().optional(),
    subcode: z.number().int().positive().optional(),
    httpStatus: z.number().int().min(400).max(599).optional(),
    message: z.string().min(1).optional(),
    delayMs: z.number().int().min(0).optional(),
    drop: z.enum(['before', 'after']).optional(),
    retryAfterMinutes: z.number().int().min(0).optional(),
    rate: z.number().min(0).max(1).optional(),
    nextCalls: z.number().int().positive().optional(),
    startAfterMs: z.number().int().min(0).optional(),
    durationMs: z.number().int().positive().optional(),
    match: faultMatchSchema.optional(),
  })
  .strict()
  .superRefine((rule, context) => {
    if (rule.fault === 'error' && rule.code === undefined) {
      context.addIssue({ code: 'custom', path: ['code'], message: 'an error fault needs a code' });
    }
    if (rule.fault === 'slow' && rule.delayMs === undefined) {
      context.addIssue({ code: 'custom', path: ['delayMs'], message: 'a slow fault needs delayMs' });
    }
    if (rule.fault === 'http_5xx' && rule.httpStatus !== undefined && rule.httpStatus < 500) {
      context.addIssue({ code: 'custom', path: ['httpStatus'], message: 'an http_5xx fault needs a 5xx status' });
    }
  });

export type FaultRule = z.input<typeof faultRuleSchema>;
export type ValidFaultRule = z.output<typeof faultRuleSchema>;

export interface ActiveFault {
  id: number;
  rule: ValidFaultRule;
  addedAt: number;
  fired: number;
}

/** What a Graph call looks like to the fault rules. */
export interface CallTarget {
  method: string;
  path: string;
  adAccountId: string | undefined;
  audienceId: string | undefined;
}

export interface FaultDecision {
  /** Sum of the delays of the slow rules that fired. */
  delayMs: number;
  /** The first non-slow rule that fired, if any. */
  fault: ActiveFault | undefined;
}

/** The active fault rules, in the order they were added. */
export class FaultBook {
  private rules: ActiveFault[] = [];
  private nextId = 1;

  constructor(private readonly random: () => number) {}

  add(rules: readonly ValidFaultRule[], now: number): ActiveFault[] {
    const added = rules.map((rule) => ({ id: this.nextId++, rule, addedAt: now, fired: 0 }));
    this.rules.push(...added);
    return added;
  }

  list(now: number): ActiveFault[] {
    this.dropExpired(now);
    return [...this.rules];
  }

  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((active) => active.id !== id);
    return this.rules.length !== before;
  }

  clear(): void {
    this.rules = [];
  }

  decide(call: CallTarget, now: number): FaultDecision {
    this.dropExpired(now);
    const decision: FaultDecision = { delayMs: 0, fault: undefined };
    for (const active of this.rules) {
      const { rule } = active;
      if (rule.fault !== 'slow' && decision.fault) continue;
      if (now < active.addedAt + (rule.startAfterMs ?? 0) || !matches(rule, call)) continue;
      if (this.random() >= (rule.rate ?? 1)) continue;
      active.fired += 1;
      if (rule.fault === 'slow') decision.delayMs += rule.delayMs ?? 0;
      else decision.fault = active;
    }
    this.dropExpired(now);
    return decision;
  }

  private dropExpired(now: number): void {
    this.rules = this.rules.filter(({ rule, addedAt, fired }) => {
      if (rule.nextCalls !== undefined && fired >= rule.nextCalls) return false;
      return rule.durationMs === undefined || now < addedAt + (rule.startAfterMs ?? 0) + rule.durationMs;
    });
  }
}

function matches(rule: ValidFaultRule, call: CallTarget): boolean {
  const match = rule.match;
  if (!match) return true;
  if (match.method !== undefined && match.method !== call.method) return false;
  if (match.path !== undefined && !call.path.includes(match.path)) return false;
  if (match.pathPattern !== undefined && !new RegExp(match.pathPattern).test(call.path)) return false;
  if (match.adAccountId !== undefined && match.adAccountId !== call.adAccountId) return false;
  return match.audienceId === undefined || match.audienceId === call.audienceId;
}

function isValidRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
