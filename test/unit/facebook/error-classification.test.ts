import { classifyGraphError, type GraphErrorFacts } from '../../../src/facebook';

describe('classifyGraphError', () => {
  it.each<[GraphErrorFacts, string, string]>([
    // Transient: retry with backoff.
    [{ httpStatus: 500, code: 1 }, 'retryable', 'transient'],
    [{ httpStatus: 500, code: 1, subcode: 99 }, 'retryable', 'transient'],
    [{ httpStatus: 500, code: 2 }, 'retryable', 'transient'],
    [{ httpStatus: 400, code: 341 }, 'retryable', 'transient'],
    [{ httpStatus: 400, code: 368 }, 'retryable', 'transient'],
    [{ httpStatus: 500, code: 5000 }, 'retryable', 'transient'],
    [{ httpStatus: 400, code: 2650, subcode: 1870145 }, 'retryable', 'audience_update_in_progress'],
    [{ httpStatus: 502 }, 'retryable', 'server_error'],
    [{ httpStatus: 503 }, 'retryable', 'server_error'],
    [{ httpStatus: 400, code: 12345, isTransient: true }, 'retryable', 'transient'],
    // Throttled: wait for the time Meta names.
    [{ httpStatus: 400, code: 4, subcode: 1504022 }, 'throttled', 'rate_limited'],
    [{ httpStatus: 400, code: 17, subcode: 2446079 }, 'throttled', 'rate_limited'],
    [{ httpStatus: 400, code: 32 }, 'throttled', 'rate_limited'],
    [{ httpStatus: 400, code: 613, subcode: 1487742 }, 'throttled', 'rate_limited'],
    [{ httpStatus: 400, code: 80003, subcode: 2446079 }, 'throttled', 'rate_limited'],
    [{ httpStatus: 400, code: 80004 }, 'throttled', 'rate_limited'],
    [{ httpStatus: 400, code: 80000 }, 'throttled', 'rate_limited'],
    [{ httpStatus: 400, code: 80014 }, 'throttled', 'rate_limited'],
    [{ httpStatus: 429 }, 'throttled', 'rate_limited'],
    // Needs a person: retrying cannot help.
    [{ httpStatus: 400, code: 190 }, 'needs_person', 'access_token_invalid'],
    [{ httpStatus: 400, code: 190, subcode: 460 }, 'needs_person', 'access_token_invalid'],
    [{ httpStatus: 400, code: 190, subcode: 463 }, 'needs_person', 'access_token_invalid'],
    [{ httpStatus: 400, code: 102 }, 'needs_person', 'access_token_invalid'],
    [{ httpStatus: 400, code: 104 }, 'needs_person', 'access_token_missing'],
    [{ httpStatus: 403, code: 10 }, 'needs_person', 'permission_denied'],
    [{ httpStatus: 403, code: 200 }, 'needs_person', 'permission_denied'],
    [{ httpStatus: 403, code: 299 }, 'needs_person', 'permission_denied'],
    [{ httpStatus: 403, code: 200, subcode: 1870034 }, 'needs_person', 'custom_audience_terms_not_accepted'],
    [{ httpStatus: 403, code: 200, subcode: 1870090 }, 'needs_person', 'custom_audience_terms_not_accepted'],
    [{ httpStatus: 403, code: 200, subcode: 1870092 }, 'needs_person', 'business_tools_terms_not_accepted'],
    [{ httpStatus: 403, code: 200, subcode: 1870050 }, 'needs_person', 'ad_account_not_linked'],
    [{ httpStatus: 400, code: 294 }, 'needs_person', 'permission_denied'],
    [{ httpStatus: 400, code: 270 }, 'needs_person', 'app_not_approved'],
    [{ httpStatus: 400, code: 613 }, 'needs_person', 'abuse_prevention'],
    [{ httpStatus: 400, code: 100, subcode: 1713230 }, 'needs_person', 'audience_flagged'],
    [{ httpStatus: 400, code: 100, subcode: 1713231 }, 'needs_person', 'audience_flagged'],
    [{ httpStatus: 400, code: 100, subcode: 1713228 }, 'needs_person', 'audience_flagged'],
    [{ httpStatus: 400, code: 2635 }, 'needs_person', 'api_version_deprecated'],
    [{ httpStatus: 400, code: 2654, subcode: 1713092 }, 'needs_person', 'create_not_permitted'],
    [{ httpStatus: 400, code: 2656 }, 'needs_person', 'lookalikes_block_delete'],
    // The audience is gone.
    [{ httpStatus: 400, code: 100, subcode: 33 }, 'audience_gone', 'audience_not_found'],
    [{ httpStatus: 400, code: 100, subcode: 1487366 }, 'audience_gone', 'audience_not_found'],
    [{ httpStatus: 400, code: 2650, subcode: 1487301 }, 'audience_gone', 'audience_not_found'],
    // The request itself is wrong.
    [{ httpStatus: 403, code: 200, subcode: 1870047 }, 'invalid_request', 'audience_size_too_low'],
    [{ httpStatus: 400, code: 100 }, 'invalid_request', 'invalid_parameter'],
    [{ httpStatus: 400, code: 105 }, 'invalid_request', 'invalid_parameter'],
    [{ httpStatus: 400, code: 194 }, 'invalid_request', 'invalid_parameter'],
    [{ httpStatus: 400, code: 2650 }, 'invalid_request', 'audience_update_failed'],
    // usersreplace's subcodes, each with its own way on (reference §4).
    [{ httpStatus: 400, code: 2650, subcode: 1870145 }, 'retryable', 'audience_update_in_progress'],
    [{ httpStatus: 400, code: 2650, subcode: 1870147 }, 'invalid_request', 'replace_not_started'],
    [{ httpStatus: 400, code: 2650, subcode: 1870158 }, 'invalid_request', 'replace_session_ended'],
    [{ httpStatus: 400, code: 2650, subcode: 1870159 }, 'invalid_request', 'replace_session_ended'],
    [{ httpStatus: 400, code: 2650, subcode: 1870148 }, 'retryable', 'replace_failed'],
    [{ httpStatus: 400, code: 2650, subcode: 1870144 }, 'invalid_request', 'replace_too_large'],
    [{ httpStatus: 404 }, 'invalid_request', 'invalid_parameter'],
    // A known code decides even when the HTTP status suggests otherwise.
    [{ httpStatus: 500, code: 100 }, 'invalid_request', 'invalid_parameter'],
    [{ httpStatus: 500, code: 190, isTransient: true }, 'needs_person', 'access_token_invalid'],
  ])('%j is %s (%s)', (facts, kind, name) => {
    expect(classifyGraphError(facts)).toMatchObject({ kind, name });
  });

  it('gives every classification a sentence for an operator', () => {
    const reason = classifyGraphError({ httpStatus: 403, code: 200, subcode: 1870034 }).reason;
    expect(reason).toMatch(/Terms/);
    expect(reason).toContain('https://business.facebook.com/ads/manage/customaudiences/tos/');
  });

  it('names a longer default wait for the 613 score limit than for other limits', () => {
    expect(classifyGraphError({ code: 613, subcode: 1487742 }).defaultRetryAfterMs).toBe(300_000);
    expect(classifyGraphError({ code: 80003, subcode: 2446079 }).defaultRetryAfterMs).toBe(60_000);
  });
});
