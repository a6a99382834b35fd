/**
 * Why a cycle replaces the audience's whole membership at Meta instead of adding and removing what changed.
 * Kept in our tables until a replace has ended, so a cycle that could not upload (below the minimum, a mass
 * removal to confirm, a failure) leaves the replace to the next one that can.
 */
export type ReplaceReason =
  /** `sync-now --replace`. */
  | 'requested'
  /** The workflow knows the Custom Audience but our tables hold no record of it (a wiped schema). */
  | 'records_missing'
  /** Our tables hold an older record than the workflow last saw (a restored backup). */
  | 'records_older'
  /** Our tables describe another Custom Audience than the one in use. */
  | 'records_of_other_audience'
  /** An audience created by an earlier connection was found at Meta, and our tables hold nothing of it. */
  | 'found_without_records'
  /** An existing Custom Audience was adopted (`connect --custom-audience-id`). */
  | 'adopted'
  /** The audience's periodic reconciliation came due (`connect --reconcile-every`). */
  | 'reconcile'
  /** The rows' schema changed (Limited Data Use turned on or off): Meta takes the new one only in a replace. */
  | 'schema_changed';

const WHY: Record<ReplaceReason, string> = {
  requested: 'an operator asked for it (sync-now --replace)',
  records_missing: "audience-sync had no record of the audience's members (its tables were wiped)",
  records_older:
    "audience-sync's record of the audience's members was older than its last cycle (its tables were restored from a backup)",
  records_of_other_audience: "audience-sync's record of the audience's members described another Custom Audience",
  found_without_records:
    'the Custom Audience from an earlier connection was found at Meta, and audience-sync had no record of its members',
  adopted: 'the Custom Audience was adopted (connect --custom-audience-id), and what it held before is not known',
  reconcile: 'its periodic reconciliation was due (connect --reconcile-every)',
  schema_changed: "its rows' schema changed (Limited Data Use was turned on or off), which Meta takes only in a replace",
};

/** Reasons for which members may have left while audience-sync could not tell. */
const LOST_RECORDS: readonly ReplaceReason[] = ['records_missing', 'records_older', 'records_of_other_audience', 'found_without_records'];

export function isReplaceReason(value: unknown): value is ReplaceReason {
  return typeof value === 'string' && value in WHY;
}

/** The history line of a cycle that replaced: what it did and why. */
export function replacedMessage(reason: ReplaceReason, rows: number): string {
  const lost = LOST_RECORDS.includes(reason) ? '; whoever left the audience meanwhile is no longer in it' : '';
  return `Replaced the audience's whole membership at Meta with its ${rows} current rows because ${WHY[reason]}${lost}.`;
}

/** Why the next cycle that uploads will replace, for a cycle that could not. */
export function replacePendingMessage(reason: ReplaceReason): string {
  return `The next cycle that uploads replaces the audience's whole membership at Meta because ${WHY[reason]}.`;
}
