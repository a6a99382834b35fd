/**
 * `ApplicationFailure.type`s the activities throw and the workflow branches on. Their messages and details
 * carry only codes, counts and sentences for operators: never member data or the access token.
 */
export const FailureType = {
  /** Only a person can fix it (token, terms, permissions, flagged audience); the workflow parks. */
  NeedsPerson: 'NeedsPerson',
  /** The Custom Audience was deleted or is no longer shared; the workflow recreates it and uploads everything. */
  AudienceGone: 'AudienceGone',
  /** Meta rejected our request as malformed: a bug to fix, so the cycle fails loudly. */
  GraphRequestRejected: 'GraphRequestRejected',
  /** The audience's source query failed or timed out; nothing was changed at Meta. */
  SourceQueryFailed: 'SourceQueryFailed',
  /** A cycle's records (its plan, its batches) no longer match our tables, e.g. after a restore; it is computed again. */
  CycleStateLost: 'CycleStateLost',
  /** Our tables contradict themselves or the workflow; retrying cannot help, so the cycle fails at once. */
  StateInvariantBroken: 'StateInvariantBroken',
  /** Another replace of the audience runs at Meta; retried until it has ended. */
  ReplaceRunning: 'ReplaceRunning',
  /** The Custom Audience to adopt, or found from an earlier connection, does not fit this one; the sentence says why. */
  AdoptionRefused: 'AdoptionRefused',
  /** Meta is throttling the ad account; retried after the wait Meta asked for. */
  Throttled: 'Throttled',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Details attached to NeedsPerson failures. */
export interface NeedsPersonDetails {
  reason: string;
  graphCode?: number;
  graphSubcode?: number;
  /** What needs the person: Meta (the default) or the worker's source role, which the parked audience checks instead. */
  cause?: 'source_role';
}
