import { GraphApiError, redactSensitiveText } from '../../../src/facebook';
import { graphApiErrorFromResponse, graphApiErrorWithoutAnswer } from '../../../src/facebook/graph-error';

const TOKEN = 'EAABwzLixnjYBAKZCZBZAabcdefghijklmnop123';
const HASH = 'f1904cf1a9d73a55fa5de0ac823c4403ded71afd4c3248d00bdcd0866552bb79';
const ENDPOINT = 'POST /v27.0/23850000000000001/users';

describe('redactSensitiveText', () => {
  it.each([
    ['the configured token', `token ${TOKEN} is bad`, TOKEN],
    ['another Meta token', 'bad token EAAGm0PX4ZCpsBAOtherTokenValue1234', 'EAAGm0PX4ZCpsBAOtherTokenValue1234'],
    ['an access_token parameter', 'GET /v27.0/me?access_token=abc123secret&fields=id', 'abc123secret'],
    ['an email', 'row for Mary.Smith+ads@example.co.uk failed', 'Mary.Smith+ads@example.co.uk'],
    ['a SHA-256 hash', `value ${HASH} invalid`, HASH],
    ['a phone number', 'phone +1 (555) 987-6543 invalid', '987-6543'],
    ['a digit run', 'phone 15559876543 invalid', '15559876543'],
  ])('removes %s', (_case, text, secret) => {
    const redacted = redactSensitiveText(text, [TOKEN]);
    expect(redacted).not.toContain(secret);
    expect(redacted.length).toBeGreaterThan(0);
  });

  it('keeps ordinary text and short numbers', () => {
    expect(redactSensitiveText('(#100) Missing parameter(s): customer_file_source')).toBe('(#100) Missing parameter(s): customer_file_source');
    expect(redactSensitiveText('(#80003) There have been too many calls')).toBe('(#80003) There have been too many calls');
  });

  it('caps the length', () => {
    expect(redactSensitiveText('x'.repeat(1000)).length).toBeLessThanOrEqual(301);
  });
});

describe('GraphApiError from a response', () => {
  const fromBody = (httpStatus: number, body: Record<string, unknown>, headerRetryAfterMs?: number) =>
    graphApiErrorFromResponse({ endpoint: ENDPOINT, httpStatus, body, headerRetryAfterMs, secrets: [TOKEN] });

  it('carries the structured facts and builds its message from them', () => {
    const error = fromBody(400, { message: '(#2650) Failed to update the custom audience', type: 'OAuthException', code: 2650, fbtrace_id: 'AbC123xyz' });
    expect(error).toBeInstanceOf(GraphApiError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ kind: 'invalid_request', httpStatus: 400, code: 2650, type: 'OAuthException', fbtraceId: 'AbC123xyz', endpoint: ENDPOINT });
    expect(error.message).toContain(ENDPOINT);
    expect(error.message).toContain('code 2650');
    expect(error.message).toContain('fbtrace_id AbC123xyz');
    expect(error.reason.length).toBeGreaterThan(20);
  });

  it('never puts the token, an email or a hash from Meta\'s message into its own', () => {
    const error = fromBody(400, {
      message: `Invalid value ${HASH} for mary@example.com with token ${TOKEN}`,
      code: 100,
    });
    for (const secret of [TOKEN, HASH, 'mary@example.com']) {
      expect(error.message).not.toContain(secret);
      expect(error.metaMessage).not.toContain(secret);
    }
  });

  it('takes a throttled error\'s wait from the headers, else the default for its code', () => {
    expect(fromBody(400, { code: 80003, error_subcode: 2446079 }, 47 * 60_000).retryAfterMs).toBe(47 * 60_000);
    expect(fromBody(400, { code: 80003, error_subcode: 2446079 }).retryAfterMs).toBe(60_000);
    expect(fromBody(400, { code: 613, error_subcode: 1487742 }).retryAfterMs).toBe(300_000);
    expect(fromBody(400, { code: 100 }, 60_000).retryAfterMs).toBeUndefined();
  });

  it('recognises a removal that would leave the audience too small', () => {
    const error = fromBody(400, { code: 200, error_subcode: 1870047, error_user_title: 'Audience Size too Low' });
    expect(error.wouldLeaveAudienceTooSmall).toBe(true);
    expect(error.subcodeName).toBe('audience_size_too_low');
    expect(fromBody(403, { code: 200, error_subcode: 1870034 }).wouldLeaveAudienceTooSmall).toBe(false);
  });

  it('classifies a body that is not Meta\'s envelope by HTTP status', () => {
    expect(graphApiErrorFromResponse({ endpoint: ENDPOINT, httpStatus: 502, body: undefined, headerRetryAfterMs: undefined, secrets: [] })).toMatchObject({
      kind: 'retryable',
      code: undefined,
    });
  });
});

describe('GraphApiError without an answer', () => {
  it('is retryable and keeps the token out of the detail', () => {
    const error = graphApiErrorWithoutAnswer(ENDPOINT, 'network_error', `ECONNRESET: socket hang up ?access_token=${TOKEN}`, [TOKEN]);
    expect(error).toMatchObject({ kind: 'retryable', subcodeName: 'network_error', httpStatus: undefined, code: undefined });
    expect(error.message).toContain('ECONNRESET');
    expect(error.message).not.toContain(TOKEN);
  });
});
