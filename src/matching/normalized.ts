/**
 * Stable reason codes for a trait value that is not uploaded. They appear in cycle summaries and in the output of
 * `audience-sync normalize`, so existing codes are never renamed.
 *
 * `empty` means nothing usable was there or nothing was left once the rule stripped what it must strip (a blank
 * string, a name of punctuation only, the placeholder phone `+0000000000`): such a value is dropped, never hashed.
 */
export const DROP_REASONS = [
  'empty',
  'invalid_value',
  'invalid_email',
  'invalid_phone',
  'unknown_gender',
  'invalid_date',
  'out_of_range',
  'not_latin',
  'unknown_state',
  'invalid_zip',
  'unknown_country',
  'invalid_madid',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

export type Normalized = { ok: true; value: string } | { ok: false; reason: string };

export function accepted(value: string): Normalized {
  return { ok: true, value };
}

/** One frozen result per reason: rejections are frequent and need no allocation. */
export const REJECTED: Readonly<Record<DropReason, Normalized>> = Object.freeze(
  Object.fromEntries(DROP_REASONS.map((reason) => [reason, Object.freeze({ ok: false, reason })])) as Record<
    DropReason,
    Normalized
  >,
);
