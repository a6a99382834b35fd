/**
 * What a caller should do about a Graph API error, decided from code and subcode only (Meta: "branch on code and
 * subcode, never on message text"; reference §9 and §12).
 */

export type GraphErrorKind = 'retryable' | 'throttled' | 'needs_person' | 'audience_gone' | 'invalid_request';

/** Names for the cases a caller may want to tell apart within a kind. */
export type GraphErrorName =
  | 'transient'
  | 'audience_update_in_progress'
  | 'network_error'
  | 'timeout'
  | 'server_error'
  | 'malformed_response'
  | 'rate_limited'
  | 'abuse_prevention'
  | 'access_token_invalid'
  | 'access_token_missing'
  | 'permission_denied'
  | 'custom_audience_terms_not_accepted'
  | 'business_tools_terms_not_accepted'
  | 'ad_account_not_linked'
  | 'app_not_approved'
  | 'api_version_deprecated'
  | 'audience_flagged'
  | 'create_not_permitted'
  | 'lookalikes_block_delete'
  | 'audience_not_found'
  | 'audience_size_too_low'
  | 'audience_update_failed'
  | 'replace_not_started'
  | 'replace_session_ended'
  | 'replace_failed'
  | 'replace_too_large'
  | 'invalid_parameter';

export interface GraphErrorFacts {
  httpStatus?: number;
  code?: number;
  subcode?: number;
  /** Meta's `is_transient` flag; consulted only for codes this table does not know. */
  isTransient?: boolean;
}

export interface GraphErrorClassification {
  kind: GraphErrorKind;
  name: GraphErrorName;
  /** One sentence for an operator: what happened and what to do. */
  reason: string;
  /** Wait to use when a throttled answer's usage headers name none. */
  defaultRetryAfterMs?: number;
}

export const DEFAULT_THROTTLE_WAIT_MS = 60_000;
/** 613 is the per-account score limit whose block lasts 300 s on the limited tier (reference §8). */
export const ACCOUNT_SCORE_THROTTLE_WAIT_MS = 5 * 60_000;

interface ClassificationRule extends GraphErrorClassification {
  matches(facts: GraphErrorFacts & { code: number }): boolean;
}

const codeIn =
  (...codes: number[]) =>
  ({ code }: { code: number }) =>
    codes.includes(code);
const codeAndSubcodeIn =
  (code: number, ...subcodes: number[]) =>
  (facts: GraphErrorFacts) =>
    facts.code === code && facts.subcode !== undefined && subcodes.includes(facts.subcode);

/** First match wins, so specific code/subcode pairs come before the code families they belong to. */
const RULES: readonly ClassificationRule[] = [
  {
    // RudderStack's mapping of these subcodes (reference §9); they may arrive under more than one code.
    matches: (facts) => facts.subcode === 1487366 || facts.subcode === 1487301,
    kind: 'audience_gone',
    name: 'audience_not_found',
    reason: 'The Custom Audience has been deleted or is no longer shared with this ad account; re-create or re-link it.',
  },
  {
    matches: codeAndSubcodeIn(100, 33),
    kind: 'audience_gone',
    name: 'audience_not_found',
    reason:
      'The object does not exist or this token cannot see it: the audience was deleted or expired, is not shared, ' +
      'or the system user was removed from the ad account; re-create or re-link it.',
  },
  {
    matches: codeAndSubcodeIn(100, 1713230, 1713231, 1713228),
    kind: 'needs_person',
    name: 'audience_flagged',
    reason: 'Meta flagged the audience for its integrity policy (operation_status 471) and blocks edits; a person must review or appeal it.',
  },
  {
    matches: codeAndSubcodeIn(200, 1870047),
    kind: 'invalid_request',
    name: 'audience_size_too_low',
    reason: 'Meta refused the removal because it would leave the audience too small; skip these removals or replace the audience.',
  },
  {
    matches: codeAndSubcodeIn(200, 1870034, 1870090),
    kind: 'needs_person',
    name: 'custom_audience_terms_not_accepted',
    reason:
      "The business has not accepted Meta's Custom Audience Terms; a non-system user must accept them at " +
      'https://business.facebook.com/ads/manage/customaudiences/tos/?act=<AD_ACCOUNT_ID>.',
  },
  {
    matches: codeAndSubcodeIn(200, 1870092),
    kind: 'needs_person',
    name: 'business_tools_terms_not_accepted',
    reason: "The business has not accepted Meta's Business Tools Terms; a person must accept them in Business Manager.",
  },
  {
    matches: codeAndSubcodeIn(200, 1870050),
    kind: 'needs_person',
    name: 'ad_account_not_linked',
    reason: 'The ad account is not linked to the Business Manager that owns the token; a person must link it.',
  },
  {
    // Without a subcode, 613 is abuse prevention: the quota was cut and only Meta can restore it (reference §8).
    matches: (facts) => facts.code === 613 && facts.subcode === undefined,
    kind: 'needs_person',
    name: 'abuse_prevention',
    reason: "Meta's abuse prevention cut this account's call quota (613 without subcode); contact Meta before retrying.",
  },
  {
    matches: codeIn(613),
    kind: 'throttled',
    name: 'rate_limited',
    reason: "The ad account's call rate limit was reached; wait before calling again, further calls extend the block.",
    defaultRetryAfterMs: ACCOUNT_SCORE_THROTTLE_WAIT_MS,
  },
  {
    matches: codeIn(4, 17, 32, 80000, 80003, 80004, 80014),
    kind: 'throttled',
    name: 'rate_limited',
    reason: 'A Meta rate limit was reached; wait for the time Meta names before calling again, further calls extend the block.',
    defaultRetryAfterMs: DEFAULT_THROTTLE_WAIT_MS,
  },
  {
    matches: codeIn(104),
    kind: 'needs_person',
    name: 'access_token_missing',
    reason: 'No access token reached Meta; configure FB_ACCESS_TOKEN.',
  },
  {
    matches: codeIn(190, 102),
    kind: 'needs_person',
    name: 'access_token_invalid',
    reason:
      'The access token is expired, revoked or invalid (for example after a password change); a person must issue a new token.',
  },
  {
    matches: codeIn(294),
    kind: 'needs_person',
    name: 'permission_denied',
    reason: 'The app lacks the ads_management permission or is not allow-listed for this API; a person must grant access.',
  },
  {
    matches: codeIn(270),
    kind: 'needs_person',
    name: 'app_not_approved',
    reason:
      'The app has development access only; the token user must administer both the app and the ad account, or the app needs a higher access tier.',
  },
  {
    matches: (facts) => facts.code === 10 || (facts.code >= 200 && facts.code <= 299),
    kind: 'needs_person',
    name: 'permission_denied',
    reason: 'Meta denied permission for this action; a person must grant the token access to the ad account or audience.',
  },
  {
    matches: codeIn(2635),
    kind: 'needs_person',
    name: 'api_version_deprecated',
    reason: 'The Marketing API version is deprecated or expired; upgrade FB_API_VERSION.',
  },
  {
    matches: codeIn(2654),
    kind: 'needs_person',
    name: 'create_not_permitted',
    reason: 'Meta refused to create the audience: the token has no write permission on the ad account.',
  },
  {
    matches: codeIn(2656),
    kind: 'needs_person',
    name: 'lookalikes_block_delete',
    reason: 'The audience has lookalike audiences built from it; a person must delete those first.',
  },
  {
    matches: codeAndSubcodeIn(2650, 1870145),
    kind: 'retryable',
    name: 'audience_update_in_progress',
    reason: 'The audience is being updated by another operation; retry once it is back to normal.',
  },
  {
    matches: codeAndSubcodeIn(2650, 1870147),
    kind: 'invalid_request',
    name: 'replace_not_started',
    reason: 'Meta did not see the first batch of the replace session; the replace must start again at batch 1.',
  },
  {
    matches: codeAndSubcodeIn(2650, 1870158, 1870159),
    kind: 'invalid_request',
    name: 'replace_session_ended',
    reason:
      'The replace session had ended (its 90 minutes ran out, or its last batch was sent); the audience holds what the ' +
      'session received, and the rest must be added.',
  },
  {
    matches: codeAndSubcodeIn(2650, 1870148),
    kind: 'retryable',
    name: 'replace_failed',
    reason: 'The replace failed at Meta and the audience may be partly updated; it must be replaced again.',
  },
  {
    matches: codeAndSubcodeIn(2650, 1870144),
    kind: 'invalid_request',
    name: 'replace_too_large',
    reason: 'Meta does not replace an audience of 100 million people or more; add and remove instead.',
  },
  {
    // 368 is a temporary policy block: Meta says wait and retry, and alert if it repeats (the retry policy's limit).
    matches: codeIn(1, 2, 341, 368, 5000),
    kind: 'retryable',
    name: 'transient',
    reason: 'Meta reported a temporary failure; retry with backoff.',
  },
  {
    matches: codeIn(100, 105, 194),
    kind: 'invalid_request',
    name: 'invalid_parameter',
    reason: 'Meta rejected a parameter of the request; this is a bug in the request, retrying will not help.',
  },
  {
    matches: codeIn(2650),
    kind: 'invalid_request',
    name: 'audience_update_failed',
    reason:
      'Meta failed to update the audience, for example because the upload schema differs from the audience\'s first upload.',
  },
];

const TRANSIENT: GraphErrorClassification = {
  kind: 'retryable',
  name: 'transient',
  reason: 'Meta marked the error transient; retry with backoff.',
};
const SERVER_ERROR: GraphErrorClassification = {
  kind: 'retryable',
  name: 'server_error',
  reason: 'Meta answered with a server error; retry with backoff.',
};
const TOO_MANY_REQUESTS: GraphErrorClassification = {
  kind: 'throttled',
  name: 'rate_limited',
  reason: 'The server asked to slow down (HTTP 429); wait before calling again.',
  defaultRetryAfterMs: DEFAULT_THROTTLE_WAIT_MS,
};
const INVALID_PARAMETER: GraphErrorClassification = {
  kind: 'invalid_request',
  name: 'invalid_parameter',
  reason: 'Meta rejected the request as invalid; this is a bug in the request, retrying will not help.',
};

export function classifyGraphError(facts: GraphErrorFacts): GraphErrorClassification {
  const { code } = facts;
  if (code !== undefined) {
    const rule = RULES.find((candidate) => candidate.matches({ ...facts, code }));
    if (rule) {
      const { kind, name, reason, defaultRetryAfterMs } = rule;
      return defaultRetryAfterMs === undefined ? { kind, name, reason } : { kind, name, reason, defaultRetryAfterMs };
    }
    if (facts.isTransient === true) return TRANSIENT;
  }
  const status = facts.httpStatus ?? 0;
  if (status >= 500) return SERVER_ERROR;
  if (status === 429) return TOO_MANY_REQUESTS;
  return INVALID_PARAMETER;
}
